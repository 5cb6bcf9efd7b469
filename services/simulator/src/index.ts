/** The simulator as a library, for benchmarks and tests that generate load in-process. */
export { Simulator, type SimulatorOptions, type SimulatorStats } from './simulator.js';
export { planRequest, type PlannedRequest, type TrafficProfile } from './traffic.js';
export { seededRandom, type Random } from './random.js';
export { simulatorVars, type SimulatorConfig } from './config.js';
export { profileOf } from './profile.js';
