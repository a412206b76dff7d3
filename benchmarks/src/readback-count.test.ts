import { describe, expect, it } from 'vitest';
import { readbackCounts } from './readback-count.js';

describe('readbackCounts', () => {
  it('counts one validation read-back per loss call, none with validate: false', () => {
    const rows = readbackCounts();
    expect(rows.map((r) => r.fn)).toEqual(
      expect.arrayContaining(['covrlLoss', 'verifreeLoss', 'rlprLoss', 'grpoLoss']),
    );
    for (const r of rows) {
      expect(r.noMetrics, r.fn).toBe(1);
      expect(r.noMetricsNoValidation, r.fn).toBe(0);
      expect(r.defaults, r.fn).toBeGreaterThanOrEqual(r.noMetrics);
    }
  });
});
