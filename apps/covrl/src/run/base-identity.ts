/**
 * Which base model a run started from: the model directory read (absolute) and the fingerprint in
 * its `covrl-base.json` (what `compare` matches an embedded or reused base by; null for a
 * directory without one, e.g. a checkpoint or a plain HF model). Recorded in every checkpoint's
 * state and every `results.json` run, so a resumed or reused run is checked against its base.
 * The directory is part of it: a run's export or a second pretraining with another seed carries
 * the same fingerprint as the base it came from. A leaf module: `checkpoint.ts` and `model-io.ts`
 * both use it without importing each other.
 */
import { createHash } from 'node:crypto';
import { nullable, shape, string } from '../util/json-schema.js';
import type { Decoder } from '../util/json-schema.js';

export interface BaseIdentity {
  readonly dir: string;
  readonly fingerprint: string | null;
}

/** Decoder of a recorded {@link BaseIdentity}. */
export const baseIdentityDecoder: Decoder<BaseIdentity> = (v, at) => {
  const o = shape({ dir: string, fingerprint: nullable(string) })(v, at);
  return { dir: o.dir, fingerprint: o.fingerprint };
};

/** Whether two identities name the same base: same directory and same fingerprint. */
export const sameBase = (a: BaseIdentity, b: BaseIdentity): boolean =>
  a.dir === b.dir && a.fingerprint === b.fingerprint;

/** A base for messages: its directory and a short digest of its fingerprint. */
export function describeBase(base: BaseIdentity): string {
  if (base.fingerprint === null) return `${base.dir} (no covrl-base.json)`;
  const digest = createHash('sha256').update(base.fingerprint).digest('hex').slice(0, 12);
  return `${base.dir} (fingerprint ${digest})`;
}
