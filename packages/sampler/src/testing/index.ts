/**
 * Fakes for tests of the sampler and of packages that use it: a tiny greedy tokenizer and a
 * {@link ScriptedPolicy} whose `generate` replays scripted continuations (or samples its own
 * distribution) and whose `scoreTokens` computes exact, differentiable log-probs of a small
 * position-aware bigram model with TF.js ops.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';
import type {
  GenerateRequest,
  GeneratedRow,
  Policy,
  ScoredSpan,
  ScoreRequest,
  Tokenizer,
} from '../policy.js';
import { endsWithIds } from '../ids.js';
import { mulberry32 } from '../rng.js';

/** A {@link Tokenizer} over a fixed list of string pieces, with its vocabulary exposed. */
export interface PieceTokenizer extends Tokenizer {
  readonly pieces: readonly string[];
  /** Id of a piece; throws when the piece is not in the vocabulary. */
  id(piece: string): number;
  encodeWithOffsets(text: string): { ids: number[]; offsets: [number, number][] };
}

/**
 * A tokenizer over `pieces` (id = index) that encodes greedily by longest match, so a text has a
 * canonical segmentation while other segmentations of it (for example `th` + `ink` when `think`
 * is a piece) decode to the same text: the situation of methods.md §2 where re-encoding sampled
 * ids changes them. `eosToken`, when given, is appended as the last piece and is the `eosId`.
 */
export function greedyTokenizer(
  pieces: readonly string[],
  options: { readonly eosToken?: string } = {},
): PieceTokenizer {
  const all = options.eosToken === undefined ? [...pieces] : [...pieces, options.eosToken];
  if (new Set(all).size !== all.length || all.some((p) => p.length === 0)) {
    throw new Error('greedyTokenizer: pieces must be distinct non-empty strings');
  }
  const byText = new Map(all.map((p, i) => [p, i] as const));
  const maxLen = Math.max(...all.map((p) => p.length));
  const encodeWithOffsets = (text: string): { ids: number[]; offsets: [number, number][] } => {
    const ids: number[] = [];
    const offsets: [number, number][] = [];
    let i = 0;
    while (i < text.length) {
      let found = -1;
      let len = Math.min(maxLen, text.length - i);
      for (; len > 0; len--) {
        const id = byText.get(text.slice(i, i + len));
        if (id !== undefined) {
          found = id;
          break;
        }
      }
      if (found < 0) {
        throw new Error(
          `greedyTokenizer.encode: text ${JSON.stringify(text)} has ${JSON.stringify(text[i])} at ${i}, which no piece covers`,
        );
      }
      ids.push(found);
      offsets.push([i, i + len]);
      i += len;
    }
    return { ids, offsets };
  };
  return {
    pieces: all,
    vocabSize: all.length,
    ...(options.eosToken === undefined ? {} : { eosId: all.length - 1 }),
    id(piece: string): number {
      const id = byText.get(piece);
      if (id === undefined)
        throw new Error(`greedyTokenizer.id: ${JSON.stringify(piece)} is not a piece`);
      return id;
    },
    encode: (text: string) => encodeWithOffsets(text).ids,
    decode(ids: readonly number[]): string {
      return ids
        .map((id) => {
          const p = all[id];
          if (p === undefined) throw new Error(`greedyTokenizer.decode: id ${id} out of range`);
          return p;
        })
        .join('');
    },
    encodeWithOffsets,
  };
}

/** Every character the default tags and simple arithmetic questions need. */
export const TEST_ALPHABET =
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;?!*+-=/<>()\n_';

/**
 * A character tokenizer: one piece per distinct character of `alphabet` (default
 * {@link TEST_ALPHABET}) plus an optional EOS piece. Piecewise and whole-string encodings coincide.
 */
export function charTokenizer(
  alphabet: string = TEST_ALPHABET,
  options: { readonly eosToken?: string } = {},
): PieceTokenizer {
  return greedyTokenizer([...new Set(alphabet)], options);
}

/** A scripted continuation: the ids a row would produce, before stop/EOS/budget truncation. */
export type Script = (
  prompt: readonly number[],
  info: { readonly row: number; readonly seed: number; readonly request: GenerateRequest },
) => readonly number[];

/** Options of {@link ScriptedPolicy}. */
export interface ScriptedPolicyOptions {
  readonly vocabSize: number;
  /** Default 4096. */
  readonly maxContext?: number;
  /**
   * Continuations: a function of the prompt, or a map keyed by `prompt.join(',')`. Absent: the
   * policy samples its own bigram distribution (seeded by the row seed; temperature 0 = arg-max).
   */
  readonly script?: Script | ReadonlyMap<string, readonly number[]>;
  /** Id emitted after a script runs out (absent: running out is an error). */
  readonly fillId?: number;
  /** Bigram logits `[V, V]` (pass a `tf.Variable` to test gradients); default seeded N(0, 1). */
  readonly table?: tf.Tensor2D;
  /** Seed of the default table and position bias. Default 1. */
  readonly seed?: number;
}

