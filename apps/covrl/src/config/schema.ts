/**
 * The run configuration: one tree of defaults whose every leaf fixes the key's type (choice keys
 * typed by the libraries' registries, so their literal types reach the losses with no cast), a
 * table of the keys that take one of a few strings (derived from those registries), one preset
 * per budget, and the source of every default and preset value (the specification's markers:
 * [S: source], [OURS]). Each method's own preset lives in its spec (`../methods/`). Decoding
 * (see `decode.ts`) layers defaults < method preset < budget preset < file < flags and rejects
 * unknown keys; a later layer replaces an earlier one key by key.
 */
import { advantageMethods, aggregations } from '@covrl/grpo';
import type { AdvantageMethodName, AggregationName } from '@covrl/grpo';
import { klEstimators } from '@covrl/kl-estimators';
import type { KlEstimatorName } from '@covrl/kl-estimators';
import { rewardFormNames } from '@covrl/rewards';
import type { RewardForm } from '@covrl/rewards';
import {
  covrlLossDefaults as covrlLib,
  covrlLossRanges,
  grpoLossDefaults as grpoLib,
  grpoLossRanges,
  rlprLossDefaults as rlprLib,
  rlprLossRanges,
  verifreeLossDefaults as verifreeLib,
} from '@covrl/objectives';
import type { VerifreeLossOptions } from '@covrl/objectives';
import type { NumberRange } from '@covrl/utils';

/** The value of `covrl.klEstimator`: the paper's composite estimator or a per-token one. */
export type CovrlKlChoice = 'composite' | KlEstimatorName;

/** A default whose type is the union of its choices (`choice<AggregationName>('token-mean')`). */
const choice = <T extends string>(value: T): T => value;

export const BUDGET_PRESETS = ['quick', 'standard', 'study'] as const;
export type BudgetPreset = (typeof BUDGET_PRESETS)[number];

