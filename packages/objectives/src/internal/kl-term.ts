import type * as tf from '@tensorflow/tfjs-core';
import type { KlEstimator, KlEstimatorName } from '@covrl/kl-estimators';
import { compositeKl, compositeKlImportanceWeighted, klEstimators } from '@covrl/kl-estimators';
import { logMixture, resolve } from '@covrl/utils';

/** The KL choices of `covrlLoss`: the composite estimators, any per-token estimator, or your own. */
export type CovrlKlEstimator =
  'composite' | 'composite-importance-weighted' | KlEstimatorName | KlEstimator;

/**
 * CoVRL's per-token KL term `[B, T]` (inside the caller's tidy). `'composite'` and
 * `'composite-importance-weighted'` estimate KL(p′‖p_φ) from the sampler flag; any other
 * estimator is applied as `estimator({ logProbs: log p′, refLogProbs: log p_φ })`, the same
 * target KL(p′‖p_φ) treating the token as drawn from p′ (so `'k1'` is the paper's naive `log ρ`).
 * Returns the metric label too (`kl/<label>/…`).
 */
export function covrlKlTerm(
  fn: string,
  choice: CovrlKlEstimator,
  x: {
    prior: tf.Tensor;
    posterior: tf.Tensor;
    sampledFromPrior: tf.Tensor;
    priorWeight: number;
  },
): { perToken: tf.Tensor; label: string } {
  const composite = {
    priorLogProbs: x.prior,
    posteriorLogProbs: x.posterior,
    sampledFromPrior: x.sampledFromPrior,
    priorWeight: x.priorWeight,
    validate: false, // the caller checked its batch
  };
  if (choice === 'composite') return { perToken: compositeKl(composite), label: 'composite' };
  if (choice === 'composite-importance-weighted') {
    return {
      perToken: compositeKlImportanceWeighted(composite),
      label: 'composite_importance_weighted',
    };
  }
  const estimator = resolve(fn, 'klEstimator', choice, {
    ...klEstimators,
    composite: compositeKl as unknown as KlEstimator,
    'composite-importance-weighted': compositeKlImportanceWeighted as unknown as KlEstimator,
  });
  const logPPrime = logMixture(x.prior, x.posterior, x.priorWeight);
  const label = typeof choice === 'string' ? choice : 'custom';
  return {
    perToken: estimator({ logProbs: logPPrime, refLogProbs: x.prior, validate: false }),
    label,
  };
}
