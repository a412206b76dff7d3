/**
 * Fixtures for other packages' tests: the default tags of methods.md §1, a few tiny examples, and
 * a writer of source-shaped Parquet files (importer inputs).
 */
import type { CorpusTags } from '../corpus.js';
import type { Example } from '../schema.js';

/** The methods.md §1 default tag strings (for tests; apps take tags from config). */
export const DEFAULT_TEST_TAGS: CorpusTags = Object.freeze({
  questionPrefix: 'Question: ',
  thinkOpen: '<think>',
  thinkClose: '</think>',
  answerOpen: '<answer>',
  answerClose: '</answer>',
  separator: '\n',
});

/** The §1 worked-example question plus two synthetic ones. */
export const TINY_EXAMPLES: readonly Example[] = Object.freeze([
  { id: 'worked-7x6', question: 'What is 7*6?', answer: '42', domain: 'math', family: 'worked' },
  {
    id: 'addition-d1-s0-000000',
    question: 'What is 39+65?',
    answer: '104',
    domain: 'math',
    family: 'addition',
    difficulty: 1,
  },
  {
    id: 'string-ops-d1-s0-000000',
    question: 'Reverse the letters of kite.',
    answer: 'etik',
    domain: 'non-math',
    family: 'string-ops',
    difficulty: 1,
  },
]);

export type { SourceColumnType, StringListColumn } from './parquet.js';
export { writeSourceParquet } from './parquet.js';
