/**
 * Evaluation of a model on every split of a task, and the flat metrics the logs record. Shared by
 * the trainer (final evaluation), `pretrain` (choosing the base step) and `compare` (the base
 * rows), so none of them reaches into another's module.
 */
import type { CausalLM } from '@covrl/models';
import type { Tokenizer } from '@covrl/sampler';
import type { Config } from '../config/schema.js';
import type { SplitResult } from '../report/results.js';
import { tagsOf } from '../task.js';
import type { Task } from '../task.js';
import { evaluate } from './evaluate.js';

/** Greedy pass@1 of a split, correct / total (0 for an empty split, never NaN). */
export const accuracy = (s: SplitResult): number => s.greedy.correct / Math.max(1, s.greedy.total);

/** Evaluate the model on every split of the task (at most `eval.maxQuestions` each). */
export async function evaluateSplits(
  config: Config,
  model: CausalLM,
  tokenizer: Tokenizer,
  task: Task,
  seed: number,
): Promise<Record<string, SplitResult>> {
  const out: Record<string, SplitResult> = {};
  for (const [name, examples] of Object.entries(task.splits)) {
    out[name] = await evaluate({
      policy: model,
      tokenizer,
      tags: tagsOf(config),
      examples: examples.slice(0, config.eval.maxQuestions),
      samples: config.eval.samples,
      temperature: config.eval.temperature,
      maxNewTokens: config.eval.maxNewTokens,
      maxContext: model.config.maxContext,
      seed,
    });
  }
  return out;
}

/**
 * The final evaluation as flat metrics for the log: per split greedy accuracy, sampled avg@k and
 * the reference answer's log-likelihood after the model's own greedy trace; `eval/accuracy` and
 * `eval/answer_logprob` are the in-domain values (the spec's CoVRL metrics, §4).
 */
export function flatEvalMetrics(splits: Record<string, SplitResult>): Record<string, number> {
  const flat: Record<string, number> = {};
  for (const [name, s] of Object.entries(splits)) {
    flat[`eval/${name}/accuracy`] = accuracy(s);
    flat[`eval/${name}/avg_at_k`] = s.sampled.correct / Math.max(1, s.sampled.total);
    if (s.answerLogProb !== undefined) flat[`eval/${name}/answer_logprob`] = s.answerLogProb;
  }
  flat['eval/accuracy'] = flat['eval/in-domain/accuracy'] ?? 0;
  const lp = flat['eval/in-domain/answer_logprob'];
  if (lp !== undefined) flat['eval/answer_logprob'] = lp;
  return flat;
}
