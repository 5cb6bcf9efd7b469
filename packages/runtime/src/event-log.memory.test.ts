/**
 * The in-process event log holds what its contract keeps and no more: under
 * steady traffic with a fresh Idempotency-Key per request (as reporters send),
 * entries stay within the retention and replies within their TTL.
 */
import type { PulseEvent } from '@pulse/protocol';
import { describe, expect, it } from 'vitest';
import { MemoryEventLog } from './event-log.memory.js';

describe('MemoryEventLog bounds', () => {
  it('keeps entries for the retention and replies for their TTL, however long the traffic runs', async () => {
    let now = 1_700_000_000_000;
    const retentionMs = 150_000;
    const ttlSeconds = 600;
    const log = new MemoryEventLog(retentionMs, () => now);
    const event: PulseEvent = { type: 'node.gauge', ts: now / 1000, node: 'n1', queue_depth: 1 };
    const reply = { status: 202, body: '{"accepted":1,"rejected":[]}' };
    const perSecond = 10;
    // 30 minutes at 10 requests a second, each with its own key.
    for (let i = 0; i < 30 * 60 * perSecond; i++) {
      now += 1000 / perSecond;
      await log.append([event], { key: `k${i}`, reply, ttlSeconds });
    }
    expect(log.size).toBeLessThanOrEqual((retentionMs / 1000) * perSecond + 1);
    expect(log.size).toBeGreaterThan((retentionMs / 1000) * perSecond - 2);
    expect(log.replyCount).toBeLessThanOrEqual(ttlSeconds * perSecond + 10);
    // A key within its TTL is still answered from memory.
    const again = await log.append([event], { key: `k${30 * 60 * perSecond - 1}`, reply, ttlSeconds });
    expect(again.replay).toEqual(reply);
  });
});
