/**
 * The pretraining corpus: synthetic examples written in the three shapes the sampler's templates
 * use, so a small model pretrained from scratch already knows the PRIOR, POSTERIOR and NO-TRACE
 * layouts (methods.md §1 contexts, §7b "what the base model must already know").
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Family } from './families/define.js';
import { getFamily } from './families/registry.js';
import { seedFrom } from './hash.js';
import { Rng } from './rng.js';
import type { Example } from './schema.js';
import { shuffle } from './split.js';

/**
 * Tag strings (methods.md §1 table): configuration, never literals. Same shape as the sampler's
 * template tags, so one config object serves both packages.
 */
export interface CorpusTags {
  readonly questionPrefix: string;
  readonly thinkOpen: string;
  readonly thinkClose: string;
  readonly answerOpen: string;
  readonly answerClose: string;
  readonly separator: string;
}

/** PRIOR shape: `${questionPrefix}${q}${sep}${thinkOpen}${trace}${thinkClose}${sep}${answerOpen}${answer}${answerClose}` (methods.md §1 PRIOR-SCORE). */
export function formatPriorText(
  parts: { question: string; trace: string; answer: string },
  tags: CorpusTags,
): string {
  const { questionPrefix, separator, thinkOpen, thinkClose, answerOpen, answerClose } = tags;
  return `${questionPrefix}${parts.question}${separator}${thinkOpen}${parts.trace}${thinkClose}${separator}${answerOpen}${parts.answer}${answerClose}`;
}

/** POSTERIOR shape: `${questionPrefix}${q}${sep}${answerOpen}${answer}${answerClose}${sep}${thinkOpen}${trace}${thinkClose}` (methods.md §1 POSTERIOR). */
export function formatPosteriorText(
  parts: { question: string; trace: string; answer: string },
  tags: CorpusTags,
): string {
  const { questionPrefix, separator, thinkOpen, thinkClose, answerOpen, answerClose } = tags;
  return `${questionPrefix}${parts.question}${separator}${answerOpen}${parts.answer}${answerClose}${separator}${thinkOpen}${parts.trace}${thinkClose}`;
}

/** NO-TRACE shape: `${questionPrefix}${q}${sep}${answerOpen}${answer}${answerClose}` (methods.md §1 RLPR-BASELINE). */
export function formatNoTraceText(
  parts: { question: string; answer: string },
  tags: CorpusTags,
): string {
  const { questionPrefix, separator, answerOpen, answerClose } = tags;
  return `${questionPrefix}${parts.question}${separator}${answerOpen}${parts.answer}${answerClose}`;
}

/** Options of {@link buildPretrainCorpus}. Defaults follow methods.md §7b [OURS]. */
export interface PretrainCorpusOptions {
  /** Family names (see `families`); an unknown name throws, listing the valid ones. */
  readonly families: readonly string[];
  /** Examples per family before `familyWeights`. */
  readonly examplesPerFamily: number;
  readonly seed: number;
  /** One level, or several drawn in equal shares (e.g. `[1, 2, 3]`). */
  readonly difficulty: number | readonly number[];
  /** Share of POSTERIOR texts (default 0.33). */
  readonly posteriorShare?: number;
  /** Share of NO-TRACE texts (default 0.17); the rest are PRIOR. */
  readonly noTraceShare?: number;
  /** Probability a PRIOR trace has one wrong step, its answer following the trace (default 0.25). */
  readonly priorTraceErrorRate?: number;
  /** Probability a POSTERIOR trace has one wrong step; the shown answer stays true (default 0.05). */
  readonly posteriorTraceErrorRate?: number;
  readonly tags: CorpusTags;
  /** Per-family multiplier of `examplesPerFamily` (default 1), e.g. to give a transfer family a real share. */
  readonly familyWeights?: Readonly<Record<string, number>>;
  /** Questions never to emit (e.g. the RL train/test questions); replaced by fresh ones. */
  readonly excludeQuestions?: Iterable<string>;
}

/** Counts per shape. */
export interface ShapeCounts {
  total: number;
  prior: number;
  posterior: number;
  noTrace: number;
}

/** What went into the corpus; the app logs it (§7b: the mix decides how informative q is at step 0). */
export interface CorpusMix extends ShapeCounts {
  /** PRIOR texts whose trace (and answer) is wrong. */
  priorTraceErrors: number;
  /** POSTERIOR texts whose trace is wrong (the shown answer is still true). */
  posteriorTraceErrors: number;
  /** Generated questions dropped because they were in `excludeQuestions` (replaced). */
  excluded: number;
  byFamily: Record<string, ShapeCounts>;
  byDifficulty: Record<string, number>;
  /** The resolved shares and rates. */
  settings: {
    posteriorShare: number;
    noTraceShare: number;
    priorTraceErrorRate: number;
    posteriorTraceErrorRate: number;
    seed: number;
    stream: string;
  };
}

/** The seed stream of pretraining examples: disjoint from the RL stream (`rl`) by construction. */
export const PRETRAIN_STREAM = 'pretrain';

function checkUnit(name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) {
    throw new Error(`buildPretrainCorpus: ${name} must be in [0, 1], got ${value}`);
  }
}

/** `target` examples of one family and level from the pretraining stream, skipping excluded questions. */
function drawExamples(
  family: Family,
  options: { seed: number; difficulty: number; target: number; exclude: ReadonlySet<string> },
): { examples: Example[]; excluded: number } {
  const { seed, difficulty, target, exclude } = options;
  // Examples are prefix-stable in `count`, so growing the count only appends fresh candidates.
  let count = target;
  for (;;) {
    const all = family.generate({ seed, count, difficulty, stream: PRETRAIN_STREAM });
    const kept = all.filter((e) => !exclude.has(e.question));
    if (kept.length >= target || count > 8 * target + 64) {
      const examples = kept.slice(0, target);
      const used =
        examples.length === 0 ? 0 : all.indexOf(examples[examples.length - 1] as Example) + 1;
      return { examples, excluded: used - examples.length };
    }
    count *= 2;
  }
}

