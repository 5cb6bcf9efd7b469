/** `pulse` (`npx pulse watch <ws-url> …`, `npx pulse alerts <url>`): parses the command line and runs it. */
import { listAlerts, retryDelivery } from './alerts.js';
import { parseCommand, USAGE } from './args.js';
import { runCommand } from './runs.js';
import { watch } from './watch.js';

// `pulse watch … | head` closes the pipe: that is the reader being done, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

const command = parseCommand(process.argv.slice(2));
switch (command.kind) {
  case 'help':
    process.stdout.write(`${USAGE}\n`);
    break;
  case 'error':
    process.stderr.write(`pulse: ${command.message}\n\n${USAGE}\n`);
    process.exitCode = 2;
    break;
  case 'watch':
    process.exitCode = await watch({ ...command, token: readToken() }, process.stdout, process.stderr);
    break;
  case 'alerts':
    process.exitCode = await listAlerts({ ...command, token: readToken() }, process.stdout, process.stderr);
    break;
  case 'alerts-retry':
    process.exitCode = await retryDelivery({ ...command, token: readToken() }, process.stdout, process.stderr);
    break;
  case 'run-start':
  case 'run-stop':
  case 'run-list':
  case 'run-export':
  case 'annotate':
    // Writes send PULSE_WRITE_TOKEN, or PULSE_TOKEN when it is unset; reads PULSE_TOKEN.
    process.exitCode = await runCommand(command, { read: readToken(), write: process.env.PULSE_WRITE_TOKEN || undefined }, process.stdout, process.stderr);
}

/** The read token, from the environment rather than an option, so it stays out of `ps`. */
function readToken(): string | undefined {
  return process.env.PULSE_TOKEN || undefined;
}
