/**
 * `npm run bench -- [--json] [--quick]`: the reference training step and KV-cache sampling with
 * the BLAS engine off and on, each as a ratio to PyTorch (one thread) measured in the same run,
 * MFU, matmul throughput with and without the engine, and a per-kernel profile of one training
 * step. The last line printed is one JSON object with every number.
 *
 * PyTorch is Debian's `python3-torch` (with `libopenblas0-pthread`), run as `/usr/bin/python3
 * benchmarks/torch/reference.py`; when it is not installed the ratios are `null` and the reason is
 * recorded.
 */
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import {
  disableWasmBlas,
  enableWasmBlas,
  profileKernels,
  wasmBlasStatus,
} from '@covrl/tfjs-wasm-blas';
import { computeGradients, createAdamW, createCausalLM } from '@covrl/models';
import { referenceModelConfig, runModelBench } from './model-bench.js';
import type { ModelBenchResult } from './model-bench.js';
import { runBlasBench } from './blas-bench.js';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const log = (line: string): void => {
  if (!json) console.error(line);
};

interface TorchResult {
  readonly torch: string;
  readonly train: { readonly secondsPerStep: number; readonly tokensPerSecond: number };
  readonly sampling: readonly { readonly batch: number; readonly tokensPerSecond: number }[];
}

function runTorch(steps: number): { result: TorchResult | null; reason: string } {
  const script = fileURLToPath(new URL('../torch/reference.py', import.meta.url));
  try {
    const out = execFileSync(
      '/usr/bin/python3',
      [script, '--threads', '1', '--steps', String(steps)],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 600_000,
      },
    );
    const last = out.trim().split('\n').pop() ?? '';
    return { result: JSON.parse(last) as TorchResult, reason: '' };
  } catch (error) {
    const msg = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    return {
      result: null,
      reason: `PyTorch reference unavailable (${msg}); apt-get install python3-torch libopenblas0-pthread`,
    };
  }
}

/** Kernel time of one training step of the reference model, top 12 kernels. */
async function profileStep(): Promise<unknown> {
  const model = createCausalLM(referenceModelConfig(), {
    seed: 0,
    matMulGradient: wasmBlasStatus().active ? 'flags' : 'auto',
  });
  const opt = createAdamW({ lr: 1e-4 });
  const ids = Array.from({ length: 16 }, (_, r) =>
    Array.from({ length: 128 }, (_, i) => (r * 7 + i * 13) % 64),
  );
  const step = (): void => {
    const { grads } = computeGradients(model, () => {
      const s = model.scoreTokens({
        sequences: ids,
        spans: { all: ids.map(() => ({ start: 1, length: 127 })) },
      }).all;
      return tf.neg(tf.mean(s.logProbs)) as tf.Scalar;
    });
    opt.step(grads, model.variables(), { lr: 1e-4 });
    tf.dispose(Object.values(grads));
  };
  step();
  const profile = await profileKernels({ fn: () => step(), top: 12 });
  opt.dispose();
  model.dispose();
  return profile;
}

const ratio = (ours: number | undefined, theirs: number | undefined): number | null =>
  ours === undefined || theirs === undefined ? null : ours / theirs;

await tf.setBackend('wasm');
await tf.ready();
const steps = quick ? 2 : 5;
const samplingBatches = [16, 64];

log('benchmark: PyTorch reference (1 thread)');
const torch = runTorch(steps);
if (torch.result === null) log(torch.reason);

log('benchmark: wasm, BLAS engine off');
disableWasmBlas();
const plain: ModelBenchResult = await runModelBench({
  steps,
  samplingBatches,
  matMulGradient: 'auto',
  log,
});
log('benchmark: wasm, BLAS engine on');
const status = enableWasmBlas();
const blas: ModelBenchResult | null = status.active
  ? await runModelBench({ steps, samplingBatches, matMulGradient: 'flags', log })
  : null;
if (!status.active) log(`BLAS engine inactive: ${status.reason}`);

const compareTo = (r: ModelBenchResult | null) =>
  r === null
    ? null
    : {
        trainTimeRatioToTorch: ratio(r.train.secondsPerStep, torch.result?.train.secondsPerStep),
        samplingSpeedRatioToTorch: Object.fromEntries(
          r.sampling.map((s) => [
            `batch${s.batch}`,
            ratio(
              s.tokensPerSecond,
              torch.result?.sampling.find((t) => t.batch === s.batch)?.tokensPerSecond,
            ),
          ]),
        ),
      };

log('benchmark: matmul kernels');
const kernels = await runBlasBench({ budgetMs: quick ? 100 : 300 });
log('benchmark: per-kernel profile of one training step');
const profile = await profileStep();

const result = {
  backend: tf.getBackend(),
  blas: wasmBlasStatus(),
  torch: torch.result,
  torchReason: torch.reason,
  plainWasm: { ...plain, ...compareTo(plain) },
  blasWasm: blas === null ? null : { ...blas, ...compareTo(blas) },
  kernels,
  profile,
};
if (!json) {
  const fmt = (x: number | null | undefined): string =>
    x === null || x === undefined ? 'n/a' : x.toFixed(2);
  console.log(
    `train step: torch ${fmt(torch.result?.train.secondsPerStep)} s, plain wasm ${fmt(plain.train.secondsPerStep)} s (×${fmt(result.plainWasm.trainTimeRatioToTorch)}), BLAS ${fmt(blas?.train.secondsPerStep)} s (×${fmt(result.blasWasm?.trainTimeRatioToTorch)})`,
  );
}
console.log(JSON.stringify(result));
