import * as tf from '@tensorflow/tfjs-core';
import { disableWasmFusedKernels } from '@covrl/tfjs-wasm-blas';
import { afterAll, describe, expect, it } from 'vitest';
import { describeRuntime, enableWasmEngine } from './runtime.js';

describe('enableWasmEngine', () => {
  afterAll(() => {
    disableWasmFusedKernels();
  });

  it('registers the fused kernels on wasm and says why each part is (in)active', () => {
    const engine = enableWasmEngine();
    expect(engine.fused.active).toBe(true);
    expect(engine.fused.reason).toMatch(/CovrlAdamW.*registered/);
    expect(tf.getKernel('CovrlAdamW', 'wasm')).toBeDefined();
    expect(typeof engine.blas.reason).toBe('string');
    expect(engine.blas.reason.length).toBeGreaterThan(10);
  });

  it('COVRL_FUSED=0 leaves the stock kernels and the description says so', () => {
    process.env['COVRL_FUSED'] = '0';
    try {
      const engine = enableWasmEngine();
      expect(engine.fused).toEqual({
        active: false,
        reason: 'disabled by COVRL_FUSED=0: the stock wasm kernels run',
      });
      expect(tf.getKernel('CovrlAdamW', 'wasm')).toBeUndefined();
      expect(describeRuntime({ backend: 'wasm', ...engine })).toMatch(
        /fused kernels off: disabled by COVRL_FUSED=0/,
      );
    } finally {
      delete process.env['COVRL_FUSED'];
    }
  });
});