/** Number of distinct position-bias rows (positions are taken modulo this). */
const POSITIONS = 7;

/**
 * A fake {@link Policy}. Model: the logits predicting position `j` are
 * `table[seq[j−1]] + positionBias[j mod 7]`; log-probs are `logSoftmax(logits / τ)`. The position
 * term makes the same trace token score differently in PRIOR-SCORE and POSTERIOR, so alignment
 * bugs show up. `generate` honours `stopSequences` (inclusive), `eosId` (inclusive) and
 * `maxNewTokens` exactly like a real policy; it records every request and counts calls.
 */
export class ScriptedPolicy implements Policy {
  readonly vocabSize: number;
  readonly maxContext: number;
  readonly table: tf.Tensor2D;
  readonly positionBias: tf.Tensor2D;
  generateCalls = 0;
  scoreCalls = 0;
  readonly generateRequests: GenerateRequest[] = [];
  readonly scoreRequests: ScoreRequest[] = [];
  private readonly script: ScriptedPolicyOptions['script'];
  private readonly fillId: number | undefined;
  private readonly ownsTable: boolean;

  constructor(options: ScriptedPolicyOptions) {
    const V = options.vocabSize;
    if (!Number.isInteger(V) || V < 2) throw new Error('ScriptedPolicy: vocabSize must be ≥ 2');
    this.vocabSize = V;
    this.maxContext = options.maxContext ?? 4096;
    this.script = options.script;
    this.fillId = options.fillId;
    const next = mulberry32(options.seed ?? 1);
    const normal = (): number => {
      const u = Math.max(next(), 1e-12);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    };
    if (options.table === undefined) {
      this.table = tf.tensor2d(Array.from({ length: V * V }, normal), [V, V]);
      this.ownsTable = true;
    } else {
      if (
        options.table.rank !== 2 ||
        options.table.shape[0] !== V ||
        options.table.shape[1] !== V
      ) {
        throw new Error(`ScriptedPolicy: table must have shape [${V}, ${V}]`);
      }
      this.table = options.table;
      this.ownsTable = false;
    }
    this.positionBias = tf.tensor2d(
      Array.from({ length: POSITIONS * V }, () => 0.5 * normal()),
      [POSITIONS, V],
    );
  }

  /** Disposes the tensors this policy created (not a table passed in). */
  dispose(): void {
    if (this.ownsTable) this.table.dispose();
    this.positionBias.dispose();
  }

  /** Naive JavaScript oracle: `log π(seq[j] | seq[<j])` at temperature τ (j ≥ 1). */
  referenceLogProb(sequence: readonly number[], j: number, temperature = 1): number {
    return this.referenceDistribution(sequence.slice(0, j), temperature)[
      sequence[j] as number
    ] as number;
  }

  /** Naive log-softmax of the logits predicting the token after `prefix` (τ > 0). */
  referenceDistribution(prefix: readonly number[], temperature = 1): number[] {
    const table = this.table.arraySync();
    const bias = this.positionBias.arraySync();
    return this.distributionFrom(table, bias, prefix, temperature);
  }

