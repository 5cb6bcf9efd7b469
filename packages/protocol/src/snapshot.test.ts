import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from './binary.js';
import { decodePatch, encodePatch, messageKind, PatchDecoder, type SnapshotPatch } from './patch.js';
import { COUNTER_SLOT, CUMULATIVE_SLOT_COUNT, HISTOGRAM_SLOTS, zeroCumulative } from './cumulative.js';
import { decodeSnapshot, encodeSnapshot, isNewer, type CellData, type InternalSnapshot } from './snapshot.js';

const dist = (counts: number[], offset = -3) => ({ count: counts.reduce((a, b) => a + b, 1), sum: 12.5, min: 0.25, max: 1e6, zeros: 1, offset, counts: Uint32Array.from(counts) });

function cell(node: string, endpoint: string, model: string, n: number): CellData {
  return {
    node,
    endpoint,
    model,
    requests: n,
    responses: n + 1,
    completionTokens: 2 ** 40 + n,
    errors: 1,
    lookups: 3,
    hits: 2,
    cachedTokens: 99,
    lookupPromptTokens: 300,
    prefixSum: 77,
    latency: dist([1, 0, 300, 2 ** 31]),
    ttft: { count: 0, sum: 0, min: 0, max: 0, zeros: 0, offset: 0, counts: new Uint32Array(0) },
    tokensPerSecond: dist([5], 700),
    itl: dist([2, 7], 40),
    queueDepth: 4,
    activeStreams: 2,
    completedStreams: 10,
    failedStreams: 1,
    totalLookups: 2 ** 35,
    totalHits: 6,
    errorsByStatus: n === 1 ? new Map([[500, 3], [429, 1]]) : new Map(),
    errorsByType: n === 1 ? new Map([['timeout', 2], ['ünïcødé error', 1]]) : new Map(),
    sloGood: [n, 0],
    cumulative: cumulative(n),
  };
}

/** Sparse like a real cell's: a few counters and buckets, one beyond 2^32. */
function cumulative(n: number): number[] {
  const slots = zeroCumulative();
  slots[COUNTER_SLOT.requests] = 100 * n;
  slots[COUNTER_SLOT.promptTokens] = 2 ** 40;
  slots[HISTOGRAM_SLOTS.latency.first + 3] = 7;
  slots[HISTOGRAM_SLOTS.itl.sum] = 123_456_789;
  slots[CUMULATIVE_SLOT_COUNT - 1] = n;
  return slots;
}

const snapshot: InternalSnapshot = {
  epoch: 3,
  seq: 3_591_488_700,
  builtAt: 1_795_744_350.5,
  coveredSeconds: 42.5,
  stats: { eventsApplied: 1e9, eventsDropped: 2, labelsFolded: 0 },
  slos: ['interactive', 'batch'],
  nodes: [
    { node: 'fakeai-1', lastSeen: 1_795_744_350.25, queueAdjust: -2, activeAdjust: 5 },
    { node: 'fakeai-2', lastSeen: 1_795_744_349, queueAdjust: 0, activeAdjust: 0 },
  ],
  cells: [cell('fakeai-1', '/v1/chat/completions', 'gpt-4', 1), cell('fakeai-2', '/v1/chat/completions', 'ünïcødé 模型', 2), cell('fakeai-1', '/v1/embeddings', 'gpt-4', 3)],
};

describe('snapshot codec', () => {
  it('round-trips every field exactly', () => {
    expect(decodeSnapshot(encodeSnapshot(snapshot))).toEqual(snapshot);
  });

  it('rejects truncated, foreign and future-version buffers with DecodeError', () => {
    const buf = encodeSnapshot(snapshot);
    for (const cut of [0, 1, 10, buf.length - 1]) expect(() => decodeSnapshot(buf.subarray(0, cut))).toThrow(DecodeError);
    expect(() => decodeSnapshot(Buffer.from('{"json":true}'))).toThrow(DecodeError);
    const future = Buffer.from(buf);
    future[1] = 99;
    expect(() => decodeSnapshot(future)).toThrow(/version 99/);
    expect(() => decodeSnapshot(Buffer.concat([buf, Buffer.from([0])]))).toThrow(/trailing/);
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const b = Buffer.from([0x50, 1, ...bytes]);
        try {
          decodeSnapshot(b);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000, seed: 5 },
    );
  });

  it('orders snapshots by epoch, then seq', () => {
    expect(isNewer({ epoch: 2, seq: 1 }, { epoch: 1, seq: 99 })).toBe(true);
    expect(isNewer({ epoch: 1, seq: 99 }, { epoch: 2, seq: 1 })).toBe(false);
    expect(isNewer({ epoch: 1, seq: 5 }, { epoch: 1, seq: 5 })).toBe(false);
  });
});

