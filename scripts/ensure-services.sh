#!/usr/bin/env bash
# Makes sure NATS (JetStream) and PostgreSQL answer on the URLs the tests and the demo use,
# starting the machine's own servers when they are down. Idempotent: does nothing when both answer.
set -euo pipefail

nats_url=${NATS_URL:-nats://127.0.0.1:4222}
db_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
hostport() { local u=${1#*://}; u=${u#*@}; u=${u%%/*}; u=${u%%,*}; echo "$u"; }
answers() { local hp; hp=$(hostport "$1"); timeout 2 bash -c "exec 3<>/dev/tcp/${hp%:*}/${hp##*:}" 2>/dev/null; }
wait_for() { for _ in $(seq 1 60); do answers "$1" && return 0; sleep 0.5; done; return 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

if answers "$nats_url"; then
  echo "services: NATS answers at $nats_url"
else
  echo "services: NATS does not answer at $nats_url, starting nats-server"
  if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
    as_root apt-get update -qq && as_root apt-get install -y -qq nats-server >/dev/null
  fi
  bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  hp=$(hostport "$nats_url")
  if [ "$(id -u)" = 0 ] && [ "$hp" = 127.0.0.1:4222 ] && command -v start-stop-daemon >/dev/null; then
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec "$bin" -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  else
    dir=${ARB_DATA_DIR:-$PWD/.data}/nats && mkdir -p "$dir"
    nohup "$bin" -a "${hp%:*}" -p "${hp##*:}" -js -sd "$dir" -l "$dir/nats.log" >/dev/null 2>&1 &
  fi
  wait_for "$nats_url" || { echo "services: NATS did not come up" >&2; exit 1; }
  echo "services: NATS started"
fi

if answers "$db_url"; then
  echo "services: PostgreSQL answers at $(hostport "$db_url")"
else
  echo "services: PostgreSQL does not answer at $(hostport "$db_url"), starting the local cluster"
  if command -v pg_ctlcluster >/dev/null; then
    for v in $(ls /etc/postgresql 2>/dev/null); do as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
  else
    echo "services: no local PostgreSQL installation; set DATABASE_URL to a running server" >&2
    exit 1
  fi
  wait_for "$db_url" || { echo "services: PostgreSQL did not come up" >&2; exit 1; }
  echo "services: PostgreSQL started"
fi
