/**
 * One fake OpenAI-compatible server: `node services/fake-openai/dist/main.js`.
 * On SIGTERM it stops accepting, lets running responses finish, exits 0.
 */
import { createLogger, exitOnFatal, loadConfigOrExit, onShutdown } from '@pulse/runtime';
import { fakeOpenAIVars, fakeOptions } from './config.js';
import { createFakeOpenAI } from './server.js';

const config = loadConfigOrExit('fake-openai', fakeOpenAIVars);
const logger = createLogger('fake-openai', config.LOG_LEVEL);
exitOnFatal(logger);

const fake = createFakeOpenAI(fakeOptions(config));
fake.server.on('error', (err) => {
  logger.fatal({ err }, 'cannot listen');
  process.exit(1);
});
const url = await fake.listen(config.PORT, config.HOST);
logger.info({ url, options: fakeOptions(config) }, 'fake OpenAI listening');

onShutdown(logger, config.PULSE_SHUTDOWN_TIMEOUT_MS, async () => {
  await new Promise<void>((resolve) => {
    const sweep = setInterval(() => fake.server.closeIdleConnections(), 50);
    fake.server.close(() => {
      clearInterval(sweep);
      resolve();
    });
  });
});
