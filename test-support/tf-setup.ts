/**
 * Vitest setup shared by every package: one TF.js engine with gradients and chained ops registered
 * (`@tensorflow/tfjs-core` alone registers none in Node), on the deterministic cpu backend unless
 * `COVRL_TEST_BACKEND` names another (for example `wasm`).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

const backend = process.env['COVRL_TEST_BACKEND'] ?? 'cpu';
// Silence the cpu backend's "install tfjs-node" banner: tests pick their backend on purpose.
// IS_TEST also makes the engine check every kernel and custom-gradient scope for leaked data
// ids, which misfires on wasm for custom-gradient ops that save intermediates for their
// backward pass, so it is set for the cpu backend only.
if (backend === 'cpu') tf.env().set('IS_TEST', true);
await tf.setBackend(backend);
await tf.ready();
