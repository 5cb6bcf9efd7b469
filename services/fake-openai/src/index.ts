export { createFakeOpenAI, type FakeOpenAI, type FakeOpenAIStats } from './server.js';
export type { FakeOpenAIOptions } from './options.js';
export { fakeOpenAIVars } from './config.js';
