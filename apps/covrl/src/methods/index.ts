/**
 * The method registry: every training method by name. Adding a method is one file exporting a
 * `defineMethod({...})` spec and one line here (docs/guides/new-method.md); the CLI, the config's
 * `method` key, presets and `compare --methods` all read this record.
 */
import type { Cited, Config } from '../config/schema.js';
import { treeOf } from '../config/schema.js';
import type { RegisteredMethod } from '../train/method-spec.js';
import { covrl } from './covrl.js';
import { verifree } from './verifree.js';
import { rlpr } from './rlpr.js';
import { grpo } from './grpo.js';

export const methods = {
  covrl,
  verifree,
  rlpr,
  grpo,
} as const satisfies Record<string, RegisteredMethod>;

/** A registered method's name. */
export type Method = keyof typeof methods;

/** Every registered method, in registry order (the order `compare` runs them in). */
export const METHODS = Object.keys(methods) as Method[];

/** True iff `name` names a registered method; narrows the type. */
export const isMethod = (name: string): name is Method => Object.hasOwn(methods, name);

/** The registered method `name` (an error listing the registered names if there is none). */
export function methodOf(name: string): RegisteredMethod {
  if (!isMethod(name))
    throw new Error(`unknown method '${name}'; use one of ${METHODS.join(', ')}`);
  return methods[name];
}

/** Each method's preset, each value with its source (applied over the defaults). */
export const METHOD_PRESET_ENTRIES = Object.fromEntries(
  METHODS.map((m) => [m, methods[m].preset]),
) as Readonly<Record<Method, Readonly<Record<string, Cited>>>>;

/** Per-method preset overrides as config trees. */
export const METHOD_PRESETS = Object.fromEntries(
  METHODS.map((m) => [m, treeOf(methods[m].preset)]),
) as Readonly<Record<Method, Record<string, unknown>>>;

/** The unit of `reward/mean` of a run of `config.method` (progress lines, the report). */
export const rewardUnitOf = (config: Config): string => methodOf(config.method).rewardUnit(config);
