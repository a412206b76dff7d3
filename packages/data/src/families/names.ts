/** Short, distinct names for the word families (three letters keep questions short). */
export const NAMES: readonly string[] = [
  'Ann',
  'Bob',
  'Cal',
  'Dan',
  'Eve',
  'Fay',
  'Gus',
  'Hal',
  'Ivy',
  'Jon',
  'Kim',
  'Lea',
  'Max',
  'Ned',
];
