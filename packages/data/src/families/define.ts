/**
 * The shape of a synthetic family and the helper that builds one from a problem sampler, a
 * renderer, a parser and a trace writer.
 */
import { seedFrom } from '../hash.js';
import { Rng } from '../rng.js';
import type { Domain, Example } from '../schema.js';

/** Names of the built-in families (the app's config uses exactly these). */
export type FamilyName =
  | 'addition'
  | 'linear-equation'
  | 'rate'
  | 'deduction'
  | 'string-ops'
  | 'ordering'
  | 'pair-sum'
  | 'pair-diff';

/** Options of `Family.generate`. */
export interface GenerateOptions {
  /** Any integer; together with `stream` it fixes every example. */
  readonly seed: number;
  /** Number of examples; example `i` does not depend on `count` (prefix-stable). */
  readonly count: number;
  /** Difficulty level 1, 2 or 3. */
  readonly difficulty: number;
  /**
   * Seed stream name (default `rl`, the RL train/test examples). The pretraining corpus uses
   * `pretrain`, so its examples come from a stream disjoint from the RL seeds.
   */
  readonly stream?: string;
}

/** Options of `Family.writeTrace`. */
export interface TraceOptions {
  /** Probability that exactly one step of the trace is wrong (the final answer follows it). */
  readonly errorRate: number;
  readonly rng: Rng;
}

/** A written trace and the answer it leads to. */
export interface WrittenTrace {
  /** Step-by-step working; plain characters only (never `<` or `>`). */
  readonly trace: string;
  /** The answer the trace arrives at: the true answer unless a step was made wrong. */
  readonly finalAnswer: string;
  /** Whether one step was made wrong (then `finalAnswer` differs from the true answer). */
  readonly corrupted: boolean;
}

/**
 * The step-by-step verdict on a trace (a model's or a written one) from a family's trace checker,
 * so a pipeline can log how often traces of each source (prior / posterior) are correct.
 */
export interface TraceCheck {
  /** Every step parses and is right, and the trace ends at a checked solution (the true answer). */
  readonly stepCorrect: boolean;
  /** The whole trace is in the family's step grammar (a trace cut by the token budget is not). */
  readonly parsed: boolean;
  /** Steps read (including the first unparsable one). */
  readonly steps: number;
  /** Steps read that break a rule (wrong arithmetic, a number not in the question, a false verdict). */
  readonly wrongSteps: number;
  /**
   * The answer the trace arrives at in the family's answer format, or `undefined` when it
   * arrives at none; compare it with the model's answer for answer–trace consistency.
   */
  readonly traceAnswer: string | undefined;
}

/** A synthetic task family: deterministic generator, noisy trace writer and rule verifier. */
export interface Family {
  readonly name: FamilyName;
  readonly domain: Domain;
  /** One line on what the family asks, for READMEs and reports. */
  readonly description: string;
  /** Deterministic examples with ids `<name>-d<difficulty>-s<seed>[-<stream>]-<index, 6 digits>`. */
  generate(options: GenerateOptions): Example[];
  /** A step-by-step trace for `example`; with probability `errorRate` one step is wrong. */
  writeTrace(example: Example, options: TraceOptions): WrittenTrace;
  /** Rule verifier: does `predicted` (model output between the answer tags) match the answer? */
  verify(predicted: string, example: Example): boolean;
  /**
   * Trace checker (families whose traces can be checked step by step; absent otherwise): the
   * verdict on `traceText` (the text between the think tags) for `example`. Throws when the
   * example is not this family's question.
   */
  readonly checkTrace?: (example: Example, traceText: string) => TraceCheck;
}

/** What a family module supplies; {@link defineFamily} turns it into a {@link Family}. */
export interface FamilySpec<P> {
  readonly name: FamilyName;
  readonly domain: Domain;
  readonly description: string;
  sample(rng: Rng, difficulty: number): P;
  question(problem: P): string;
  answer(problem: P): string;
  /** Inverse of `question`; `undefined` when the text is not this family's. */
  parse(question: string): P | undefined;
  /** Number of steps a corruption can hit (≥ 1). */
  steps(problem: P): number;
  /** Trace with step `wrongStep` made wrong (or none); the final answer follows the trace. */
  trace(
    problem: P,
    wrongStep: number | undefined,
    rng: Rng,
  ): { trace: string; finalAnswer: string };
  /** Optional step checker of a trace text (becomes `Family.checkTrace`). */
  check?(problem: P, traceText: string): TraceCheck;
  normalise(answer: string): string;
}

