/**
 * One TF.js engine for everything: every `@covrl` package imported beside a user-style
 * `@tensorflow/tfjs` setup (the way the app, and a researcher's own trainer, load TF.js) must run
 * on that user's engine. The packages declare `@tensorflow/tfjs-core` as a peer so that a user's
 * install holds one copy. A second copy is hard to notice at run time: tfjs-core 4 keeps its engine
 * and kernel and gradient registries in globals and duck-types `instanceof Tensor`, so tensors still
 * mix, but there are two `Tensor` classes and, after an upgrade, two versions registering kernels
 * into one registry. So this checks how the packages are declared and resolved (tfjs-core a peer,
 * one file on disk for all of them) as well as what happens at run time (the user's tensors pass
 * through each package's functions, gradients flow back through them, and the packages see the
 * user's kernels, variables and profiler).
 */
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import * as tfCore from '@tensorflow/tfjs-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as data from '@covrl/data';
import * as grpo from '@covrl/grpo';
import * as klEstimators from '@covrl/kl-estimators';
import * as models from '@covrl/models';
import { tinyGpt2Config } from '@covrl/models/testing';
import * as objectives from '@covrl/objectives';
import * as rewards from '@covrl/rewards';
import * as sampler from '@covrl/sampler';
import { charTokenizer } from '@covrl/sampler/testing';
import * as wasmBlas from '@covrl/tfjs-wasm-blas';
import * as utils from '@covrl/utils';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGES = readdirSync(join(root, 'packages'))
  .filter((name) => existsSync(join(root, 'packages', name, 'package.json')))
  .sort();
const IMPORTED: Record<string, object> = {
  data,
  grpo,
  'kl-estimators': klEstimators,
  models,
  objectives,
  rewards,
  sampler,
  'tfjs-wasm-blas': wasmBlas,
  utils,
};

interface Manifest {
  readonly name: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}
const manifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** The real path of the `@tensorflow/tfjs-core` that Node resolves from inside `dir`. */
function coreFrom(dir: string): string {
  const require = createRequire(join(dir, 'package.json'));
  return realpathSync(dirname(require.resolve('@tensorflow/tfjs-core/package.json')));
}

describe('one tfjs-core for the user and every @covrl package', () => {
  it('imports every package under packages/', () => {
    expect(Object.keys(IMPORTED).sort()).toEqual(PACKAGES);
    for (const [name, mod] of Object.entries(IMPORTED)) {
      expect(Object.keys(mod).length, name).toBeGreaterThan(0);
    }
  });

  it('declares @tensorflow/* only as peer dependencies, in a range the installed core satisfies', () => {
    const version = (v: string): [number, number, number] => {
      const m = /^\^?(\d+)\.(\d+)\.(\d+)$/.exec(v);
      if (m === null) throw new Error(`'${v}': this check reads x.y.z versions and ^x.y.z ranges`);
      return [Number(m[1]), Number(m[2]), Number(m[3])];
    };
    const installed = (
      JSON.parse(
        readFileSync(join(root, 'node_modules/@tensorflow/tfjs-core/package.json'), 'utf8'),
      ) as { version: string }
    ).version;
    const [major, minor, patch] = version(installed);
    for (const name of PACKAGES) {
      const pkg = manifest(join(root, 'packages', name));
      for (const field of ['dependencies', 'optionalDependencies'] as const) {
        const tfjs = Object.keys(pkg[field] ?? {}).filter((d) => d.startsWith('@tensorflow/'));
        expect(tfjs, `${pkg.name} ${field}: make them peerDependencies`).toEqual([]);
      }
      const range = pkg.peerDependencies?.['@tensorflow/tfjs-core'];
      if (range === undefined) continue; // a package that does not use TF.js (@covrl/data)
      expect(range, `${pkg.name}: a caret range`).toMatch(/^\^/);
      const [a, b, c] = version(range);
      const satisfied = major === a && (minor > b || (minor === b && patch >= c));
      expect(satisfied, `${pkg.name}: ${range} vs installed ${installed}`).toBe(true);
    }
  });

  it('resolves one tfjs-core file from every package, the app and @tensorflow/tfjs', () => {
    const tfjsDir = dirname(
      createRequire(join(root, 'apps/covrl/package.json')).resolve('@tensorflow/tfjs/package.json'),
    );
    const user = coreFrom(realpathSync(tfjsDir));
    expect(coreFrom(join(root, 'apps/covrl'))).toBe(user);
    for (const name of PACKAGES) expect(coreFrom(join(root, 'packages', name)), name).toBe(user);
  });

  it('shares the engine, the Tensor class and the kernel registry with @tensorflow/tfjs', () => {
    expect(tfCore.engine()).toBe(tf.engine());
    expect(tfCore.Tensor).toBe(tf.Tensor);
    expect(tfCore.getKernel('Exp', tf.getBackend())).toBe(tf.getKernel('Exp', tf.getBackend()));
    // `@tensorflow/tfjs` registered the gradients; the core the packages import sees them.
    expect(tfCore.getGradient('Exp')).toBeDefined();
  });
});

