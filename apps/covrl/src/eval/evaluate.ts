/**
 * Evaluation (methods.md §1 rule 5): FULL-SAMPLE with the question only, stop at `</answer>`,
 * extract the text between the first `<answer>` after `</think>` and the next `</answer>`, and
 * check it with the family's rule verifier. Greedy pass@1 and sampled avg@k, per family.
 */
import { buildContexts, sampleResponses } from '@covrl/sampler';
import type { ExampleContexts, Policy, Tags, Tokenizer } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import { getFamily } from '@covrl/data';
import { isEquivalent } from '@covrl/rewards';
import * as E from 'fp-ts/lib/Either.js';
import type { SplitResult, Tally } from '../report/results.js';

export interface EvalOptions {
  readonly policy: Policy;
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  readonly examples: readonly Example[];
  /** Samples per question for avg@k (0 skips the sampled pass). */
  readonly samples: number;
  readonly temperature: number;
  readonly maxNewTokens: number;
  readonly seed: number;
  /** Prompts per generate call (bounds memory; results do not depend on it). */
  readonly batchSize?: number;
}

/** Correct iff the extracted answer passes the family's verifier (or, for imported data, the generic one). */
export function isCorrect(extracted: string | undefined, example: Example): boolean {
  if (extracted === undefined) return false;
  const family = getFamily(example.family);
  if (E.isRight(family)) return family.right.verify(extracted, example);
  return isEquivalent(extracted, example.answer);
}

const add = (t: Tally, correct: number, total: number): Tally => ({
  correct: t.correct + correct,
  total: t.total + total,
});

/** Greedy pass@1 and sampled avg@k of `policy` on `examples`. */
export async function evaluate(options: EvalOptions): Promise<SplitResult> {
  const { policy, tokenizer, tags, examples } = options;
  const contexts: ExampleContexts[] = examples.map((e) =>
    buildContexts({ tokenizer, tags, question: e.question, answer: e.answer }),
  );
  const batch = options.batchSize ?? 64;
  let greedy: Tally = { correct: 0, total: 0 };
  let sampled: Tally = { correct: 0, total: 0 };
  const byFamily: Record<string, Tally> = {};
  for (let start = 0; start < examples.length; start += batch) {
    const exs = examples.slice(start, start + batch);
    const ctx = contexts.slice(start, start + batch);
    const common = {
      contexts: ctx,
      maxNewTokens: options.maxNewTokens,
      ...(tokenizer.eosId !== undefined ? { eosId: tokenizer.eosId } : {}),
      tokenizer,
      tags,
    };
    const g = await sampleResponses(policy, {
      ...common,
      groupSize: 1,
      temperature: 0,
      seed: options.seed,
    });
    g.forEach((r) => {
      const ex = exs[r.exampleIndex] as Example;
      const ok = isCorrect(r.extractedAnswer, ex) ? 1 : 0;
      greedy = add(greedy, ok, 1);
      byFamily[ex.family] = add(byFamily[ex.family] ?? { correct: 0, total: 0 }, ok, 1);
    });
    if (options.samples > 0) {
      const s = await sampleResponses(policy, {
        ...common,
        groupSize: options.samples,
        temperature: options.temperature,
        seed: options.seed + start + 1,
      });
      s.forEach((r) => {
        sampled = add(
          sampled,
          isCorrect(r.extractedAnswer, exs[r.exampleIndex] as Example) ? 1 : 0,
          1,
        );
      });
    }
  }
  return { greedy, sampled: { ...sampled, k: options.samples }, byFamily };
}
