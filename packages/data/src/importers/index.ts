/** The importer registry: one importer per source format, all with the {@link Importer} signature. */
import * as E from 'fp-ts/lib/Either.js';
import type { Importer } from './common.js';
import { importGsm8k } from './gsm8k.js';
import { importMath } from './math.js';
import { importMultipleChoice } from './mc.js';

export type { ImportOptions, Importer } from './common.js';
export { gsm8kFinalAnswer, importGsm8k } from './gsm8k.js';
export { importMath, lastBoxed } from './math.js';
export { formatMultipleChoice, importMultipleChoice } from './mc.js';

/** Source formats `covrl data import --format` accepts. */
export type ImportFormat = 'gsm8k' | 'math' | 'mc';

/** Frozen registry of importers by format name. */
export const importers = Object.freeze({
  gsm8k: importGsm8k,
  math: importMath,
  mc: importMultipleChoice,
} satisfies Record<ImportFormat, Importer>);

/** Look up an importer; the Left lists the valid format names. */
export function getImporter(format: string): E.Either<string, Importer> {
  return Object.hasOwn(importers, format)
    ? E.right(importers[format as ImportFormat])
    : E.left(
        `unknown import format "${format}"; valid formats: ${Object.keys(importers).join(', ')}`,
      );
}
