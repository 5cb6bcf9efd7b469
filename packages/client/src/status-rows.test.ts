import { describe, expect, it } from 'vitest';
import type { ViewData } from '@pulse/protocol';
import { SAMPLE_DATA } from '@pulse/test-support/snapshot-data';
import { statusRows } from './status-rows.js';

describe('statusRows', () => {
  it('lists errors/s per status, by code, with each one’s share', () => {
    const data = { error: { ...SAMPLE_DATA.error, by_status: { '503': 0.1, '429': 0.25, '500': 0.15 } } };
    expect(statusRows(data)).toEqual([
      { status: '429', errorsPerSec: 0.25, sharePct: 50 },
      { status: '500', errorsPerSec: 0.15, sharePct: 30 },
      { status: '503', errorsPerSec: 0.1, sharePct: 20 },
    ]);
  });

  it('is empty for a server without the breakdown (version 1) or a view without errors', () => {
    const fakeAi = JSON.parse('{"error": {"errors_per_sec": {}, "total_errors_per_sec": 0.5}}') as ViewData;
    expect(statusRows(fakeAi)).toEqual([]);
    expect(statusRows({})).toEqual([]);
  });
});
