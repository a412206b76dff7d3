#!/usr/bin/env node
// Base-model diagnostics before any RL (issue 12): per split greedy pass@1, avg@k, pass@k, and
// step-correctness of PRIOR- versus POSTERIOR-sampled traces for families with a trace checker.
// Runs on the built app (`npm run build` first). Usage:
//   node apps/covrl/scripts/measure-base.mjs --base <model dir> [--preset study | --config <file>]
//     [--set key=value ...] [--samples 8] [--posterior hard,in-domain] [--max-questions N]
//     [--seed 1] [--json <file>]
// The task (splits) comes from the config, which must be the base's: the script refuses a base
// whose covrl-base.json fingerprint differs (its evaluation questions would not be held out).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const dist = (p) => new URL(`../dist/${p}`, import.meta.url).href;
const { decodeConfig } = await import(dist('config/decode.js'));
const { initRuntime, describeRuntime } = await import(dist('runtime.js'));
const { loadBase, baseFingerprint } = await import(dist('model-io.js'));
const { buildTask, tagsOf } = await import(dist('task.js'));
const { baseDiagnostics, formatDiagnostics } = await import(dist('eval/base-diagnostics.js'));

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    preset: { type: 'string' },
    config: { type: 'string' },
    set: { type: 'string', multiple: true },
    samples: { type: 'string', default: '8' },
    posterior: { type: 'string', default: 'hard' },
    'max-questions': { type: 'string' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
if (values.base === undefined) {
  console.error(
    'measure-base: --base <model dir> is required (a `covrl pretrain --out` directory)',
  );
  process.exit(2);
}
const flags = Object.fromEntries(
  (values.set ?? []).map((kv) => {
    const at = kv.indexOf('=');
    if (at <= 0) throw new Error(`measure-base: --set ${kv}: expected key=value`);
    return [kv.slice(0, at), kv.slice(at + 1)];
  }),
);
const decoded = decodeConfig({
  method: 'covrl',
  ...(values.preset !== undefined ? { preset: values.preset } : {}),
  ...(values.config !== undefined ? { file: values.config } : {}),
  flags,
});
if (decoded._tag === 'Left') {
  console.error(`measure-base: config: ${decoded.left.join('; ')}`);
  process.exit(2);
}
const config = decoded.right;
const seed = Number(values.seed);
const samples = Number(values.samples);
const rt = await initRuntime();
console.error(`backend: ${describeRuntime(rt)}`);
const base = await loadBase(values.base, seed);
if (base.meta?.fingerprint !== baseFingerprint(config)) {
  console.error(
    `measure-base: ${values.base} was not pretrained with this config (covrl-base.json fingerprint differs); pass the config it was made with`,
  );
  process.exit(2);
}
const task = buildTask(config);
const limit = values['max-questions'] === undefined ? Infinity : Number(values['max-questions']);
const splits = Object.fromEntries(
  Object.entries(task.splits).map(([name, xs]) => [name, xs.slice(0, limit)]),
);
const started = Date.now();
const result = await baseDiagnostics({
  policy: base.model,
  tokenizer: base.tokenizer,
  tags: tagsOf(config),
  splits,
  samples,
  temperature: config.eval.temperature,
  maxNewTokens: config.eval.maxNewTokens,
  maxTraceTokens: config.train.maxTraceTokens,
  posteriorSplits: values.posterior.split(',').filter((s) => s !== ''),
  seed,
});
const seconds = Math.round((Date.now() - started) / 1000);
const command = `node apps/covrl/scripts/measure-base.mjs ${process.argv.slice(2).join(' ')}`;
console.log(`# ${command}`);
console.log(
  `# base ${values.base} (step ${base.meta?.step}), k = ${samples}, temperature ${config.eval.temperature}, ${seconds} s`,
);
for (const line of formatDiagnostics(result)) console.log(line);
if (values.json !== undefined) {
  writeFileSync(
    values.json,
    `${JSON.stringify({ command, base: values.base, step: base.meta?.step, samples, seed, seconds, splits: result }, null, 2)}\n`,
  );
}
base.model.dispose();