/** Every key with its default. Leaves are numbers, strings, booleans or string arrays. */
export const DEFAULTS = {
  /** A registered method (`../methods/index.ts`); checked against the registry when decoded. */
  method: 'covrl' as string,
  seed: 1,
  /** Where runs are written: `<runDir>/<runName>/`. */
  runDir: 'runs',
  runName: '',
  model: {
    family: choice<'gpt2' | 'llama'>('gpt2'),
    dModel: 128,
    nLayers: 4,
    nHeads: 4,
    dFf: 512,
    maxContext: 256,
  },
  tags: {
    questionPrefix: 'Question: ',
    thinkOpen: '<think>',
    thinkClose: '</think>',
    answerOpen: '<answer>',
    answerClose: '</answer>',
    separator: '\n',
  },
  data: {
    /** Synthetic families used for RL training (in-domain) and for the transfer split. */
    trainFamilies: ['addition', 'linear-equation', 'rate'],
    transferFamilies: ['deduction', 'string-ops', 'ordering'],
    trainPerFamily: 400,
    testPerFamily: 100,
    difficulty: 2,
    /**
     * The `hard` split's level. 0: level `difficulty + 1` of the RL families, which pretraining
     * never shows (the old task); 1..3: that level of the RL families, covered by the pretraining
     * corpus and mixed into the RL pool by `hardPoolShare` (issue 12).
     */
    hardLevel: 0,
    /** Share of each RL family's pool drawn at `hardLevel` (needs `hardLevel` ≥ 1). */
    hardPoolShare: 0,
    /** Families sharing a sub-skill with the RL families: pretrained on, never RL-trained. */
    nearTransferFamilies: [] as string[],
    /** Unrelated pretrained families where no method should move. */
    farControlFamilies: [] as string[],
    /** Validation questions per RL family (settings only, never reported); 0: none. */
    validationPerFamily: 0,
  },
  pretrain: {
    steps: 800,
    batchSize: 64,
    lr: 1e-3,
    warmupSteps: 50,
    examplesPerFamily: 4000,
    posteriorShare: 0.33,
    noTraceShare: 0.17,
    priorTraceErrorRate: 0.25,
    posteriorTraceErrorRate: 0.05,
    evalEvery: 200,
    /**
     * The base is the latest evaluated step whose in-domain greedy accuracy lies in
     * [targetLow, targetHigh] (RL needs headroom, spec §7b); the most accurate step if none does.
     */
    targetLow: 0.2,
    targetHigh: 0.6,
  },
  train: {
    steps: 80,
    questionsPerStep: 16,
    groupSize: 8,
    temperature: 1.0,
    maxTraceTokens: 128,
    maxAnswerTokens: 16,
    lr: 1e-5,
    lrSchedule: choice<'constant' | 'cosine'>('constant'),
    warmupFraction: 0.05,
    weightDecay: 0.0,
    gradClip: 1.0,
    miniBatches: 2,
    evalEvery: 20,
    checkpointEvery: 20,
    logSamples: 2,
    /** Consecutive collapsed steps (no rollout contributes, or zero gradient) that stop a run. */
    collapsePatience: 10,
  },
  // Loss options take the defaults of the loss that reads them (`@covrl/objectives`), so a
  // default lives in one place; the keys below without a library counterpart are the app's own.
  covrl: {
    alpha: covrlLib.alpha as number,
    hybridSplit: choice<'deterministic' | 'random'>('deterministic'),
    priorWeight: covrlLib.priorWeight as number,
    rewardForm: choice<RewardForm>('log-prob-sum'),
    invalidRewardMargin: 1.0,
    advantageMethod: choice<AdvantageMethodName>(covrlLib.advantage),
    clipLow: covrlLib.clipLow as number,
    clipHigh: covrlLib.clipHigh as number,
    klCoef: covrlLib.klCoef as number,
    nllCoef: covrlLib.nllCoef as number,
    logRatioClamp: covrlLib.logRatioClamp as number,
    aggregation: choice<AggregationName>(covrlLib.aggregation),
    klEstimator: choice<CovrlKlChoice>(covrlLib.klEstimator),
  },
  verifree: {
    rewardForm: choice<RewardForm>('prob'),
    answerTermWeight: choice<NonNullable<VerifreeLossOptions['answerTermWeight']>>(
      verifreeLib.answerTermWeight,
    ),
    advantageMethod: choice<AdvantageMethodName>(verifreeLib.advantage),
    includeCloseTag: true,
    maxAnswerTokens: 8,
  },
  rlpr: {
    rewardForm: choice<RewardForm>('mean-prob'),
    debias: true,
    formatWeight: 0.1,
    repetitionWindow: 10,
    repetitionMinRepeats: 10,
    advantageMethod: choice<AdvantageMethodName>(rlprLib.advantage),
    clipLow: rlprLib.clipLow as number,
    clipHigh: rlprLib.clipHigh as number,
    stdFilter: true,
    stdFilterUpdate: choice<'per-round' | 'accumulated'>('per-round'),
    splice: choice<'token' | 'string'>('token'),
    stdFilterBeta: 0.5,
    stdFilterDecay: 0.99,
    emaStartStep: 6,
    filterStartStep: 11,
    maxGenerationRounds: 4,
    baselineContext: choice<'no-think' | 'empty-think'>('no-think'),
    traceOnlyGradient: false,
    entropyCoef: rlprLib.entropyCoef as number,
  },
  grpo: {
    advantageMethod: choice<AdvantageMethodName>(grpoLib.advantage),
    clipLow: grpoLib.clipLow as number,
    clipHigh: grpoLib.clipHigh as number,
    klCoef: grpoLib.klCoef as number,
  },
  eval: {
    /** Greedy pass@1 plus avg@k with k samples at `temperature`. */
    samples: 4,
    temperature: 1.0,
    maxQuestions: 200,
    maxNewTokens: 160,
  },
};

export type Config = typeof DEFAULTS;

const ADVANTAGES = Object.keys(advantageMethods) as readonly AdvantageMethodName[];
/** The reward forms a probability-reward method accepts (VeriFree and RLPR price a probability). */
const PROBABILITY_FORMS = rewardFormNames.filter((f) => !f.startsWith('log-'));

