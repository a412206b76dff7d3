/**
 * Token budgets checked when the config is decoded, on the task the config builds (its questions
 * and the character tokenizer of `task.ts`), so a run cannot fail after training because an
 * evaluation prompt and `eval.maxNewTokens` overflow `model.maxContext`, or at step 1 because a
 * training context does (methods.md §3.1). A base with another tokenizer is still checked at run
 * time by the sampler, which names the row.
 */
import { buildContexts } from '@covrl/sampler';
import type { ExampleContexts } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import type { Config } from './config/schema.js';
import { buildTask, makeTokenizer, tagsOf } from './task.js';

/** Tokens of a FULL-SAMPLE response (RLPR, GRPO): the trace, the answer block and 4 tag tokens. */
export function responseTokens(config: Pick<Config, 'train'>): number {
  return config.train.maxTraceTokens + config.train.maxAnswerTokens + 4;
}

interface Longest {
  readonly tokens: number;
  readonly example: Example;
}

function longest(
  examples: readonly Example[],
  contexts: readonly ExampleContexts[],
  size: (c: ExampleContexts) => number,
): Longest | undefined {
  let best: Longest | undefined;
  examples.forEach((example, i) => {
    const tokens = size(contexts[i] as ExampleContexts);
    if (best === undefined || tokens > best.tokens) best = { tokens, example };
  });
  return best;
}

/**
 * Every evaluation prompt plus `eval.maxNewTokens`, and every training context of the method
 * (PRIOR-SCORE and POSTERIOR with `train.maxTraceTokens` for CoVRL and VeriFree; the prompt plus
 * the response budget for RLPR and GRPO) must fit `model.maxContext`. Each message says what to
 * set. Call only on a config whose families and tags are valid.
 */
export function checkContextBudgets(c: Config): string[] {
  const errors: string[] = [];
  const tags = tagsOf(c);
  const tokenizer = makeTokenizer(tags);
  const task = buildTask(c);
  const contextsOf = (xs: readonly Example[]): ExampleContexts[] =>
    xs.map((x) =>
      buildContexts({
        tokenizer,
        tags,
        question: x.question,
        answer: x.answer,
        baselineContext: c.rlpr.baselineContext,
      }),
    );
  const max = c.model.maxContext;

  const evalExamples = Object.values(task.splits).flat();
  const prompt = longest(evalExamples, contextsOf(evalExamples), (x) => x.priorPrefix.length);
  if (prompt !== undefined && prompt.tokens + c.eval.maxNewTokens > max) {
    errors.push(
      `'eval.maxNewTokens' (${c.eval.maxNewTokens}) plus the longest evaluation prompt (${prompt.tokens} tokens, ${prompt.example.family} question ${JSON.stringify(prompt.example.question)}) exceeds 'model.maxContext' (${max}); set eval.maxNewTokens to at most ${max - prompt.tokens} or raise model.maxContext to ${prompt.tokens + c.eval.maxNewTokens}`,
    );
  }

  const pool = contextsOf(task.train);
  const trace = c.train.maxTraceTokens;
  if (c.method === 'covrl' || c.method === 'verifree') {
    // PRIOR-SCORE: prompt ‖ trace ‖ `\n<answer>` ‖ y ‖ `</answer>`; POSTERIOR: answer-first prefix ‖ trace.
    const need = longest(task.train, pool, (x) =>
      Math.max(
        x.posteriorPrefix.length,
        x.priorPrefix.length + x.answerOpen.length + x.answer.length + x.answerClose.length,
      ),
    );
    if (need !== undefined && need.tokens + trace > max) {
      errors.push(
        `'train.maxTraceTokens' (${trace}) plus the longest scored context without its trace (${need.tokens} tokens, training question ${JSON.stringify(need.example.question)}) exceeds 'model.maxContext' (${max}); set train.maxTraceTokens to at most ${max - need.tokens} or raise model.maxContext to ${need.tokens + trace}`,
      );
    }
  } else {
    const need = longest(task.train, pool, (x) => x.priorPrefix.length);
    const response = responseTokens(c);
    if (need !== undefined && need.tokens + response > max) {
      errors.push(
        `the response budget ('train.maxTraceTokens' ${trace} + 'train.maxAnswerTokens' ${c.train.maxAnswerTokens} + 4 tag tokens) plus the longest training prompt (${need.tokens} tokens, question ${JSON.stringify(need.example.question)}) exceeds 'model.maxContext' (${max}); lower train.maxTraceTokens to at most ${max - need.tokens - c.train.maxAnswerTokens - 4} or raise model.maxContext to ${need.tokens + response}`,
      );
    }
  }
  return errors;
}
