import { describe, expect, it } from 'vitest';
import { LimitCounters } from './limit-counters.js';

describe('LimitCounters', () => {
  it('lists its reasons at 0 from the start and counts hits, in Prometheus text', async () => {
    const counters = new LimitCounters(['unauthorized', 'body_bytes']);
    counters.hit('unauthorized');
    counters.hit('unauthorized', 2);
    expect(counters.get('unauthorized')).toBe(3);
    expect(await counters.prometheusText()).toBe(
      '# HELP pulse_rejections_total Requests, connections, messages and events refused, by the limit that refused them.\n' +
        '# TYPE pulse_rejections_total counter\n' +
        'pulse_rejections_total{reason="body_bytes"} 0\n' +
        'pulse_rejections_total{reason="unauthorized"} 3\n',
    );
  });
});