/**
 * Keys restricted to a fixed set of strings. The method-choice lists come from the libraries'
 * registries (`advantageMethods`, `aggregations`, `klEstimators`, `rewardFormNames`), so a name
 * added to a registry is selectable here with no second list to edit. `method` is checked
 * against the method registry when decoding.
 */
export const ENUMS: Readonly<Record<string, readonly string[]>> = {
  'model.family': ['gpt2', 'llama'],
  'train.lrSchedule': ['constant', 'cosine'],
  'covrl.hybridSplit': ['deterministic', 'random'],
  'covrl.rewardForm': rewardFormNames,
  'covrl.advantageMethod': ADVANTAGES,
  'covrl.aggregation': Object.keys(aggregations),
  'covrl.klEstimator': ['composite', ...Object.keys(klEstimators)],
  'verifree.rewardForm': PROBABILITY_FORMS,
  'verifree.answerTermWeight': ['reward', 'adv', '1'],
  'verifree.advantageMethod': ADVANTAGES,
  'rlpr.rewardForm': PROBABILITY_FORMS,
  'rlpr.advantageMethod': ADVANTAGES,
  'rlpr.stdFilterUpdate': ['per-round', 'accumulated'],
  'rlpr.splice': ['token', 'string'],
  'rlpr.baselineContext': ['no-think', 'empty-think'],
  'grpo.advantageMethod': ADVANTAGES,
};

/**
 * The range of every key that a library loss reads, taken from that loss's own ranges table: the
 * library checks the same range when it is called, so the config and the loss cannot disagree.
 * `config/decode.ts` checks these keys with the keys of its own tables.
 */
export const LIBRARY_RANGES: Readonly<Record<string, NumberRange>> = {
  'covrl.alpha': covrlLossRanges.alpha,
  'covrl.priorWeight': covrlLossRanges.priorWeight,
  'covrl.clipLow': covrlLossRanges.clipLow,
  'covrl.clipHigh': covrlLossRanges.clipHigh,
  'covrl.klCoef': covrlLossRanges.klCoef,
  'covrl.nllCoef': covrlLossRanges.nllCoef,
  'covrl.logRatioClamp': covrlLossRanges.logRatioClamp,
  'rlpr.clipLow': rlprLossRanges.clipLow,
  'rlpr.clipHigh': rlprLossRanges.clipHigh,
  'rlpr.entropyCoef': rlprLossRanges.entropyCoef,
  'grpo.clipLow': grpoLossRanges.clipLow,
  'grpo.clipHigh': grpoLossRanges.clipHigh,
  'grpo.klCoef': grpoLossRanges.klCoef,
};

/**
 * Where each default comes from, in the specification's markers ([S: source], [OURS]): every
 * method hyperparameter (the four method blocks and `train.*`) and the evaluation keys. Presets
 * carry their own sources ({@link METHOD_PRESET_ENTRIES}, {@link BUDGET_ENTRIES}); `covrl config
 * --explain` prints, for the resolved config of a method and budget, the source of the layer
 * that set each key and the layers it replaced. A run's first log record holds the resolved
 * config and the command line, so the same `config --explain` arguments give its sources.
 */
