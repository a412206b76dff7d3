import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { profileKernels } from './profile-kernels.js';

describe('profileKernels', () => {
  it('counts calls per kernel, sorts by time, honours top, and leaks nothing', async () => {
    const x = tf.ones([64, 64]);
    const before = tf.memory().numTensors;
    const rows = await profileKernels({
      fn: () => tf.tidy(() => tf.add(tf.matMul(tf.matMul(tf.matMul(x, x), x), x), 1)),
    });
    expect(tf.memory().numTensors).toBe(before);
    const matMul = rows.find((row) => row.kernelName === 'BatchMatMul');
    expect(matMul?.calls).toBe(3);
    expect(rows.find((row) => row.kernelName === 'Add')?.calls).toBe(1);
    for (let i = 1; i < rows.length; i += 1) {
      expect(rows[i - 1]!.totalMs).toBeGreaterThanOrEqual(rows[i]!.totalMs);
    }
    // A customGrad scope is listed only with includeScopes (its time double-counts its kernels).
    const square = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const v = args[0] as tf.Tensor;
      return { value: tf.square(v), gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.mul(v, 2)) };
    });
    const names = async (includeScopes: boolean): Promise<string[]> =>
      (
        await profileKernels({ fn: () => tf.tidy(() => square(x) as tf.Tensor), includeScopes })
      ).map((row) => row.kernelName);
    const withScopes = await names(true);
    const kernelsOnly = await names(false);
    expect(kernelsOnly).toEqual(['Square']);
    expect(withScopes.length).toBeGreaterThan(1);
    expect(withScopes).toContain('Square');
    const top1 = await profileKernels({ fn: () => tf.matMul(x, x), top: 1 });
    expect(top1).toHaveLength(1);
    await expect(profileKernels({ fn: () => x, top: 0 })).rejects.toThrow(/profileKernels: top/);
    x.dispose();
  });
});
