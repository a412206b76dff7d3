/**
 * The seeded generator of weight initialisation and per-row sampling in `generate`:
 * `@covrl/utils`' mulberry32 {@link SeededRng}, started by {@link createRng} from the splitmix32 mix
 * of an integer seed. Its whole state is one 32-bit integer (`getState`/`setState`), so it can be
 * saved in a checkpoint and restored exactly.
 */
import type { SeededRng } from '@covrl/utils';

export { createRng } from '@covrl/utils';

/** A seeded generator of uniform and normal numbers with a restorable state. */
export type Rng = SeededRng;