/** Element `i` of `items`; throws if out of range (keeps `noUncheckedIndexedAccess` honest). */
export function at<T>(items: readonly T[], i: number): T {
  if (i < 0 || i >= items.length) throw new Error(`index ${i} out of range 0..${items.length - 1}`);
  return items[i] as T;
}

/** Integer answers: trims, drops `,` and a leading `+`, and strips leading zeros. */
export function normaliseInteger(answer: string): string {
  const s = answer.trim().replace(/,/g, '').replace(/^\+/, '').replace(/\.$/, '');
  const m = /^(-?)0*(\d+)$/.exec(s);
  if (m === null) return s;
  const digits = m[2] as string;
  return digits === '0' ? '0' : `${m[1] ?? ''}${digits}`;
}

/** Word answers: trims, lower-cases and drops a trailing period. */
export function normaliseWord(answer: string): string {
  return answer.trim().toLowerCase().replace(/\.$/, '');
}

/** A random integer in [min, max] other than 0. */
export function nonZero(rng: Rng, min: number, max: number): number {
  for (;;) {
    const v = rng.int(min, max);
    if (v !== 0) return v;
  }
}

function checkDifficulty(name: string, difficulty: number): void {
  if (!Number.isInteger(difficulty) || difficulty < 1 || difficulty > 3) {
    throw new Error(`${name}.generate: difficulty must be 1, 2 or 3, got ${difficulty}`);
  }
}

/** Build a {@link Family} from a {@link FamilySpec}. */
export function defineFamily<P>(spec: FamilySpec<P>): Family {
  const problemOf = (example: Example, fn: string): P => {
    const problem = spec.parse(example.question);
    if (problem === undefined) {
      throw new Error(
        `${spec.name}.${fn}: example ${example.id} is not a ${spec.name} question: ${JSON.stringify(example.question)}`,
      );
    }
    return problem;
  };
  const { check } = spec;
  return Object.freeze({
    ...(check === undefined
      ? {}
      : {
          checkTrace: (example: Example, traceText: string): TraceCheck =>
            check(problemOf(example, 'checkTrace'), traceText),
        }),
    name: spec.name,
    domain: spec.domain,
    description: spec.description,
    generate({ seed, count, difficulty, stream = 'rl' }: GenerateOptions): Example[] {
      checkDifficulty(spec.name, difficulty);
      if (!Number.isInteger(count) || count < 0) {
        throw new Error(
          `${spec.name}.generate: count must be a non-negative integer, got ${count}`,
        );
      }
      const prefix = `${spec.name}-d${difficulty}-s${seed}${stream === 'rl' ? '' : `-${stream}`}`;
      const out: Example[] = [];
      for (let i = 0; i < count; i++) {
        // One generator per example, so example i is the same whatever `count` is.
        const rng = new Rng(seedFrom(spec.name, difficulty, seed, stream, i));
        const problem = spec.sample(rng, difficulty);
        out.push({
          id: `${prefix}-${String(i).padStart(6, '0')}`,
          question: spec.question(problem),
          answer: spec.answer(problem),
          domain: spec.domain,
          family: spec.name,
          difficulty,
        });
      }
      return out;
    },
    writeTrace(example: Example, { errorRate, rng }: TraceOptions): WrittenTrace {
      if (!(errorRate >= 0 && errorRate <= 1)) {
        throw new Error(`${spec.name}.writeTrace: errorRate must be in [0, 1], got ${errorRate}`);
      }
      const problem = problemOf(example, 'writeTrace');
      const corrupted = rng.next() < errorRate;
      const wrongStep = corrupted ? rng.int(0, spec.steps(problem) - 1) : undefined;
      return { ...spec.trace(problem, wrongStep, rng), corrupted };
    },
    verify(predicted: string, example: Example): boolean {
      return spec.normalise(predicted) === spec.normalise(example.answer);
    },
  });
}
