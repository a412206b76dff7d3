/**
 * Tiny seeded random number generators: everything random in the sampler is a pure function of a
 * seed, so a training step can be replayed exactly (conventions: "data order is a pure function of
 * (seed, step)"). The one implementation is `@covrl/utils`' mulberry32; re-exported here.
 *
 * @packageDocumentation
 */
export { deriveSeed, mulberry32 } from '@covrl/utils';
