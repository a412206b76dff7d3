/**
 * The consumer test: every publishable package, as a user installs it, loads and works from
 * CommonJS `require`, ESM `import`, TypeScript under `nodenext` (CommonJS and ESM output, compiled
 * with this workspace's `tsc` and then run), `moduleResolution: node` (node10, compiled and run) and
 * `bundler` (typecheck), and an esbuild browser bundle of the pure entries run in a bare V8
 * context (no `process`, `require` or `Buffer`).
 *
 * Install: `npm pack` of each package (its tarball, exactly what `npm publish` uploads) unpacked
 * into `node_modules/@covrl/<name>` of a scratch project in the OS temp directory, outside the
 * workspace, so nothing resolves through the workspace's symlinks. Third-party dependencies and
 * peers (`@tensorflow/tfjs-core`, `fp-ts`, `hyparquet`, ...) are symlinked from the workspace's
 * `node_modules`: the test needs no network and installs in about a second. Needs a prior
 * `npm run build` (the tarballs hold `dist/`).
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runInNewContext } from 'node:vm';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

interface PackageJson {
  readonly name: string;
  readonly private?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly exports?: Record<string, unknown>;
}

/** Publishable workspace packages: `packages/*` with a package.json that is not private. */
const packages = readdirSync(join(root, 'packages'))
  .sort()
  .map((dir) => join(root, 'packages', dir))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({
    dir,
    pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson,
  }))
  .filter(({ pkg }) => pkg.private !== true);

/**
 * What each consumer checks, per package: one real call and its value. `node` parts need the file
 * system; `browser` parts run in the bundle too. Written in the common subset of JavaScript and
 * TypeScript, against namespaces bound by each consumer's imports (`kl`, `grpo`, ...).
 */
const SPECIFIERS = {
  tf: '@tensorflow/tfjs-core',
  kl: '@covrl/kl-estimators',
  grpo: '@covrl/grpo',
  rewards: '@covrl/rewards',
  objectives: '@covrl/objectives',
  sampler: '@covrl/sampler',
  data: '@covrl/data',
  models: '@covrl/models',
  utils: '@covrl/utils',
  utilsRng: '@covrl/utils/rng',
} as const;
/** Node-only entries (file I/O, native code) and the test fixtures (`./testing`, Node only). */
const NODE_SPECIFIERS = {
  blas: '@covrl/tfjs-wasm-blas',
  dataTesting: '@covrl/data/testing',
  dataNode: '@covrl/data/node',
  modelsNode: '@covrl/models/node',
  utilsNode: '@covrl/utils/node',
} as const;
/** Every package's `./testing` entry, each checked to load and export something. */
const TESTING_SPECIFIERS = Object.fromEntries(
  packages
    .filter(({ pkg }) => pkg.exports?.['./testing'] !== undefined)
    .map(({ pkg }) => [
      `testing_${pkg.name.replace(/^@covrl\//, '').replace(/-/g, '_')}`,
      `${pkg.name}/testing`,
    ]),
);