export const SOURCES: Readonly<Record<string, string>> = {
  'covrl.alpha': '[S: CoVRL paper §3.4, best of 0.1/0.5/0.9]',
  'covrl.hybridSplit': '[OURS] deterministic round(α·G) prior rows',
  'covrl.priorWeight': '[S: CoVRL paper §2.3]',
  'covrl.rewardForm': '[OURS form; S: reward is log p_θold(y|z,x)]',
  'covrl.invalidRewardMargin': '[OURS] worst valid reward minus a margin',
  'covrl.advantageMethod': '[S: mean baseline shown; no std is OURS]',
  'covrl.clipLow': '[S: CoVRL paper, ε = 0.3]',
  'covrl.clipHigh': '[OURS] symmetric',
  'covrl.klCoef': '[OURS] 1.0, swept; [S: 0.1 collapses]',
  'covrl.nllCoef': '[OURS] 1.0, swept; [S: lowering it hurts]',
  'covrl.logRatioClamp': '[OURS] numerical safety',
  'covrl.aggregation': '[OURS] token-mean for PG, KL and NLL',
  'covrl.klEstimator': '[S: CoVRL paper] source-dependent composite estimator',
  'verifree.rewardForm': '[S: VeriFree reference code] sequence probability',
  'verifree.answerTermWeight': '[S: VeriFree reference code]',
  'verifree.advantageMethod': '[S: VeriFree reference code] RLOO, no std',
  'verifree.includeCloseTag': '[OURS] mirrors VeriFree pricing format tokens',
  'verifree.maxAnswerTokens': '[OURS] reference data kept answers of ≤ ~7 tokens',
  'rlpr.rewardForm': '[S: RLPR reference code] mean token probability',
  'rlpr.debias': '[S: RLPR reference code] r′ from the initial model, frozen',
  'rlpr.formatWeight': '[S: RLPR reference code] 0.1',
  'rlpr.repetitionWindow': '[S] 10 words',
  'rlpr.repetitionMinRepeats': '[S] 10 repeats',
  'rlpr.advantageMethod': '[S: RLPR reference code] grpo with std',
  'rlpr.clipLow': '[S: RLPR reference code]',
  'rlpr.clipHigh': '[S: RLPR reference code]',
  'rlpr.stdFilter': '[S: RLPR reference code]',
  'rlpr.splice':
    "[OURS] 'token': reference ids after the sampled <answer> ids (spec §2); 'string': the faithful mode of the RLPR reference, the reference text spliced into the decoded response and re-tokenized, answer tokens selected by offsets",
  'rlpr.stdFilterUpdate':
    "[OURS] 'per-round' (each kept round updated in turn); 'accumulated' scores every survivor with the policy that sampled it and updates once, as the reference does",
  'rlpr.stdFilterBeta': '[S: Qwen2.5-7B script]',
  'rlpr.stdFilterDecay': '[S: RLPR reference code]',
  'rlpr.emaStartStep': '[S: RLPR reference code]',
  'rlpr.filterStartStep': '[S: RLPR reference code]',
  'rlpr.maxGenerationRounds': '[OURS] cap of 4 rounds',
  'rlpr.baselineContext': '[OURS] Question: {x}\\n<answer>{y}</answer>',
  'rlpr.traceOnlyGradient': '[OURS] non-default option (spec §7b)',
  'rlpr.entropyCoef':
    '[OURS] 0 (reference: 0.001); > 0 adds the full-vocabulary entropy of the response tokens',
  'grpo.advantageMethod': '[OURS] identical to RLPR so RLPR vs GRPO isolates the reward',
  'grpo.clipLow': '[OURS] as RLPR',
  'grpo.clipHigh': '[OURS] as RLPR',
  'grpo.klCoef':
    '[OURS] 0; [S: verl] 0.001 with lowVarKl when enabled; the reference is the frozen initial model',
  'train.steps': "[OURS] spec §7b's measured small run: 80 RL steps",
  'train.groupSize': '[S: CoVRL, VeriFree, RLPR papers] G = 8',
  'train.questionsPerStep': '[OURS] (papers: 192 CoVRL, 16 VeriFree)',
  'train.temperature': '[S: CoVRL paper, RLPR reference code] 1.0',
  'train.maxTraceTokens': '[OURS] (paper: 2048)',
  'train.maxAnswerTokens':
    '[OURS] answer block of a FULL-SAMPLE response (RLPR, GRPO): trace + answer + 4 tag tokens',
  'train.lr': '[OURS] 1e-5, to be tuned (spec §4–§6; papers: 1e-6 at 7B)',
  'train.lrSchedule': "[OURS] 'constant'; every method preset sets its own",
  'train.warmupFraction':
    '[OURS] 5 % linear warm-up (spec §4, CoVRL); every method preset sets its own',
  'train.weightDecay': '[OURS] 0; AdamW β = (0.9, 0.95) [S: reference framework defaults]',
  'train.gradClip': '[OURS, verl/oat default] 1.0',
  'train.evalEvery': '[OURS] in-run greedy evaluations on the in-domain split',
  'train.checkpointEvery': '[OURS] checkpoints for --resume',
  'train.logSamples': '[OURS] sampled completions logged per step with their reward terms',
  'train.collapsePatience':
    '[OURS] 10 consecutive steps with no contributing rollout (or zero gradient) stop a run as collapsed: a third of the quick budget, an eighth of the standard; at the quick batch (8 × 8 rows) a healthy run from a base in the 20–60 % band practically never has a step where all 64 rows are invalid, let alone ten in a row',
  'train.miniBatches':
    '[OURS] 2 (spec §4 CoVRL; spec §6 RLPR and GRPO, reference 4); VeriFree sets 1',
  'eval.samples': '[OURS] avg@k beside greedy pass@1 (spec §7b: report both)',
  'eval.temperature': '[OURS] sampled accuracy at the training temperature',
  'eval.maxQuestions': '[OURS] spec §7b: 200 questions give about ±3.5 points',
  'eval.maxNewTokens': '[OURS] room for a trace and the answer block',
  'pretrain.posteriorShare': '[OURS] spec §7b: about a third',
  'pretrain.priorTraceErrorRate': '[OURS] spec §7b: 25 %',
  'pretrain.posteriorTraceErrorRate': '[OURS] spec §7b: 5 %',
  'pretrain.targetLow': '[OURS] spec §7b: base 20–60 % on the RL training distribution',
  'pretrain.targetHigh': '[OURS] spec §7b: base 20–60 % on the RL training distribution',
};

