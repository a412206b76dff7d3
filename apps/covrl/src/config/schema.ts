/**
 * The run configuration: one tree of defaults whose every leaf fixes the key's type, a table of the
 * keys that take one of a few strings, and the source of every method hyperparameter (the
 * specification's markers: [S: source], [OURS]). Decoding (see `decode.ts`) layers
 * defaults < preset < file < flags and rejects unknown keys.
 */

export const METHODS = ['covrl', 'verifree', 'rlpr', 'grpo'] as const;
export type Method = (typeof METHODS)[number];

export const BUDGET_PRESETS = ['quick', 'standard'] as const;
export type BudgetPreset = (typeof BUDGET_PRESETS)[number];

/** Every key with its default. Leaves are numbers, strings, booleans or string arrays. */
export const DEFAULTS = {
  method: 'covrl' as Method,
  seed: 1,
  /** Where runs are written: `<runDir>/<runName>/`. */
  runDir: 'runs',
  runName: '',
  model: {
    family: 'gpt2',
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
    lrSchedule: 'constant',
    warmupFraction: 0.05,
    weightDecay: 0.0,
    gradClip: 1.0,
    miniBatches: 2,
    evalEvery: 20,
    checkpointEvery: 20,
    logSamples: 2,
  },
  covrl: {
    alpha: 0.5,
    hybridSplit: 'deterministic',
    priorWeight: 0.5,
    rewardForm: 'log-prob-sum',
    invalidRewardMargin: 1.0,
    advantageMethod: 'dr-grpo',
    clipLow: 0.3,
    clipHigh: 0.3,
    klCoef: 1.0,
    nllCoef: 1.0,
    logRatioClamp: 20,
    aggregation: 'token-mean',
    klEstimator: 'composite',
  },
  verifree: {
    rewardForm: 'prob',
    answerTermWeight: 'reward',
    advantageMethod: 'rloo',
    includeCloseTag: true,
    maxAnswerTokens: 8,
  },
  rlpr: {
    rewardForm: 'mean-prob',
    debias: true,
    formatWeight: 0.1,
    repetitionWindow: 10,
    repetitionMinRepeats: 10,
    advantageMethod: 'grpo',
    clipLow: 0.2,
    clipHigh: 0.27,
    stdFilter: true,
    stdFilterBeta: 0.5,
    stdFilterDecay: 0.99,
    emaStartStep: 6,
    filterStartStep: 11,
    maxGenerationRounds: 4,
    baselineContext: 'no-think',
    traceOnlyGradient: false,
    entropyCoef: 0,
  },
  grpo: {
    advantageMethod: 'grpo',
    clipLow: 0.2,
    clipHigh: 0.27,
    klCoef: 0,
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

/** Keys restricted to a fixed set of strings. */
export const ENUMS: Readonly<Record<string, readonly string[]>> = {
  method: METHODS,
  'model.family': ['gpt2', 'llama'],
  'train.lrSchedule': ['constant', 'cosine'],
  'covrl.hybridSplit': ['deterministic', 'random'],
  'covrl.rewardForm': ['log-prob-sum', 'log-prob-mean', 'prob', 'mean-prob', 'geo-mean-prob'],
  'covrl.advantageMethod': ['grpo', 'dr-grpo', 'rloo'],
  'covrl.aggregation': [
    'token-mean',
    'seq-mean-token-mean',
    'seq-mean-token-sum',
    'seq-mean-token-sum-norm',
  ],
  'covrl.klEstimator': ['composite', 'k1', 'abs', 'k2', 'k3', 'lowVarKl'],
  'verifree.rewardForm': ['prob', 'mean-prob', 'geo-mean-prob'],
  'verifree.answerTermWeight': ['reward', 'adv', '1'],
  'verifree.advantageMethod': ['rloo', 'grpo', 'dr-grpo'],
  'rlpr.rewardForm': ['mean-prob', 'prob', 'geo-mean-prob'],
  'rlpr.advantageMethod': ['grpo', 'dr-grpo', 'rloo'],
  'rlpr.baselineContext': ['no-think', 'empty-think'],
  'grpo.advantageMethod': ['grpo', 'dr-grpo', 'rloo'],
};

/**
 * Where each method hyperparameter comes from, in the specification's markers. Shown by
 * `covrl config --explain` and recorded in every run's first log line.
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
  'rlpr.stdFilterBeta': '[S: Qwen2.5-7B script]',
  'rlpr.stdFilterDecay': '[S: RLPR reference code]',
  'rlpr.emaStartStep': '[S: RLPR reference code]',
  'rlpr.filterStartStep': '[S: RLPR reference code]',
  'rlpr.maxGenerationRounds': '[OURS] cap of 4 rounds',
  'rlpr.baselineContext': '[OURS] Question: {x}\\n<answer>{y}</answer>',
  'rlpr.traceOnlyGradient': '[OURS] non-default option (spec §7b)',
  'rlpr.entropyCoef': '[OURS] 0 (reference 0.001 needs full-vocabulary entropy)',
  'grpo.advantageMethod': '[OURS] identical to RLPR so RLPR vs GRPO isolates the reward',
  'grpo.clipLow': '[OURS] as RLPR',
  'grpo.clipHigh': '[OURS] as RLPR',
  'grpo.klCoef': '[OURS] 0; [S: verl] 0.001 with lowVarKl when enabled',
  'train.groupSize': '[S: CoVRL, VeriFree, RLPR papers] G = 8',
  'train.questionsPerStep': '[OURS] (papers: 192 CoVRL, 16 VeriFree)',
  'train.temperature': '[S: CoVRL paper, RLPR reference code] 1.0',
  'train.maxTraceTokens': '[OURS] (paper: 2048)',
  'train.lr': '[OURS] to be tuned (papers: 1e-6 at 7B)',
  'train.gradClip': '[OURS, verl/oat default] 1.0',
  'train.miniBatches': '[OURS] 2',
  'pretrain.posteriorShare': '[OURS] spec §7b: about a third',
  'pretrain.priorTraceErrorRate': '[OURS] spec §7b: 25 %',
  'pretrain.posteriorTraceErrorRate': '[OURS] spec §7b: 5 %',
  'pretrain.targetLow': '[OURS] spec §7b: base 20–60 % on the RL training distribution',
  'pretrain.targetHigh': '[OURS] spec §7b: base 20–60 % on the RL training distribution',
};

/** Per-method preset overrides (beyond the method blocks' own defaults). */
export const METHOD_PRESETS: Readonly<Record<Method, Record<string, unknown>>> = {
  covrl: { train: { lr: 1e-5, lrSchedule: 'cosine', warmupFraction: 0.05 } },
  verifree: { train: { lr: 1e-5, lrSchedule: 'constant', miniBatches: 1 } },
  rlpr: { train: { lr: 1e-5, lrSchedule: 'constant' } },
  grpo: { train: { lr: 1e-5, lrSchedule: 'constant' } },
};

/**
 * The base model and task both budgets share: a small character GPT pretrained on `addition` and
 * `string-ops`, so one embedded base (`apps/covrl/assets/base-quick`) serves both. Larger models
 * and all six families are one `--config` file away (and then `compare` pretrains their base).
 */
const SHARED_BASE = {
  model: { dModel: 64, nLayers: 2, nHeads: 4, dFf: 256, maxContext: 192 },
  data: {
    trainFamilies: ['addition'],
    transferFamilies: ['string-ops'],
    trainPerFamily: 400,
    testPerFamily: 100,
  },
  pretrain: { steps: 1500, batchSize: 32, lr: 3e-3, examplesPerFamily: 2000, evalEvery: 100 },
  eval: { samples: 4, maxQuestions: 100, maxNewTokens: 96 },
};

/**
 * Budget presets: how much RL compute a run or comparison spends. `quick` (30 steps of 8 × 8
 * rollouts, two seeds in `compare`) fits in about four minutes on two cores; `standard` (80 steps of
 * 16 × 8 rollouts, the papers' G = 8, three seeds) in about 25 minutes (both measured).
 */
export const BUDGETS: Readonly<Record<BudgetPreset, Record<string, unknown>>> = {
  quick: {
    ...SHARED_BASE,
    train: {
      steps: 30,
      questionsPerStep: 8,
      groupSize: 8,
      maxTraceTokens: 64,
      lr: 1e-4,
      evalEvery: 10,
      checkpointEvery: 10,
    },
  },
  standard: {
    ...SHARED_BASE,
    train: {
      steps: 80,
      questionsPerStep: 16,
      groupSize: 8,
      maxTraceTokens: 64,
      lr: 1e-4,
      evalEvery: 20,
      checkpointEvery: 20,
    },
  },
};
