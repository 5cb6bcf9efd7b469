/** The simulator's node lists: their syntax, and their names against PULSE_SIM_NODES. */
import { describe, expect, it } from 'vitest';
import { parseSimulatorConfig } from './config.js';

const parse = (env: Record<string, string>) => parseSimulatorConfig(env);
const problem = (env: Record<string, string>) => {
  try {
    parse(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
};

describe('PULSE_SIM_SLOW_NODES and PULSE_SIM_FAILING_NODES', () => {
  it('read node:number lists, none by default', () => {
    const none = parse({});
    expect(none.PULSE_SIM_SLOW_NODES.size).toBe(0);
    expect(none.PULSE_SIM_FAILING_NODES.size).toBe(0);
    const config = parse({ PULSE_SIM_NODES: '3', PULSE_SIM_SLOW_NODES: 'fakeai-sim-2:4, fakeai-sim-3:1.5', PULSE_SIM_FAILING_NODES: 'fakeai-sim-3:0.5' });
    expect([...config.PULSE_SIM_SLOW_NODES]).toEqual([['fakeai-sim-2', 4], ['fakeai-sim-3', 1.5]]);
    expect([...config.PULSE_SIM_FAILING_NODES]).toEqual([['fakeai-sim-3', 0.5]]);
  });

  it.each([
    [{ PULSE_SIM_SLOW_NODES: 'fakeai-sim-2' }, /PULSE_SIM_SLOW_NODES: bad item "fakeai-sim-2": node name, a colon and a slowdown factor from 1 to 1000/],
    [{ PULSE_SIM_SLOW_NODES: 'fakeai-sim-2:0.5' }, /PULSE_SIM_SLOW_NODES: bad item "fakeai-sim-2:0.5"/],
    [{ PULSE_SIM_SLOW_NODES: ':4' }, /PULSE_SIM_SLOW_NODES: bad item ":4"/],
    [{ PULSE_SIM_FAILING_NODES: 'fakeai-sim-1:1.5' }, /PULSE_SIM_FAILING_NODES: bad item "fakeai-sim-1:1.5": node name, a colon and an error rate from 0 to 1/],
    [{ PULSE_SIM_FAILING_NODES: 'fakeai-sim-1:lots' }, /PULSE_SIM_FAILING_NODES: bad item "fakeai-sim-1:lots"/],
    [{ PULSE_SIM_FAILING_NODES: 'fakeai-sim-1:0.1,fakeai-sim-1:0.2' }, /PULSE_SIM_FAILING_NODES: fakeai-sim-1 is listed twice/],
  ])('refuse a malformed list (%j)', (env, message) => {
    expect(problem(env)).toMatch(message);
  });

  it('refuse a node that is not simulated, naming the ones that are', () => {
    const message = problem({ PULSE_SIM_NODES: '3', PULSE_SIM_SLOW_NODES: 'fakeai-sim-4:2', PULSE_SIM_FAILING_NODES: 'fakeai-1:0.5' });
    expect(message).toBe(
      'PULSE_SIM_SLOW_NODES: fakeai-sim-4 is not a simulated node (PULSE_SIM_NODES=3: fakeai-sim-1 … fakeai-sim-3); ' +
        'PULSE_SIM_FAILING_NODES: fakeai-1 is not a simulated node (PULSE_SIM_NODES=3: fakeai-sim-1 … fakeai-sim-3)',
    );
  });
});