const BROWSER_CHECKS = `
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-5;
  await tf.setBackend('cpu');
  const k3 = kl.k3({ logProbs: tf.tensor1d([-1, 0]), refLogProbs: tf.tensor1d([-1, -1]) }).dataSync();
  check('kl-estimators k3', near(k3[0] ?? NaN, 0) && near(k3[1] ?? NaN, Math.exp(-1)), k3);
  check('kl-estimators registry', kl.klEstimators.k3 === kl.k3, Object.keys(kl.klEstimators));
  const adv = grpo.groupAdvantages({ rewards: tf.tensor1d([1, 0, 1, 0]), groupSize: 2 }).dataSync();
  check('grpo groupAdvantages', (adv[0] ?? 0) > 0 && near(adv[0] ?? NaN, -(adv[1] ?? NaN)) && near(adv[0] ?? NaN, adv[2] ?? NaN), adv);
  check('rewards extractBoxed', rewards.extractBoxed('so \\\\boxed{42}.') === '42', rewards.extractBoxed('so \\\\boxed{42}.'));
  const mix = objectives.mixtureLogProbs({ logProbsA: tf.tensor1d([Math.log(0.5)]), logProbsB: tf.tensor1d([Math.log(0.25)]), weightA: 0.5 }).dataSync();
  check('objectives mixtureLogProbs', near(mix[0] ?? NaN, Math.log(0.375)), mix);
  const prompt = sampler.renderTemplate('prior-sample', { question: 'What is 7*6?', answer: '42' });
  check('sampler renderTemplate', prompt.includes('What is 7*6?') && prompt.endsWith(sampler.DEFAULT_TAGS.thinkOpen), prompt);
  const decoded = data.decodeExample({ id: 'a', question: 'q?', answer: '1', domain: 'math', family: 'worked' }, { file: 'x.jsonl', line: 1 });
  check('data decodeExample', decoded._tag === 'Right', decoded);
  const tok = models.CharTokenizer.fromAlphabet('ab');
  check('models CharTokenizer', tok.decode(tok.encode('abba')) === 'abba', tok.encode('abba'));
  const lm = models.createCausalLM(models.defaultModelConfig('gpt2', { vocabSize: 8, dModel: 8, nLayers: 1, nHeads: 2, dFf: 16, maxContext: 8 }), { seed: 1 });
  const logits = lm.logits({ ids: [[1, 2, 3]] });
  check('models createCausalLM logits', logits.shape.join('x') === '1x3x8', logits.shape);
  logits.dispose();
  lm.dispose();
  const a = utilsRng.mulberry32(7);
  const b = utils.mulberry32(7);
  const first = a();
  check('utils mulberry32 (main and ./rng agree)', first >= 0 && first < 1 && first === b(), first);
  const lm2 = utils.logMixture(tf.tensor1d([Math.log(0.5)]), tf.tensor1d([Math.log(0.25)]), 0.5).dataSync();
  check('utils logMixture', near(lm2[0] ?? NaN, Math.log(0.375)), lm2);
`;

const NODE_CHECKS = `
  // Loads the optional native nblas from the installed package's location (src/module-require.cjs,
  // the same file in both builds); no wasm backend here, so it declines after loading it.
  const blasStatus = blas.enableWasmBlas();
  const nblasExpected = process.env['COVRL_EXPECT_NBLAS'] === '1';
  check('tfjs-wasm-blas finds nblas exactly when it is built', nblasExpected === (blasStatus.blas !== undefined) && (nblasExpected || /nblas/.test(blasStatus.reason ?? '')), blasStatus);
  check('tfjs-wasm-blas classifyBlasLibrary', blas.classifyBlasLibrary({ mappedPaths: ['/usr/lib/libopenblas.so.0'] }).kind === 'optimized', blas.classifyBlasLibrary({ mappedPaths: [] }));
  const testing = [TESTING_MODULES];
  check('every ./testing subpath loads', testing.every((m) => Object.keys(m).length > 0), testing.map((m) => Object.keys(m).length));
  const dir = mkdtempSync(join(tmpdir(), 'covrl-consumer-'));
  try {
    const written = await dataNode.writeJsonl(join(dir, 'x.jsonl'), dataTesting.TINY_EXAMPLES);
    const back = await data.collect(dataNode.readJsonl(join(dir, 'x.jsonl')));
    check('data/node writeJsonl + readJsonl', written === dataTesting.TINY_EXAMPLES.length && back.length === written, back.length);
    await modelsNode.writeCharTokenizer(models.CharTokenizer.fromAlphabet('xyz'), join(dir, 'tok.json'));
    const tok2 = await modelsNode.readCharTokenizer(join(dir, 'tok.json'));
    check('models/node writeCharTokenizer + readCharTokenizer', tok2.decode(tok2.encode('zyx')) === 'zyx', tok2.vocabSize);
    utilsNode.writeFileAtomicSync(join(dir, 'u.txt'), 'covrl');
    check('utils/node writeFileAtomicSync', readFileSync(join(dir, 'u.txt'), 'utf8') === 'covrl', 'read back');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
`;

const NODE_BUILTINS = {
  fs: ['mkdtempSync', 'readFileSync', 'rmSync'],
  os: ['tmpdir'],
  path: ['join'],
};

