#!/usr/bin/env bash
# Makes the base images of deploy/Dockerfile and the compose stack available on a machine
# that reaches no container registry: builds the local stand-ins (../shared/docker) when the
# images are missing, and repairs a stand-in Node image whose CA bundle is missing (its
# NODE_EXTRA_CA_CERTS then points at nothing and npm fails TLS through the local proxy).
# Idempotent; prints what it did.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
node_image=${NODE_IMAGE:-node:24-bookworm-slim}
standin=${ARB_STANDIN_SCRIPT:-$here/../../shared/docker/standin-images.sh}

missing=""
for img in "$node_image" "${ARB_NATS_IMAGE:-nats:2.9}" "${ARB_DB_IMAGE:-postgres:15}"; do
  docker image inspect "$img" >/dev/null 2>&1 || missing="$missing $img"
done
if ! docker info >/dev/null 2>&1 || [ -n "$missing" ]; then
  if [ -x "$standin" ] || [ -f "$standin" ]; then
    echo "base-images: building local stand-ins for:${missing:- (docker not running)}"
    bash "$standin"
  else
    echo "base-images: missing${missing} and no stand-in script at $standin" >&2
    exit 1
  fi
fi

ca=$(docker run --rm --entrypoint sh "$node_image" -c 'echo "${NODE_EXTRA_CA_CERTS:-}"; [ -s "${NODE_EXTRA_CA_CERTS:-/nonexistent}" ] && echo present || echo absent')
path=$(echo "$ca" | head -1)
if [ -n "$path" ] && [ "$(echo "$ca" | tail -1)" = absent ] && [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  echo "base-images: $node_image lacks its CA bundle ($path); adding this machine's"
  ctx=$(mktemp -d)
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca.crt"
  printf 'FROM %s\nCOPY ca.crt %s\n' "$node_image" "$path" > "$ctx/Dockerfile"
  docker build -q -t "$node_image" "$ctx" >/dev/null
  rm -rf "$ctx"
fi
echo "base-images: ready ($node_image, ${ARB_NATS_IMAGE:-nats:2.9}, ${ARB_DB_IMAGE:-postgres:15})"
