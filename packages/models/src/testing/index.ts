/**
 * Fixtures for tests of packages that use `@covrl/models`: tiny configs of both families.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defaultModelConfig } from '../config.js';
import type { ModelConfig } from '../config.js';

/** A tiny GPT-2 config (V 16, D 16, 2 layers, 2 heads, context 32): milliseconds per step on cpu. */
export function tinyGpt2Config(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return defaultModelConfig('gpt2', {
    vocabSize: 16,
    dModel: 16,
    nLayers: 2,
    nHeads: 2,
    dFf: 32,
    maxContext: 32,
    ...overrides,
  });
}

/**
 * A tiny Llama config with grouped-query attention (4 query heads, 2 key/value heads), RoPE and
 * an untied head (V 16, D 16, 2 layers, context 32).
 */
export function tinyLlamaConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return defaultModelConfig('llama', {
    vocabSize: 16,
    dModel: 16,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    dFf: 24,
    maxContext: 32,
    tieEmbeddings: false,
    ...overrides,
  });
}

/**
 * Run `fn` with TF.js's `IS_TEST` kernel leak check off when the backend is wasm, restoring it
 * afterwards. Under `IS_TEST` the engine counts data ids around every custom-gradient op; on wasm
 * the tensors such an op saves for its backward pass are copies (the wasm `Identity` kernel
 * copies), which that check misreads as leaks. Use it around gradient computations in tests that
 * may run with `COVRL_TEST_BACKEND=wasm`; real leaks are still caught by `tf.memory()` checks.
 */
export async function withWasmCustomGradSaves<T>(fn: () => T | Promise<T>): Promise<T> {
  const isTest = tf.env().getBool('IS_TEST');
  const off = tf.getBackend() === 'wasm' && isTest;
  if (off) tf.env().set('IS_TEST', false);
  try {
    return await fn();
  } finally {
    if (off) tf.env().set('IS_TEST', isTest);
  }
}