/** A consumer program: imports in the given style, a `check` helper, the checks, a final line. */
function program(style: 'cjs' | 'esm', typed: boolean, withNode: boolean): string {
  const specifiers = withNode
    ? { ...SPECIFIERS, ...NODE_SPECIFIERS, ...TESTING_SPECIFIERS }
    : SPECIFIERS;
  const imports = Object.entries(specifiers).map(([name, spec]) =>
    style === 'cjs' ? `const ${name} = require('${spec}');` : `import * as ${name} from '${spec}';`,
  );
  const builtins = withNode
    ? Object.entries(NODE_BUILTINS).map(([mod, names]) =>
        style === 'cjs'
          ? `const { ${names.join(', ')} } = require('node:${mod}');`
          : `import { ${names.join(', ')} } from 'node:${mod}';`,
      )
    : [];
  const backend =
    style === 'cjs'
      ? `require('@tensorflow/tfjs-backend-cpu');`
      : `import '@tensorflow/tfjs-backend-cpu';`;
  const strip = (code: string) => (typed ? code : code.replace(/: number\b/g, ''));
  const checkFn = typed
    ? 'function check(label: string, ok: boolean, got: unknown): void'
    : 'function check(label, ok, got)';
  return [
    ...imports,
    ...builtins,
    backend,
    `let passed = 0;`,
    `${checkFn} {`,
    `  if (!ok) throw new Error(\`consumer check failed: \${label}: got \${JSON.stringify(got)}\`);`,
    `  passed += 1;`,
    `}`,
    `async function main() {`,
    strip(BROWSER_CHECKS),
    withNode
      ? strip(NODE_CHECKS).replace('TESTING_MODULES', Object.keys(TESTING_SPECIFIERS).join(', '))
      : '',
    `  return passed;`,
    `}`,
    `main().then((n) => report(\`consumer ok: \${n} checks\`), (error) => report(\`consumer failed: \${String(error && error.stack || error)}\`));`,
  ].join('\n');
}

let scratch = '';

/** Run a consumer script with node; returns its stdout. */
async function node(file: string): Promise<string> {
  const { stdout } = await run(process.execPath, [file], {
    cwd: dirname(file),
    env: { ...process.env, COVRL_EXPECT_NBLAS: nblasBuilt() ? '1' : '0', COVRL_BLAS: '' },
  });
  return stdout;
}

/** Whether the workspace has the optional nblas binding built (no OpenBLAS: it is not). */
function nblasBuilt(): boolean {
  const dir = workspaceCopy('nblas');
  return dir !== undefined && existsSync(join(dir, 'build', 'Release', 'nblas.node'));
}

/** Write `files` under scratch/consumers/<name>; returns that directory. */
function consumer(name: string, files: Record<string, string>): string {
  const dir = join(scratch, 'consumers', name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** A TypeScript consumer: its tsconfig, a package.json of the given module type, and index.ts. */
function tsConsumer(
  name: string,
  type: 'commonjs' | 'module',
  compilerOptions: Record<string, unknown>,
): string {
  return consumer(name, {
    'package.json': JSON.stringify({ name: `consumer-${name}`, private: true, type }),
    'tsconfig.json': JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023'],
        strict: true,
        types: ['node'],
        outDir: 'out',
        // As TF.js users must: @tensorflow/tfjs-core's own typings need the DOM lib and @types/long.
        // Our typings are the workspace's checked ESM ones, byte-identical in dist/cjs (tested).
        skipLibCheck: true,
        ...compilerOptions,
      },
      files: ['index.ts'],
    }),
    'index.ts': program('esm', true, true).replace(/\breport\(/g, 'console.log('),
  });
}

