import * as tf from '@tensorflow/tfjs';
import * as E from 'fp-ts/lib/Either.js';
import { getKlEstimator, klEstimators } from '@covrl/kl-estimators';
import type { KlEstimator } from '@covrl/kl-estimators';
import { categorical, leakedTensors, monteCarloKl } from '@covrl/kl-estimators/testing';
import { covrlLoss, grpoLoss } from '@covrl/objectives';
import type { CovrlBatch, PolicyBatch } from '@covrl/objectives';

/**
 * Schulman's family `k1 + λ·(r − 1)`, `r = π_ref/π = exp(−d)`: unbiased for KL(π‖π_ref) for every
 * λ because E_π[r − 1] = 0; λ = 1 is k3. One named-field object in, same shape out, inside tidy.
 */
export function controlVariateKl(lambda: number): KlEstimator {
  return ({ logProbs, refLogProbs }) =>
    tf.tidy(() => {
      const d = tf.sub(logProbs, refLogProbs);
      return tf.add(d, tf.mul(lambda, tf.sub(tf.exp(tf.neg(d)), 1)));
    });
}

// Your registry: the built-ins plus yours, frozen, looked up like a built-in.
export const myKlEstimators = Object.freeze({ ...klEstimators, k3Half: controlVariateKl(0.5) });
export const found = getKlEstimator('k3Half', myKlEstimators); // E.right(estimator)
export const k3Half = E.isRight(found) ? found.right : klEstimators.k3;

// Check it with the package's testing helpers: unbiased, leak-free.
export const check = monteCarloKl({
  estimator: k3Half,
  p: categorical([0.5, 0.3, 0.2]), // tokens are sampled from p
  ref: categorical([0.2, 0.3, 0.5]),
  samples: 20000,
  seed: 1,
}); // expect |check.mean − check.exact| < 3·check.standardError
const logProbs = tf.tensor1d([-1, -2]);
const refLogProbs = tf.tensor1d([-1.5, -0.5]);
export const leaked = leakedTensors(() => k3Half({ logProbs, refLogProbs })); // expect 0

// Use it in a loss by passing the function (no fork, no registration).
export function covrlWithMyKl(batch: CovrlBatch) {
  // Applied as k3Half({ logProbs: log p′, refLogProbs: log p_φ }) on every trace token.
  return covrlLoss({ ...batch, klEstimator: k3Half });
}

export function grpoWithMyKl(batch: PolicyBatch & { refLogProbs: tf.Tensor }) {
  return grpoLoss({ ...batch, klEstimator: k3Half, klCoef: 0.001 });
}