describe('patch codec', () => {
  const patch: SnapshotPatch = {
    epoch: 3,
    seq: 3_591_488_701,
    baseSeq: 3_591_488_700,
    builtAt: 1_795_744_351,
    coveredSeconds: 43,
    stats: { eventsApplied: 1e9 + 5, eventsDropped: 2, labelsFolded: 1 },
    nodes: [{ node: 'fakeai-3', lastSeen: 1_795_744_350.9, queueAdjust: 1, activeAdjust: 0 }],
    removedNodes: ['fakeai-2'],
    cells: [
      {
        node: 'fakeai-1',
        endpoint: '/v1/chat/completions',
        model: 'gpt-4',
        numbers: { requests: 7, queueDepth: 0, totalHits: 2 ** 40 },
        keyed: { errorsByStatus: new Map([[503, 1]]), errorsByType: new Map([['overloaded', 1]]), sloGood: [4, 0] },
        cumulative: [0, 101, HISTOGRAM_SLOTS.ttft.first, 2, CUMULATIVE_SLOT_COUNT - 1, 2 ** 33],
        dists: {
          latency: { count: 9, sum: 1234.5, min: 0.5, added: [-1000, 12, 12, 340], removed: [11] },
          itl: { count: 0, sum: 0, added: [], removed: [40, 41] },
        },
      },
      { node: 'fakeai-3', endpoint: '/v1/embeddings', model: 'm', numbers: {}, dists: {} },
    ],
    removedCells: [{ node: 'fakeai-2', endpoint: '/v1/chat/completions', model: 'ünïcødé 模型' }],
  };

  it('round-trips every field exactly, and says which kind of message it is', () => {
    const buf = encodePatch(patch);
    expect(decodePatch(buf)).toEqual(patch);
    expect(messageKind(buf)).toBe('patch');
    expect(messageKind(encodeSnapshot(snapshot))).toBe('snapshot');
    expect(messageKind(Buffer.from('x'))).toBeNull();
  });

  it('decodes patch after patch into one decoder\'s objects, each as a fresh decode gives it', () => {
    const decoder = new PatchDecoder();
    const [first, second] = patch.cells;
    // Fewer cells, then more, each cell in the other's place: every kept object is refilled or cleared.
    const patches: SnapshotPatch[] = [patch, { ...patch, seq: patch.seq + 1, cells: [second!] }, { ...patch, seq: patch.seq + 2, cells: [second!, first!, second!] }];
    for (const p of patches) expect(decoder.decode(encodePatch(p))).toEqual(p);
    const again = decoder.decode(encodePatch(patch));
    expect(again).toEqual(patch);
    // The error maps are new with each decode: a holder may keep them.
    expect(again.cells[0]!.keyed!.errorsByStatus).not.toBe(decoder.decode(encodePatch(patch)).cells[0]!.keyed!.errorsByStatus);
  });

  it('rejects truncated and foreign buffers with DecodeError', () => {
    const buf = encodePatch(patch);
    for (const cut of [0, 1, 10, buf.length - 1]) expect(() => decodePatch(buf.subarray(0, cut))).toThrow(DecodeError);
    expect(() => decodePatch(encodeSnapshot(snapshot))).toThrow(DecodeError);
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const buf = Buffer.concat([Buffer.from([0x51, 1]), Buffer.from(bytes)]);
        try {
          decodePatch(buf);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
