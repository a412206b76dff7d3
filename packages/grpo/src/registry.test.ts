import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { advantageMethods } from './advantage-methods.js';
import { aggregations } from './aggregations.js';
import { clippedSurrogate } from './clipped-surrogate.js';
import { policyGradientSurrogate } from './policy-gradient-surrogate.js';
import { reinforceSurrogate } from './reinforce-surrogate.js';
import { getAdvantageMethod, getAggregation, getSurrogate } from './registry.js';
import { surrogates } from './surrogates.js';

describe('registries', () => {
  it('are frozen records of the built-ins', () => {
    expect(Object.keys(advantageMethods)).toEqual(['grpo', 'dr-grpo', 'rloo']);
    expect(Object.keys(aggregations)).toEqual([
      'token-mean',
      'seq-mean-token-mean',
      'seq-mean-token-sum',
      'seq-mean-token-sum-norm',
    ]);
    expect(surrogates).toEqual({
      'ppo-clip': clippedSurrogate,
      pg: policyGradientSurrogate,
      reinforce: reinforceSurrogate,
    });
    for (const r of [advantageMethods, aggregations, surrogates])
      expect(Object.isFrozen(r)).toBe(true);
  });

  it('look up by name and list the valid names in the Left', () => {
    expect(getSurrogate('pg')).toEqual(E.right(policyGradientSurrogate));
    expect(getAggregation('token-mean')).toEqual(E.right(aggregations['token-mean']));
    expect(getAdvantageMethod('rloo')).toEqual(E.right(advantageMethods.rloo));
    expect(getSurrogate('toString')).toEqual(
      E.left("getSurrogate: name 'toString' is unknown; valid names: ppo-clip, pg, reinforce"),
    );
    expect(getAggregation('x')).toEqual(
      E.left(
        "getAggregation: name 'x' is unknown; valid names: token-mean, seq-mean-token-mean, seq-mean-token-sum, seq-mean-token-sum-norm",
      ),
    );
    expect(getAdvantageMethod('ppo')).toEqual(
      E.left("getAdvantageMethod: name 'ppo' is unknown; valid names: grpo, dr-grpo, rloo"),
    );
  });

  it('look up in an extended registry', () => {
    const mine = { ...surrogates, clipped: clippedSurrogate } as const;
    expect(getSurrogate('clipped', mine)).toEqual(E.right(clippedSurrogate));
  });
});