  private distributionFrom(
    table: number[][],
    bias: number[][],
    prefix: readonly number[],
    temperature: number,
  ): number[] {
    const j = prefix.length;
    const row = table[prefix[j - 1] as number] as number[];
    const pos = bias[j % POSITIONS] as number[];
    const logits = row.map((v, i) => (v + (pos[i] as number)) / temperature);
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0));
    return logits.map((v) => v - lse);
  }

  generate(request: GenerateRequest): Promise<readonly GeneratedRow[]> {
    this.generateCalls++;
    this.generateRequests.push(request);
    const { prompts, maxNewTokens, seeds } = request;
    if (seeds.length !== prompts.length) {
      return Promise.reject(
        new Error('ScriptedPolicy.generate: seeds must have one entry per prompt'),
      );
    }
    const temperature = request.temperature ?? 1;
    const table = this.table.arraySync();
    const bias = this.positionBias.arraySync();
    const stops = request.stopSequences ?? [];
    try {
      const rows = prompts.map((prompt, row): GeneratedRow => {
        const seed = seeds[row] as number;
        if (prompt.length + maxNewTokens > this.maxContext) {
          throw new Error(
            `ScriptedPolicy.generate: row ${row} exceeds maxContext ${this.maxContext}`,
          );
        }
        const scripted = this.scriptFor(prompt, row, seed, request);
        const rng = mulberry32(seed);
        const ids: number[] = [];
        const logProbs: number[] = [];
        let finishReason: GeneratedRow['finishReason'] = 'length';
        while (ids.length < maxNewTokens) {
          const prefix = [...prompt, ...ids];
          let id: number;
          if (scripted === undefined) {
            id = this.sampleFrom(
              this.distributionFrom(table, bias, prefix, Math.max(temperature, 1e-6)),
              temperature,
              rng,
            );
          } else if (ids.length < scripted.length) {
            id = scripted[ids.length] as number;
          } else if (this.fillId !== undefined) {
            id = this.fillId;
          } else {
            throw new Error(
              `ScriptedPolicy.generate: the script of row ${row} ran out before a stop`,
            );
          }
          ids.push(id);
          if (request.returnLogProbs === true) {
            const dist = this.distributionFrom(
              table,
              bias,
              prefix,
              temperature > 0 ? temperature : 1,
            );
            logProbs.push(dist[id] as number);
          }
          if (request.eosId !== undefined && id === request.eosId) {
            finishReason = 'eos';
            break;
          }
          if (stops.some((s) => endsWithIds(ids, s))) {
            finishReason = 'stop';
            break;
          }
        }
        return request.returnLogProbs === true
          ? { ids, finishReason, logProbs }
          : { ids, finishReason };
      });
      return Promise.resolve(rows);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private scriptFor(
    prompt: readonly number[],
    row: number,
    seed: number,
    request: GenerateRequest,
  ): readonly number[] | undefined {
    const script = this.script;
    if (script === undefined) return undefined;
    if (typeof script === 'function') return script(prompt, { row, seed, request });
    const found = script.get(prompt.join(','));
    if (found === undefined) {
      throw new Error(`ScriptedPolicy.generate: no script for prompt ${prompt.join(',')}`);
    }
    return found;
  }

  private sampleFrom(logProbs: readonly number[], temperature: number, rng: () => number): number {
    if (temperature === 0) {
      let best = 0;
      logProbs.forEach((v, i) => {
        if (v > (logProbs[best] as number)) best = i;
      });
      return best;
    }
    let u = rng();
    for (let i = 0; i < logProbs.length; i++) {
      u -= Math.exp(logProbs[i] as number);
      if (u < 0) return i;
    }
    return logProbs.length - 1;
  }

  scoreTokens<K extends string>(request: ScoreRequest<K>): Readonly<Record<K, ScoredSpan>> {
    this.scoreCalls++;
    this.scoreRequests.push(request);
    const { sequences } = request;
    const B = sequences.length;
    const V = this.vocabSize;
    const L = Math.max(...sequences.map((s) => s.length));
    const keys = Object.keys(request.spans) as K[];
    for (const key of keys) {
      const spans = request.spans[key];
      if (spans.length !== B) {
        throw new Error(`ScriptedPolicy.scoreTokens: spans.${key} needs ${B} entries`);
      }
      spans.forEach((s, b) => {
        const len = (sequences[b] as readonly number[]).length;
        if (s.start < 1 || s.length < 0 || s.start + s.length > len) {
          throw new Error(
            `ScriptedPolicy.scoreTokens: spans.${key}[${b}] = {start ${s.start}, length ${s.length}} outside a ${len}-token row`,
          );
        }
      });
    }
    for (const s of sequences) {
      if (s.length > this.maxContext)
        throw new Error('ScriptedPolicy.scoreTokens: row exceeds maxContext');
      for (const id of s) {
        if (!Number.isInteger(id) || id < 0 || id >= V) {
          throw new Error(`ScriptedPolicy.scoreTokens: id ${id} outside [0, ${V})`);
        }
      }
    }
    const prev: number[] = [];
    const target: number[] = [];
    const position: number[] = [];
    sequences.forEach((s) => {
      for (let j = 0; j < L; j++) {
        prev.push(j >= 1 && j < s.length ? (s[j - 1] as number) : 0);
        target.push(j < s.length ? (s[j] as number) : 0);
        position.push(j % POSITIONS);
      }
    });
    const temperature = request.temperature ?? 1;
    const flat = tf.tidy(() => {
      const logits = tf.add(
        tf.gather(this.table, tf.tensor1d(prev, 'int32')),
        tf.gather(this.positionBias, tf.tensor1d(position, 'int32')),
      ); // [B·L, V]
      const scaled = temperature === 1 ? logits : tf.div(logits, temperature);
      const logp = tf.logSoftmax(scaled);
      const token = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(target, 'int32'), V)), 1); // [B·L]
      const out: tf.Tensor2D[] = [];
      for (const key of keys) {
        const spans = request.spans[key];
        const S = Math.max(0, ...spans.map((s) => s.length));
        const index: number[] = [];
        const mask: number[] = [];
        spans.forEach((s, b) => {
          for (let t = 0; t < S; t++) {
            const real = t < s.length;
            index.push(real ? b * L + s.start + t : 0);
            mask.push(real ? 1 : 0);
          }
        });
        const m = tf.tensor2d(mask, [B, S]);
        const gathered = tf.reshape(tf.gather(token, tf.tensor1d(index, 'int32')), [B, S]);
        out.push(tf.mul(gathered, m) as tf.Tensor2D, m);
      }
      return out;
    });
    const result = {} as Record<K, ScoredSpan>;
    keys.forEach((key, i) => {
      result[key] = { logProbs: flat[2 * i] as tf.Tensor2D, mask: flat[2 * i + 1] as tf.Tensor2D };
    });
    return result;
  }
}