/** A preset value with the source that justifies it. */
export interface Cited {
  readonly value: unknown;
  readonly source: string;
}

export const cite = (value: unknown, source: string): Cited => ({ value, source });

/** A tree of dotted keys (`{ 'train.lr': 1e-5 }` → `{ train: { lr: 1e-5 } }`). */
export function treeOf(entries: Readonly<Record<string, Cited>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, { value }] of Object.entries(entries)) {
    const parts = path.split('.');
    let node = out;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1] as string] = value;
  }
  return out;
}

export const SPEC_LR = (section: string, reference: string): string =>
  `[OURS] spec ${section}: 1e-5, to be tuned (${reference}); every budget preset replaces it (see the budget's train.lr)`;

const EMBEDDED_BASE =
  '[OURS] the embedded base model apps/covrl/assets/base-quick (0.12 M parameters), shared by both budgets so neither needs pretraining';
const HOW_BASE_WAS_MADE =
  '[OURS] how the embedded base was made (`covrl pretrain --preset quick`); spec §7b: pretraining has a sharp transition, so evaluate often and pick the base by evaluation';

/**
 * The base model and task both budgets share: a small character GPT pretrained on `addition` and
 * `string-ops`, so one embedded base (`apps/covrl/assets/base-quick`) serves both. Larger models
 * and all six families are one `--config` file away (and then `compare` pretrains their base).
 */
const SHARED_BASE: Readonly<Record<string, Cited>> = {
  'model.dModel': cite(64, EMBEDDED_BASE),
  'model.nLayers': cite(2, EMBEDDED_BASE),
  'model.nHeads': cite(4, EMBEDDED_BASE),
  'model.dFf': cite(256, EMBEDDED_BASE),
  'model.maxContext': cite(192, EMBEDDED_BASE),
  'data.trainFamilies': cite(
    ['addition'],
    '[OURS] one math family for RL; its level-3 questions form the hard split (spec §7b)',
  ),
  'data.transferFamilies': cite(
    ['string-ops'],
    '[OURS] a non-math family the base saw in pretraining but RL never trains (spec §7b: a transfer family needs a real share of pretraining)',
  ),
  'data.trainPerFamily': cite(400, '[OURS] RL training pool of the embedded base'),
  'data.testPerFamily': cite(
    100,
    '[OURS] 100 held-out questions per family (spec §7b: 200 give about ±3.5 points)',
  ),
  'pretrain.steps': cite(1500, HOW_BASE_WAS_MADE),
  'pretrain.batchSize': cite(32, HOW_BASE_WAS_MADE),
  'pretrain.lr': cite(3e-3, HOW_BASE_WAS_MADE),
  'pretrain.examplesPerFamily': cite(2000, HOW_BASE_WAS_MADE),
  'pretrain.evalEvery': cite(100, HOW_BASE_WAS_MADE),
  'eval.samples': cite(4, '[OURS] avg@4 beside greedy pass@1 (spec §7b: report both)'),
  'eval.maxQuestions': cite(100, '[OURS] every held-out question (100 per family)'),
  'eval.maxNewTokens': cite(96, '[OURS] room for a 64-token trace and the answer block'),
};

