import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { formatSelection, selectBackend } from './backend.js';

describe('selectBackend', () => {
  afterEach(async () => {
    await tf.setBackend('cpu');
  });

  it('picks wasm automatically when the native backends are not installed, and says why', async () => {
    const selection = await selectBackend(undefined, {});
    expect(selection.source).toBe('auto');
    expect(selection.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const byChoice = Object.fromEntries(selection.attempts.map((a) => [a.choice, a]));
    expect(byChoice['node-gpu']?.reason).toBe('not installed');
    expect(byChoice['node']?.reason).toBe('not installed');
    expect(byChoice['cpu']?.reason).toMatch(/not needed: wasm/);
    const text = formatSelection(selection);
    expect(text).toMatch(/^backend: wasm/);
    expect(text).toMatch(/node-gpu\s+skipped: not installed/);
  });

  it('honours COVRL_BACKEND and the explicit flag, flag first', async () => {
    const fromEnv = await selectBackend(undefined, { COVRL_BACKEND: 'cpu' });
    expect(fromEnv).toMatchObject({ backend: 'cpu', source: 'env' });
    const fromFlag = await selectBackend('wasm', { COVRL_BACKEND: 'cpu' });
    expect(fromFlag).toMatchObject({ backend: 'wasm', source: 'flag' });
  });

  it('fails loudly on an unknown or unavailable explicit backend', async () => {
    await expect(selectBackend('webgl2', {})).rejects.toThrow(
      /--backend: unknown backend 'webgl2'/,
    );
    await expect(selectBackend(undefined, { COVRL_BACKEND: 'node' })).rejects.toThrow(
      /COVRL_BACKEND=node: backend could not be activated: not installed/,
    );
  });
});