/**
 * Build the pretraining texts. For each family, `round(examplesPerFamily · weight)` examples are
 * drawn from the `pretrain` seed stream (disjoint from the RL examples' `rl` stream), levels in
 * equal shares. Each example independently becomes, with `u ~ U[0,1)` from `Rng(seedFrom('corpus',
 * seed))`: POSTERIOR if `u < posteriorShare` (trace with `posteriorTraceErrorRate`, shown answer
 * the true answer), NO-TRACE if `u < posteriorShare + noTraceShare`, else PRIOR (trace with
 * `priorTraceErrorRate`; the answer is the trace's `finalAnswer`, so a noisy trace ends in a
 * wrong answer). Texts are shuffled with `shuffle(texts, { seed })`. Throws on unknown families,
 * shares outside [0, 1] or summing above 1, and on a question or trace containing a tag string.
 */
export function buildPretrainCorpus(options: PretrainCorpusOptions): {
  texts: string[];
  mix: CorpusMix;
} {
  const {
    seed,
    tags,
    posteriorShare = 0.33,
    noTraceShare = 0.17,
    priorTraceErrorRate = 0.25,
    posteriorTraceErrorRate = 0.05,
  } = options;
  checkUnit('posteriorShare', posteriorShare);
  checkUnit('noTraceShare', noTraceShare);
  checkUnit('priorTraceErrorRate', priorTraceErrorRate);
  checkUnit('posteriorTraceErrorRate', posteriorTraceErrorRate);
  if (posteriorShare + noTraceShare > 1) {
    throw new Error(
      `buildPretrainCorpus: posteriorShare + noTraceShare must be <= 1, got ${posteriorShare} + ${noTraceShare}; lower one of them`,
    );
  }
  if (!Number.isInteger(options.examplesPerFamily) || options.examplesPerFamily < 0) {
    throw new Error(
      `buildPretrainCorpus: examplesPerFamily must be a non-negative integer, got ${options.examplesPerFamily}`,
    );
  }
  const levels =
    typeof options.difficulty === 'number' ? [options.difficulty] : [...options.difficulty];
  if (levels.length === 0) throw new Error('buildPretrainCorpus: difficulty list is empty');
  const tagStrings = [tags.thinkOpen, tags.thinkClose, tags.answerOpen, tags.answerClose].filter(
    (t) => t !== '',
  );
  const exclude = new Set(options.excludeQuestions ?? []);
  const mix: CorpusMix = {
    total: 0,
    prior: 0,
    posterior: 0,
    noTrace: 0,
    priorTraceErrors: 0,
    posteriorTraceErrors: 0,
    excluded: 0,
    byFamily: {},
    byDifficulty: {},
    settings: {
      posteriorShare,
      noTraceShare,
      priorTraceErrorRate,
      posteriorTraceErrorRate,
      seed,
      stream: PRETRAIN_STREAM,
    },
  };
  const rng = new Rng(seedFrom('corpus', seed));
  const texts: string[] = [];
  for (const name of options.families) {
    const found = getFamily(name);
    if (E.isLeft(found)) throw new Error(`buildPretrainCorpus: ${found.left}`);
    const family = found.right;
    const weight = options.familyWeights?.[name] ?? 1;
    if (!(weight >= 0))
      throw new Error(`buildPretrainCorpus: familyWeights.${name} must be >= 0, got ${weight}`);
    const total = Math.round(options.examplesPerFamily * weight);
    const counts: ShapeCounts = { total: 0, prior: 0, posterior: 0, noTrace: 0 };
    mix.byFamily[name] = counts;
    for (const [k, difficulty] of levels.entries()) {
      // Equal shares per level; the first levels take the remainder.
      const target = Math.floor(total / levels.length) + (k < total % levels.length ? 1 : 0);
      const drawn = drawExamples(family, { seed, difficulty, target, exclude });
      mix.excluded += drawn.excluded;
      for (const example of drawn.examples) {
        const u = rng.next();
        let text: string;
        let trace = '';
        if (u < posteriorShare) {
          const written = family.writeTrace(example, { errorRate: posteriorTraceErrorRate, rng });
          trace = written.trace;
          text = formatPosteriorText(
            { question: example.question, trace, answer: example.answer },
            tags,
          );
          counts.posterior += 1;
          mix.posterior += 1;
          if (written.corrupted) mix.posteriorTraceErrors += 1;
        } else if (u < posteriorShare + noTraceShare) {
          text = formatNoTraceText(example, tags);
          counts.noTrace += 1;
          mix.noTrace += 1;
        } else {
          const written = family.writeTrace(example, { errorRate: priorTraceErrorRate, rng });
          trace = written.trace;
          text = formatPriorText(
            { question: example.question, trace, answer: written.finalAnswer },
            tags,
          );
          counts.prior += 1;
          mix.prior += 1;
          if (written.corrupted) mix.priorTraceErrors += 1;
        }
        const clash = tagStrings.find((t) => example.question.includes(t) || trace.includes(t));
        if (clash !== undefined) {
          throw new Error(
            `buildPretrainCorpus: example ${example.id} contains the tag ${JSON.stringify(clash)}; choose tags that cannot occur in questions or traces`,
          );
        }
        texts.push(text);
        counts.total += 1;
        mix.total += 1;
        mix.byDifficulty[String(difficulty)] = (mix.byDifficulty[String(difficulty)] ?? 0) + 1;
      }
    }
  }
  return { texts: shuffle(texts, { seed }), mix };
}