/** Compile a TypeScript consumer with the workspace's tsc; errors carry tsc's output. */
async function compile(dir: string): Promise<void> {
  try {
    await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`tsc -p ${dir} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

/** Where the workspace has a dependency installed (a package's own node_modules, then the root). */
function workspaceCopy(name: string): string | undefined {
  const candidates = [
    ...packages.map(({ dir }) => join(dir, 'node_modules', name)),
    join(root, 'node_modules', name),
  ];
  const found = candidates.find((path) => existsSync(join(path, 'package.json')));
  return found === undefined ? undefined : realpathSync(found);
}

beforeAll(async () => {
  const unbuilt = packages.filter(
    ({ dir }) =>
      !existsSync(join(dir, 'dist', 'index.js')) ||
      !existsSync(join(dir, 'dist', 'cjs', 'package.json')),
  );
  if (unbuilt.length > 0) {
    throw new Error(
      `consumers.test: ${unbuilt.map(({ pkg }) => pkg.name).join(', ')} not built (dist/index.js ` +
        `or dist/cjs/package.json missing); run \`npm run build\` first`,
    );
  }
  scratch = mkdtempSync(join(tmpdir(), 'covrl-consumers-'));
  writeFileSync(
    join(scratch, 'package.json'),
    JSON.stringify({ name: 'covrl-consumers', private: true }),
  );
  const tarballs = join(scratch, 'tarballs');
  mkdirSync(tarballs);
  const { stdout } = await run(
    'npm',
    [
      'pack',
      '--json',
      '--ignore-scripts',
      '--pack-destination',
      tarballs,
      ...packages.map((p) => p.dir),
    ],
    { cwd: scratch, maxBuffer: 64 * 1024 * 1024 },
  );
  const packed = JSON.parse(stdout) as { name: string; filename: string }[];
  for (const { name, filename } of packed) {
    const target = join(scratch, 'node_modules', name);
    mkdirSync(target, { recursive: true });
    await run('tar', ['-xzf', join(tarballs, filename), '-C', target, '--strip-components=1']);
  }
  const wanted = new Map<string, boolean>([
    ['@tensorflow/tfjs-backend-cpu', true],
    ['@types/node', true],
  ]);
  for (const { pkg } of packages) {
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })) {
      wanted.set(name, true);
    }
    for (const name of Object.keys(pkg.optionalDependencies ?? {})) {
      if (!wanted.has(name)) wanted.set(name, false);
    }
  }
  for (const [name, required] of wanted) {
    if (name.startsWith('@covrl/')) continue;
    const source = workspaceCopy(name);
    if (source === undefined) {
      if (required)
        throw new Error(
          `consumers.test: ${name} is not installed in the workspace; run \`npm ci\``,
        );
      continue;
    }
    const link = join(scratch, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(source, link, 'dir');
  }
}, 120_000);

afterAll(() => {
  // COVRL_KEEP_CONSUMERS=1 keeps the scratch project (its path is in the failure messages).
  if (scratch !== '' && process.env['COVRL_KEEP_CONSUMERS'] !== '1') {
    rmSync(scratch, { recursive: true, force: true });
  }
});

