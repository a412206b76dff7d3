/**
 * The NAMES of the answer-likelihood reward forms (the registry of their functions is
 * `reward-form-registry.ts`) (api.md, `@covrl/rewards`) and the unit each one is
 * measured in. The unit decides how invalid rows are scored (methods.md §3.4): log-prob forms are
 * unbounded below and use "worst valid row minus a margin"; probability forms use their floor 0.
 */

/** The five answer-likelihood reward forms of the public contract. */
export type RewardForm = 'log-prob-sum' | 'log-prob-mean' | 'prob' | 'mean-prob' | 'geo-mean-prob';

/** Every reward form name, in contract order (used by registries and error messages). */
export const rewardFormNames: readonly RewardForm[] = Object.freeze([
  'log-prob-sum',
  'log-prob-mean',
  'prob',
  'mean-prob',
  'geo-mean-prob',
] as const);

/**
 * The unit of each form: `'log-prob'` (nats or nats per token, range (−∞, 0]) or `'probability'`
 * (range [0, 1]).
 */
export const rewardFormUnit: Readonly<Record<RewardForm, 'log-prob' | 'probability'>> =
  Object.freeze({
    'log-prob-sum': 'log-prob',
    'log-prob-mean': 'log-prob',
    prob: 'probability',
    'mean-prob': 'probability',
    'geo-mean-prob': 'probability',
  });

/** True iff `name` is one of {@link rewardFormNames}; narrows the type. */
export function isRewardForm(name: string): name is RewardForm {
  return (rewardFormNames as readonly string[]).includes(name);
}
