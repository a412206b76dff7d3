/**
 * Vitest setup shared by every package: one TF.js engine with gradients and chained ops registered
 * (`@tensorflow/tfjs-core` alone registers none in Node), on the deterministic cpu backend unless
 * `COVRL_TEST_BACKEND` names another (for example `wasm`).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

const backend = process.env['COVRL_TEST_BACKEND'] ?? 'cpu';
// Silence the "install tfjs-node" banner: tests pick their backend on purpose.
tf.env().set('IS_TEST', true);
await tf.setBackend(backend);
await tf.ready();