describe('installed tarballs', () => {
  it('hold both builds of every package', () => {
    for (const { pkg } of packages) {
      const dir = join(scratch, 'node_modules', pkg.name);
      expect(existsSync(join(dir, 'dist', 'index.js')), `${pkg.name}: dist/index.js`).toBe(true);
      expect(
        JSON.parse(readFileSync(join(dir, 'dist', 'cjs', 'package.json'), 'utf8')),
        `${pkg.name}: dist/cjs/package.json`,
      ).toEqual({ type: 'commonjs' });
      expect(existsSync(join(dir, 'dist', 'cjs', 'index.d.ts')), `${pkg.name}: CJS typings`).toBe(
        true,
      );
    }
  });

  it('ship CommonJS typings identical to the ESM typings (same API in both formats)', () => {
    const typings = (dir: string): string[] =>
      readdirSync(dir, { recursive: true, encoding: 'utf8' })
        .filter((f) => /\.d\.c?ts$/.test(f) && !f.startsWith('cjs/'))
        .sort();
    for (const { pkg } of packages) {
      const dist = join(scratch, 'node_modules', pkg.name, 'dist');
      const stale = typings(dist).filter(
        (f) =>
          !existsSync(join(dist, 'cjs', f)) ||
          readFileSync(join(dist, f), 'utf8') !== readFileSync(join(dist, 'cjs', f), 'utf8'),
      );
      expect(
        stale,
        `${pkg.name}: dist/cjs typings differ (a stale build? run \`npm run build\`)`,
      ).toEqual([]);
    }
  });

  it('cover every exported entry of every package', () => {
    const checked = new Set<string>(
      Object.values({ ...SPECIFIERS, ...NODE_SPECIFIERS, ...TESTING_SPECIFIERS }),
    );
    const exported = packages.flatMap(({ pkg }) =>
      Object.keys(pkg.exports ?? {})
        .filter((subpath) => subpath !== './package.json')
        .map((subpath) => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`)),
    );
    expect(exported.filter((specifier) => !checked.has(specifier))).toEqual([]);
  });
});

describe('consumers', () => {
  it('plain CommonJS require()', async () => {
    const dir = consumer('cjs', {
      'index.cjs': program('cjs', false, true).replace(/\breport\(/g, 'console.log('),
    });
    expect(await node(join(dir, 'index.cjs'))).toMatch(/consumer ok: \d+ checks/);
  });

  it('plain ESM import', async () => {
    // Also the dual-package case of the root README: the CommonJS copy, loaded beside the ESM one,
    // is a second copy of the package but computes on the same (single) TF.js engine.
    const mixed = [
      `import { createRequire } from 'node:module';`,
      `const klCjs = createRequire(import.meta.url)('@covrl/kl-estimators');`,
      `const viaCjs = klCjs.k3({ logProbs: tf.tensor1d([0]), refLogProbs: tf.tensor1d([-1]) });`,
      `if (klCjs.k3 === kl.k3 || Math.abs(viaCjs.dataSync()[0] - Math.exp(-1)) > 1e-6) {`,
      `  throw new Error('the CommonJS copy does not compute on the TF.js engine of the ESM side');`,
      `}`,
    ].join('\n');
    const dir = consumer('esm', {
      'index.mjs': `${program('esm', false, true).replace(/\breport\(/g, 'console.log(')}\n${mixed}\n`,
    });
    expect(await node(join(dir, 'index.mjs'))).toMatch(/consumer ok: \d+ checks/);
  });

  it.concurrent(
    'TypeScript nodenext, CommonJS output: compiles and runs',
    async () => {
      const dir = tsConsumer('ts-nodenext-cjs', 'commonjs', {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
      });
      await compile(dir);
      expect(readFileSync(join(dir, 'out', 'index.js'), 'utf8')).toMatch(
        /require\("@covrl\/kl-estimators"\)/,
      );
      expect(await node(join(dir, 'out', 'index.js'))).toMatch(/consumer ok: \d+ checks/);
    },
    240_000,
  );

  it.concurrent(
    'TypeScript nodenext, ESM output: compiles and runs',
    async () => {
      const dir = tsConsumer('ts-nodenext-esm', 'module', {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
      });
      await compile(dir);
      expect(await node(join(dir, 'out', 'index.js'))).toMatch(/consumer ok: \d+ checks/);
    },
    240_000,
  );

  it.concurrent(
    'TypeScript moduleResolution node (node10): compiles and runs',
    async () => {
      const dir = tsConsumer('ts-node10', 'commonjs', {
        module: 'CommonJS',
        moduleResolution: 'Node10',
        esModuleInterop: true,
      });
      await compile(dir);
      expect(await node(join(dir, 'out', 'index.js'))).toMatch(/consumer ok: \d+ checks/);
    },
    240_000,
  );

  it.concurrent(
    'TypeScript moduleResolution bundler: typechecks',
    async () => {
      const dir = tsConsumer('ts-bundler', 'module', {
        module: 'ESNext',
        moduleResolution: 'Bundler',
        noEmit: true,
      });
      await compile(dir);
    },
    240_000,
  );

  it('esbuild browser bundle of every pure entry: no Node builtin, runs in a bare V8 context', async () => {
    const dir = consumer('browser', {
      'index.ts': program('esm', true, false),
    });
    const result = await build({
      entryPoints: [join(dir, 'index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      write: false,
      metafile: true,
      logLevel: 'silent',
      absWorkingDir: scratch,
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(
      inputs.filter((path) => path.startsWith('node:') || /(^|\/)dist\/cjs\//.test(path)),
    ).toEqual([]);
    for (const spec of Object.values(SPECIFIERS).filter((s) => s.startsWith('@covrl/'))) {
      expect(
        inputs.some((path) =>
          path.includes(`node_modules/${spec.split('/').slice(0, 2).join('/')}/dist/`),
        ),
        spec,
      ).toBe(true);
    }
    const code = result.outputFiles[0]?.text ?? '';
    const messages: string[] = [];
    let settle: (value: void) => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const report = (line: string) => {
      messages.push(line);
      settle();
    };
    // A Web Worker's globals: `self` and `WorkerGlobalScope` (TF.js picks its browser platform from
    // them), timers and text codecs; none of Node's (`process`, `require`, `Buffer`, `global`).
    const prelude = 'globalThis.self = globalThis; globalThis.WorkerGlobalScope = function () {};';
    runInNewContext(`${prelude}\n${code}`, {
      report,
      console: {
        log: () => undefined,
        warn: () => undefined,
        error: () => undefined,
        info: () => undefined,
      },
      setTimeout,
      clearTimeout,
      queueMicrotask,
      TextEncoder,
      TextDecoder,
      performance,
    });
    await done;
    expect(messages.join('\n')).toMatch(/consumer ok: \d+ checks/);
  });
});