const SMALL_SCALE_LR =
  "[OURS] small-scale budget, for every method (replaces the method presets' 1e-5): the spec's 1e-5 (§4–§6) is a starting point 'to be tuned', and spec §7b (a measured 0.8 M-parameter character GPT) says to sweep 3e-5 and 1e-4; this 0.12 M-parameter base trains for only 30–80 steps, so the upper value is used. Not tuned per method";
const TRACE_BUDGET =
  '[OURS] the addition traces of this task take about 32 tokens (spec: 256 char-level, paper: 2048)';
const G8 = '[S: CoVRL, VeriFree, RLPR papers] G = 8';

const STUDY_BASE_RUN =
  '[OURS] the embedded study base apps/covrl/assets/base-study (0.12 M parameters, 4500 steps, 510 s): measured before any RL in docs/results/study/base-measurements.md (in-domain greedy 27 %, hard avg@8 4.6 %: in band; hard posterior step-correct 1.3 % and near-transfer 11 %: below the issue-12 targets)';
const ISSUE_12 =
  '[OURS] issue 12: a task where posterior-guided exploration can matter; spec §7b: searches whose answer makes the trace a check';

/**
 * The task and base model of the `study` budget (issue 12): RL on `pair-sum` (find the pair of
 * listed numbers that sums to the target; a guess-and-check trace, so the POSTERIOR only has to
 * write the check), its level-3 questions (8 numbers, 28 pairs) pretrained on, a quarter of the
 * RL pool, and reported as `hard`; `pair-diff` (the same search with subtraction) as the
 * near-transfer split and `string-ops` as the far control; a validation split for choosing
 * settings. The reverse direction (RL on a non-math family, evaluated on the math families) is
 * the same keys with the lists swapped, e.g. `--set data.trainFamilies=string-ops --set
 * data.nearTransferFamilies=pair-sum --set data.farControlFamilies=pair-diff --set
 * data.hardLevel=0 --set data.hardPoolShare=0` (then the base is pretrained for that config).
 */
const STUDY_TASK: Readonly<Record<string, Cited>> = {
  'model.dModel': cite(64, STUDY_BASE_RUN),
  'model.nLayers': cite(2, STUDY_BASE_RUN),
  'model.nHeads': cite(4, STUDY_BASE_RUN),
  'model.dFf': cite(256, STUDY_BASE_RUN),
  'model.maxContext': cite(
    192,
    '[OURS] the longest study text (a level-3 question, three tries, the answer) is 137 characters',
  ),
  'data.trainFamilies': cite(['pair-sum'], ISSUE_12),
  'data.transferFamilies': cite([], '[OURS] replaced by the near-transfer and far-control splits'),
  'data.nearTransferFamilies': cite(
    ['pair-diff'],
    '[OURS] issue 12: shares the pair search and the two-digit check with pair-sum, pretrained on, never RL-trained',
  ),
  'data.farControlFamilies': cite(
    ['string-ops'],
    '[OURS] issue 12: an unrelated pretrained family where no method should move',
  ),
  'data.trainPerFamily': cite(400, '[OURS] as the other budgets'),
  'data.testPerFamily': cite(
    100,
    '[OURS] 100 held-out questions per split (spec §7b: 200 give about ±3.5 points)',
  ),
  'data.difficulty': cite(2, '[OURS] pair-sum level 2: 5 numbers in 10..49, 10 pairs'),
  'data.hardLevel': cite(
    3,
    '[OURS] issue 12: pair-sum level 3 (8 numbers, 28 pairs), covered by pretraining, rarely solved by a guessing prior',
  ),
  'data.hardPoolShare': cite(
    0.25,
    '[OURS] issue 12: the RL pool mixes hard questions with easier ones',
  ),
  'data.validationPerFamily': cite(
    100,
    '[OURS] issue 12: a validation split for the learning-rate sweep, never reported',
  ),
  'pretrain.steps': cite(4500, STUDY_BASE_RUN),
  'pretrain.batchSize': cite(32, STUDY_BASE_RUN),
  'pretrain.lr': cite(3e-3, STUDY_BASE_RUN),
  'pretrain.warmupSteps': cite(100, STUDY_BASE_RUN),
  'pretrain.examplesPerFamily': cite(6000, STUDY_BASE_RUN),
  'pretrain.evalEvery': cite(500, STUDY_BASE_RUN),
  'eval.samples': cite(8, '[OURS] issue 12: pass@8 and avg@8'),
  'eval.maxQuestions': cite(100, '[OURS] every held-out question (100 per split)'),
  'eval.maxNewTokens': cite(96, '[OURS] room for three tries (about 45 characters) and the answer'),
  'train.maxTraceTokens': cite(
    64,
    '[OURS] a pair-sum trace of three tries is at most 47 characters',
  ),
};

