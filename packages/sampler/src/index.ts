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
