/**
 * One batched `policy.scoreTokens` call, cut into row blocks (for example the prior half and the
 * posterior half of a stacked `[2B, L]` batch) inside `tf.tidy`.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Policy, ScoredSpan, ScoreRequest, TokenSpan } from './policy.js';

/** One block of rows of one span kind to cut out of the scored batch. */
export interface SpanBlock<K extends string> {
  readonly key: K;
  /** First row of the block in the request. */
  readonly rowStart: number;
  /** Number of rows of the block. */
  readonly rows: number;
}

/** Longest span of `spans[rowStart, rowStart + rows)`. */
export function maxSpanLength(spans: readonly TokenSpan[], rowStart: number, rows: number): number {
  let width = 0;
  for (let r = rowStart; r < rowStart + rows; r++) {
    width = Math.max(width, (spans[r] as TokenSpan).length);
  }
  return width;
}

/**
 * Calls `policy.scoreTokens(request)` once and returns, per block, the `[rows, width]` slices of
 * its log-probs and mask, where `width` is the longest span of the block's rows (the policy may pad
 * wider; padding beyond is dropped). Runs in `tf.tidy`: only the returned tensors survive; slices
 * are differentiable, so this works inside `tf.variableGrads`.
 *
 * @throws Error naming `fn` when the policy omits a key or returns a tensor of the wrong shape.
 */
export function scoreBlocks<K extends string>(
  fn: string,
  policy: Policy,
  request: ScoreRequest<K>,
  blocks: readonly SpanBlock<K>[],
): ScoredSpan[] {
  const numRows = request.sequences.length;
  const widths = blocks.map((b) => maxSpanLength(request.spans[b.key], b.rowStart, b.rows));
  const flat = tf.tidy(() => {
    const out = policy.scoreTokens(request);
    const tensors: tf.Tensor2D[] = [];
    blocks.forEach((block, i) => {
      const scored = out[block.key] as ScoredSpan | undefined;
      if (scored === undefined) {
        throw new Error(`${fn}: policy.scoreTokens returned no '${block.key}' span`);
      }
      const width = widths[i] as number;
      for (const [name, t] of [
        ['logProbs', scored.logProbs],
        ['mask', scored.mask],
      ] as const) {
        if (t.rank !== 2 || t.shape[0] !== numRows || t.shape[1] < width) {
          throw new Error(
            `${fn}: policy.scoreTokens returned ${block.key}.${name} of shape [${t.shape.join(', ')}], expected [${numRows}, ≥ ${width}]`,
          );
        }
        tensors.push(tf.slice(t, [block.rowStart, 0], [block.rows, width]));
      }
    });
    return tensors;
  });
  return blocks.map((_, i) => ({
    logProbs: flat[2 * i] as tf.Tensor2D,
    mask: flat[2 * i + 1] as tf.Tensor2D,
  }));
}

/**
 * The optional `temperature` field of a {@link ScoreRequest}: `{}` when undefined, else
 * `{ temperature }`.
 *
 * @throws Error naming `fn` unless the temperature is a finite number > 0 (τ divides the logits).
 */
export function temperatureField(
  fn: string,
  temperature: number | undefined,
): { temperature?: number } {
  if (temperature === undefined) return {};
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new Error(`${fn}: temperature must be a finite number > 0`);
  }
  return { temperature };
}
