// A process that logs more than a pipe holds, then stops on SIGTERM through onShutdown: the test
// reads nothing until the signal, so log writes are still pending when the process exits.
import { createLogger, onShutdown } from '../src/index.js'

const LINES = Number(process.argv[2] ?? 2000)
const log = createLogger({ service: 'chatty' })
onShutdown(log, [])
const filler = 'x'.repeat(100)
for (let i = 0; i < LINES; i++) log.info({ i, filler }, 'line')
process.stderr.write('logged\n')
// Alive until the signal.
setInterval(() => {}, 1000)
