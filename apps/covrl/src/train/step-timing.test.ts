/**
 * Per-phase timing of every method's step reaches the run log beside the metrics, never inside
 * them, and the progress line names the method's reward unit (issues 14 and 15).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { METHODS } from '../methods/index.js';
import { randomTinyBase, tinyConfig } from '../testing/tiny-run.js';
import { train } from './trainer.js';

const dir = mkdtempSync(join(tmpdir(), 'covrl-timing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const UNITS: Readonly<Record<string, RegExp>> = {
  covrl: /reward -?\d+\.\d{3} \(log p\(y\), nats ≤ 0\)/,
  verifree: /reward \d+\.\d{3} \(p\(y\) 0\.\.1\)/,
  rlpr: /reward -?\d+\.\d{3} \(debiased p\(y\) \+ format, ≤ 1\)/,
  grpo: /reward \d+\.\d{3} \(verifier 0\.\.1\)/,
};

describe('step timing and reward units', () => {
  it.each(METHODS)(
    '%s: timing beside the metrics, the unit on the progress line',
    async (method) => {
      const baseDir = await randomTinyBase(join(dir, `base-${method}`));
      const runDir = join(dir, method);
      const lines: string[] = [];
      const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
        lines.push(String(chunk));
        return true;
      });
      try {
        const config = tinyConfig(method, { 'train.steps': '2' });
        const out = await train({ config, baseDir, runDir, command: 't', finalEval: false });
        out.model.dispose();
      } finally {
        spy.mockRestore();
      }
      const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map(
          (l) =>
            JSON.parse(l) as { type: string; metrics?: object; timing?: Record<string, number> },
        )
        .filter((r) => r.type === 'step');
      expect(steps).toHaveLength(2);
      for (const s of steps) {
        const t = s.timing ?? {};
        expect(t['time/step_s']).toBeGreaterThan(0);
        expect(t['time/sample_s']).toBeGreaterThan(0);
        expect(t['time/update_s']).toBeGreaterThan(0);
        expect(t['time/step_s']).toBeGreaterThanOrEqual(
          (t['time/sample_s'] ?? 0) + (t['time/update_s'] ?? 0),
        );
        expect(t['compute/sampled_tokens']).toBeGreaterThan(0);
        expect(t['compute/updates']).toBeGreaterThanOrEqual(1);
        expect(
          Object.keys(s.metrics ?? {}).filter((k) => /^(time|compute|throughput)\//.test(k)),
        ).toEqual([]);
      }
      expect(lines.join('')).toMatch(UNITS[method] as RegExp);
      expect(lines.join('')).toMatch(/\| \d+\.\ds: sample \d+\.\d score \d+\.\d update \d+\.\d/);
    },
  );
});