describe("the user's tensors through each package", () => {
  let before: number;
  beforeEach(() => {
    before = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors).toBe(before);
  });

  const logProbs = () => tf.tensor2d([[-0.5, -1.2, -2.0]]);
  const refLogProbs = () => tf.tensor2d([[-0.7, -1.0, -2.3]]);

  it('@covrl/kl-estimators: k3 returns a user tensor and differentiates on the user engine', () => {
    tf.tidy(() => {
      const ref = refLogProbs();
      const out = klEstimators.k3({ logProbs: logProbs(), refLogProbs: ref });
      expect(out).toBeInstanceOf(tf.Tensor);
      // d k3 / d logProbs = 1 − exp(refLogProbs − logProbs)
      const grad = tf.grad((x: tf.Tensor) =>
        tf.sum(klEstimators.k3({ logProbs: x, refLogProbs: ref })),
      )(logProbs());
      const expected = tf.sub(1, tf.exp(tf.sub(ref, logProbs())));
      expect(Array.from(grad.dataSync())).toEqual(
        Array.from(expected.dataSync()).map((v) => expect.closeTo(v, 5)),
      );
    });
  });

  it('@covrl/grpo: group advantages of user rewards are user tensors summing to 0 per group', () => {
    tf.tidy(() => {
      const out = grpo.groupAdvantages({ rewards: tf.tensor1d([1, 0, 0.5, 0.25]), groupSize: 2 });
      expect(out).toBeInstanceOf(tf.Tensor);
      const [a, b, c, d] = Array.from(out.dataSync());
      expect(a! + b!).toBeCloseTo(0, 6);
      expect(c! + d!).toBeCloseTo(0, 6);
      expect(a).toBeGreaterThan(0);
    });
  });

  it('@covrl/objectives: mixtureLogProbs mixes user tensors', () => {
    tf.tidy(() => {
      const a = logProbs();
      const b = refLogProbs();
      const out = objectives.mixtureLogProbs({ logProbsA: a, logProbsB: b, weightA: 0.5 });
      expect(out).toBeInstanceOf(tf.Tensor);
      const expected = tf.log(tf.add(tf.mul(0.5, tf.exp(a)), tf.mul(0.5, tf.exp(b))));
      expect(Array.from(out.dataSync())).toEqual(
        Array.from(expected.dataSync()).map((v) => expect.closeTo(v, 5)),
      );
    });
  });

  it('@covrl/rewards: answerLikelihoodReward of user log-probs', () => {
    tf.tidy(() => {
      const out = rewards.answerLikelihoodReward({
        answerLogProbs: tf.tensor2d([[-0.5, -1.0, -4.0]]),
        answerMask: tf.tensor2d([[1, 1, 0]]),
        form: 'log-prob-sum',
      });
      expect(out).toBeInstanceOf(tf.Tensor);
      expect(out.dataSync()[0]).toBeCloseTo(-1.5, 6);
    });
  });

  it('@covrl/models + @covrl/sampler: model variables live on the user engine; gradients flow', () => {
    const tokenizer = charTokenizer();
    const model = models.createCausalLM(
      tinyGpt2Config({ vocabSize: tokenizer.vocabSize, maxContext: 96 }),
      { seed: 1 },
    );
    try {
      const variables = [...model.variables().values()];
      expect(variables.length).toBeGreaterThan(0);
      for (const v of variables) {
        expect(v).toBeInstanceOf(tf.Variable);
        expect(tf.engine().registeredVariables[v.name]).toBe(v);
      }
      const contexts = [
        sampler.buildContexts({
          tokenizer,
          tags: sampler.DEFAULT_TAGS,
          question: 'What is 1+1?',
          answer: '2',
        }),
      ];
      const rollouts = [{ exampleIndex: 0, traceIds: tokenizer.encode('I add.</think>') }];
      // The user's optimizer-style call: gradients of a loss built by the sampler's scoring,
      // which slices the model's log-probs inside its own tf.tidy.
      const { value, grads } = tf.variableGrads(() => {
        const scores = sampler.scoreTraces(model, {
          rollouts,
          contexts,
          includePosterior: true,
          answerSpan: 'answer',
        });
        expect(scores.answer.logProbs).toBeInstanceOf(tf.Tensor);
        return tf.neg(tf.sum(scores.answer.logProbs)) as tf.Scalar;
      }, variables);
      expect(Number.isFinite(value.dataSync()[0])).toBe(true);
      expect(Object.keys(grads).sort()).toEqual(variables.map((v) => v.name).sort());
      const norm = tf.tidy(() =>
        tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))).dataSync(),
      )[0];
      expect(norm).toBeGreaterThan(0);
      tf.dispose([value, ...Object.values(grads)]);
    } finally {
      model.dispose();
    }
  });

  it("@covrl/tfjs-wasm-blas: profileKernels sees the user's kernels", async () => {
    const a = tf.ones([4, 8]);
    const b = tf.ones([8, 2]);
    const kernels = await wasmBlas.profileKernels({ fn: () => tf.matMul(a, b) });
    tf.dispose([a, b]);
    expect(kernels.map((k) => k.kernelName)).toContain('BatchMatMul');
  });

  it('@covrl/data loads beside it', () => {
    expect(typeof data.decodeExample).toBe('function');
  });
});
