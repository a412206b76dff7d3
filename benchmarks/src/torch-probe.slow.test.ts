/**
 * The BLAS probe against this machine's real `/usr/bin/python3` and PyTorch. Slow suite only: it
 * starts a Python process that imports torch (seconds, more on a loaded machine), and what it can
 * assert depends on what is installed. The fast suite tests the verdict on fixed probes
 * (`bench-report.test.ts`).
 */
import { describe, expect, it } from 'vitest';
import { probeTorchBlas, torchBlasVerdict } from './torch-reference.js';

/** Bound on the probe here: a missing or hung Python fails the test quickly, not in 10 minutes. */
const PROBE_TIMEOUT_MS = 60_000;

describe('probeTorchBlas on this machine', () => {
  it(
    'probes the PyTorch of this machine, when there is one',
    () => {
      const { probe, usable, reason } = probeTorchBlas(1, { timeoutMs: PROBE_TIMEOUT_MS });
      if (probe === null) {
        expect(usable).toBe(false);
        expect(reason).toMatch(/apt-get install python3-torch libopenblas0-pthread/);
        return;
      }
      expect(Array.isArray(probe.libraries)).toBe(true);
      expect(probe.probeGflops).toBeGreaterThan(0);
      expect(usable).toBe(torchBlasVerdict(probe, 1).usable);
      // OPENBLAS_NUM_THREADS reaches OpenBLAS (torch.set_num_threads alone does not).
      if (probe.libraries.some((p) => p.includes('openblas')))
        expect(probe.openblasThreads).toBe(1);
    },
    PROBE_TIMEOUT_MS + 15_000,
  );
});
