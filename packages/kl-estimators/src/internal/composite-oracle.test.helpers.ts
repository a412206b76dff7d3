/** Float64 naive-loop oracles of the composite estimators (test-only). */
const clip = (x: number): number => Math.min(20, Math.max(-20, x));

/** One token of `compositeKl` in float64. */
export function compositeOracle(lp: number, lq: number, fromPrior: boolean, w: number): number {
  const lpp = Math.log(w * Math.exp(lp) + (1 - w) * Math.exp(lq));
  const logRho = clip(lpp - lp);
  const logOmega = clip(lpp - lq);
  const rho = Math.exp(logRho);
  const omega = Math.exp(logOmega);
  return fromPrior ? rho * logRho - rho + 1 : omega * logRho + omega - 1;
}

/** One token of `compositeKlImportanceWeighted` in float64. */
export function importanceWeightedOracle(
  lp: number,
  lq: number,
  fromPrior: boolean,
  w: number,
): number {
  const kPrior = compositeOracle(lp, lq, true, w);
  return fromPrior ? kPrior : Math.exp(clip(lp - lq)) * kPrior;
}
