import * as tf from '@tensorflow/tfjs-core';
import { InputChecks, assertSameShape, assertTensorOfRank } from '@covrl/utils';
import { assertArgsObject } from '@covrl/utils';

/** Arguments of {@link debiasedReward}. */
export interface DebiasedRewardArgs {
  /** `[B]` r: the answer likelihood with reasoning (RLPR-SPLICE, `'mean-prob'`). */
  readonly reward: tf.Tensor;
  /** `[B]` r′: the same likelihood without reasoning (RLPR-BASELINE), from the initial model. */
  readonly baseline: tf.Tensor;
}

const functionName = 'debiasedReward';

/**
 * RLPR's debiased probability reward `r̂ = clip(r − r′, 0, 1)` (arXiv 2506.18254 §3.2;
 * methods.md §6 item 3): only the likelihood gain that reasoning brings over answering directly is
 * rewarded.
 *
 * Shapes: `reward`, `baseline` `[B]` → `[B]` float32.
 *
 * Clamp: to [0, 1] as in the RLPR reference code; the lower clamp stops a trace that lowers the
 * answer's probability below the no-reasoning baseline from being punished (RLPR rewards only
 * gains), the upper clamp bounds the reward for inputs outside [0, 1]. Inputs must be finite (both are
 * probabilities). Gradient (where defined) is 1 w.r.t. `reward` inside (0, 1), 0 outside.
 *
 * @throws Error naming the function and argument on a shape mismatch or a non-finite entry.
 */
export function debiasedReward(args: DebiasedRewardArgs): tf.Tensor1D {
  assertArgsObject(functionName, args);
  const { reward, baseline } = args;
  assertTensorOfRank(functionName, 'reward', reward, 1, '[B]');
  assertTensorOfRank(functionName, 'baseline', baseline, 1, '[B]');
  assertSameShape(functionName, 'reward', reward, 'baseline', baseline);
  new InputChecks(functionName)
    .finite('reward', reward, undefined, 'has a non-finite (NaN or ±∞) entry')
    .finite('baseline', baseline, undefined, 'has a non-finite (NaN or ±∞) entry')
    .run();
  return tf.tidy(() => {
    const gain = tf.sub(tf.cast(reward, 'float32'), tf.cast(baseline, 'float32')); // [B]
    return tf.clipByValue(gain, 0, 1) as tf.Tensor1D;
  });
}
