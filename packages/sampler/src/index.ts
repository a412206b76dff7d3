export type {
  FinishReason,
  GenerateRequest,
  GeneratedRow,
  TokenSpan,
  ScoreRequest,
  ScoredSpan,
  Policy,
  Tokenizer,
} from './policy.js';
export { DEFAULT_TAGS, THINKING_TAGS, renderTemplate, validateTags } from './templates.js';
export type { Tags, TemplateKind, TemplateFields } from './templates.js';
export { buildContexts, checkContextBudget, stopSequencesOf } from './contexts.js';
export type { ExampleContexts, BuildContextsArgs, ContextBudget } from './contexts.js';
export { STOP_TAG_PROBES, auditTemplateTokens, stopSequenceVariants } from './template-tokens.js';
export type { TagEncoding, TemplateTokenReport } from './template-tokens.js';
export { mulberry32, deriveSeed } from './rng.js';
export { endsWithIds, indexOfIds, sameIds } from './ids.js';
export { assignSources, sampleTraces, isWellFormedTrace } from './hybrid.js';
export type {
  AssignSourcesArgs,
  SourceAssignment,
  TraceRollout,
  SampleTracesArgs,
} from './hybrid.js';
export { buildTraceScoreRequest, scoreTraces } from './score-traces.js';
export type { AnswerSpan, ScoreTracesArgs, TraceScores } from './score-traces.js';
export {
  sampleResponses,
  scoreResponses,
  checkResponseFormat,
  extractAnswer,
  findOwnAnswerOpen,
} from './responses.js';
export type { ResponseRollout, SampleResponsesArgs, ScoreResponsesArgs } from './responses.js';
export {
  scoreRlprSplice,
  buildRlprSpliceRequest,
  scoreRlprBaseline,
  selectAnswerTokensByOffsets,
  buildRlprStringSplice,
  buildRlprStringSpliceRequest,
  scoreRlprStringSplice,
} from './rlpr-splice.js';
export type {
  SpliceMode,
  RlprSpliceArgs,
  RlprStringSpliceArgs,
  RlprStringSpliceRequest,
} from './rlpr-splice.js';
export { rolloutStats, posteriorAnswerLeak } from './stats.js';
export type { RolloutStats } from './stats.js';
export { buildVerifreeStringSplice, scoreVerifreeStringSplice } from './verifree-splice.js';
export type { VerifreeStringSplice } from './verifree-splice.js';
