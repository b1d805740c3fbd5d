import { parseConfig, SimulatorConfig } from '@arb/contracts'
import { createLogger, logFatalErrors, onShutdown } from '@arb/observability'
import { startSimulator } from './simulator.js'

const config = parseConfig(SimulatorConfig, process.env)
const log = createLogger({ service: 'simulator', level: config.LOG_LEVEL })
logFatalErrors(log)

startSimulator({ config, log }).then(
  (sim) => {
    log.info({ url: sim.httpUrl, tickMs: config.TICK_MS, seed: config.SEED, pairs: sim.market.pairs }, 'simulator up')
    for (const e of sim.endpoints) {
      log.info({ exchange: e.exchange, url: e.url, streams: e.streams.map((s) => e.url + s) }, 'exchange listening')
    }
    onShutdown(log, [() => sim.close()])
  },
  (err: unknown) => {
    log.fatal({ err }, 'simulator failed to start')
    process.exit(1)
  },
)
