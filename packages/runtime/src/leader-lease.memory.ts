import type { Fence } from './event-source.js';
import type { LeaderLease } from './leader-lease.js';

/** The single-process mode's lease: always held, epoch 1. */
export class MemoryLeaderLease implements LeaderLease {
  private readonly fence: Fence = { token: 'memory', epoch: 1 };

  async acquireOrRenew(): Promise<Fence | null> {
    return this.fence;
  }

  async release(): Promise<void> {}
}
