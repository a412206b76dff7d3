/**
 * The seeded PRNG of the generators, shuffles and corpus builder: `@covrl/utils`' mulberry32
 * {@link SeededRng} (32-bit state, `Rng.fromState(rng.state)` continues a stream), exported here
 * under this package's name `Rng`.
 */
import { SeededRng } from '@covrl/utils/rng';

export { SeededRng as Rng };
