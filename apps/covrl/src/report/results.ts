/**
 * The structure of `results.json`: every evaluated (method, seed, variant) with its accuracies per
 * split and family, and its training curves. `report.md` and `report.html` are rebuilt from it.
 */

export interface Tally {
  readonly correct: number;
  readonly total: number;
}

export interface SplitResult {
  /** Greedy pass@1. */
  readonly greedy: Tally;
  /** Sampled avg@k: mean accuracy over k samples per question (`correct` counts samples). */
  readonly sampled: Tally & { readonly k: number };
  readonly byFamily: Readonly<Record<string, Tally>>;
  /** Mean log p(y | x, z) of the reference answer under the prior, where measured. */
  readonly answerLogProb?: number;
}

export interface RunResult {
  /** `base`, `grpo`, `verifree`, `rlpr`, `covrl`, or a sweep label such as `covrl α=0.1`. */
  readonly label: string;
  readonly method: string;
  readonly seed: number;
  /** Overrides that distinguish a sweep variant (`{ 'covrl.alpha': 0.1 }`). */
  readonly variant: Readonly<Record<string, number | string | boolean>>;
  readonly splits: Readonly<Record<string, SplitResult>>;
  /** Per-step training metrics: `curves[key]` is aligned with `curves.step`. */
  readonly curves: Readonly<Record<string, readonly number[]>>;
  readonly runDir?: string;
  readonly seconds?: number;
}

export interface Results {
  readonly command: string;
  readonly createdAt: string;
  readonly covrlVersion: string;
  readonly backend: string;
  readonly config: unknown;
  /** Split names in display order, e.g. `in-domain`, `transfer`, `hard`. */
  readonly splits: readonly string[];
  readonly runs: readonly RunResult[];
}

/** Validate the shape of a parsed results.json, naming the path of the first problem. */
export function checkResults(value: unknown, file: string): Results {
  const fail = (where: string, what: string): never => {
    throw new Error(`${file}: ${where}: ${what}; rebuild it with \`covrl compare\``);
  };
  if (typeof value !== 'object' || value === null) fail('top level', 'expected an object');
  const r = value as Record<string, unknown>;
  if (!Array.isArray(r['runs'])) fail('runs', 'expected an array');
  if (!Array.isArray(r['splits'])) fail('splits', 'expected an array of split names');
  (r['runs'] as unknown[]).forEach((run, i) => {
    if (typeof run !== 'object' || run === null) fail(`runs[${i}]`, 'expected an object');
    const o = run as Record<string, unknown>;
    for (const key of ['label', 'method'] as const) {
      if (typeof o[key] !== 'string') fail(`runs[${i}].${key}`, 'expected a string');
    }
    if (typeof o['seed'] !== 'number') fail(`runs[${i}].seed`, 'expected a number');
    if (typeof o['splits'] !== 'object' || o['splits'] === null)
      fail(`runs[${i}].splits`, 'expected an object');
    if (typeof o['curves'] !== 'object' || o['curves'] === null)
      fail(`runs[${i}].curves`, 'expected an object');
  });
  return value as Results;
}