/**
 * Budget presets: how much RL compute a run or comparison spends, each value with its source.
 * `quick` (30 steps of 8 × 8 rollouts, two seeds in `compare`) took 1 min 30 s on two cores with
 * OpenBLAS and 5 min 37 s without; `standard` (80 steps of 16 × 8 rollouts, the papers' G = 8,
 * three seeds) 14 min 31 s with OpenBLAS on cores shared with other jobs (all measured
 * 2026-12-01). Applied over the method preset: a budget key replaces the method's.
 */
export const BUDGET_ENTRIES: Readonly<Record<BudgetPreset, Readonly<Record<string, Cited>>>> = {
  quick: {
    ...SHARED_BASE,
    'train.steps': cite(
      30,
      '[OURS] quick budget: every method × 2 seeds in 1.5 min on 2 cores with OpenBLAS (5.6 without)',
    ),
    'train.questionsPerStep': cite(8, "[OURS] quick budget (spec §7b's run: 16)"),
    'train.groupSize': cite(8, G8),
    'train.maxTraceTokens': cite(64, TRACE_BUDGET),
    'train.lr': cite(1e-4, SMALL_SCALE_LR),
    'train.evalEvery': cite(10, '[OURS] two in-run evaluations'),
    'train.checkpointEvery': cite(10, '[OURS] three checkpoints'),
  },
  standard: {
    ...SHARED_BASE,
    'train.steps': cite(80, "[OURS] spec §7b's measured small run: 80 RL steps"),
    'train.questionsPerStep': cite(16, "[OURS] spec §7b's measured small run: 16 questions"),
    'train.groupSize': cite(8, G8),
    'train.maxTraceTokens': cite(64, TRACE_BUDGET),
    'train.lr': cite(1e-4, SMALL_SCALE_LR),
    'train.evalEvery': cite(20, '[OURS] three in-run evaluations'),
    'train.checkpointEvery': cite(20, '[OURS] four checkpoints'),
  },
  study: {
    ...STUDY_TASK,
    'train.steps': cite(
      80,
      "[OURS] the standard budget's 80 steps (spec §7b's measured run); the study's run time with --jobs 2 is not measured yet",
    ),
    'train.questionsPerStep': cite(16, "[OURS] spec §7b's measured small run: 16 questions"),
    'train.groupSize': cite(8, G8),
    'train.lr': cite(1e-4, SMALL_SCALE_LR),
    'train.evalEvery': cite(20, '[OURS] three in-run evaluations'),
    'train.checkpointEvery': cite(20, '[OURS] four checkpoints'),
  },
};

/** Budget presets as config trees (see {@link BUDGET_ENTRIES}). */
export const BUDGETS: Readonly<Record<BudgetPreset, Record<string, unknown>>> = {
  quick: treeOf(BUDGET_ENTRIES.quick),
  standard: treeOf(BUDGET_ENTRIES.standard),
  study: treeOf(BUDGET_ENTRIES.study),
};
