/** The two clocks a gateway reads; injectable so tests can pin them. */
export interface GatewayClock {
  /** Monotonic ms: schedules, heartbeats, rate limits. Never jumps with NTP. */
  nowMs(): number;
  /** Wall clock, seconds since the epoch (float): `timestamp` of replies. */
  epochSeconds(): number;
}

export const systemClock: GatewayClock = {
  nowMs: () => performance.now(),
  epochSeconds: () => Date.now() / 1000,
};
