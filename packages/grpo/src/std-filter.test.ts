import { describe, expect, it } from 'vitest';
import { stdFilterInit, stdFilterKeep, stdFilterStep } from './std-filter.js';
import type { StdFilterState } from './std-filter.js';

describe('std filter (RLPR EMA schedule)', () => {
  it('does nothing in steps 1–5, records steps 6–10, starts the EMA and filters from step 11', () => {
    let state: StdFilterState = stdFilterInit();
    const stds = [0.1, 0.3, 0.5, 0.0];
    for (let step = 1; step <= 5; step += 1) {
      const out = stdFilterStep(state, { step, groupStds: stds });
      expect(out.keep).toEqual([true, true, true, true]);
      expect(out.emaStd).toBeNull();
      state = out.state;
    }
    expect(state.recorded).toEqual([]);
    for (let step = 6; step <= 10; step += 1) {
      const out = stdFilterStep(state, { step, groupStds: [step / 10, step / 10] });
      expect(out.keep).toEqual([true, true]);
      state = out.state;
    }
    expect(state.recorded).toEqual([0.6, 0.7, 0.8, 0.9, 1.0]);
    expect(state.ema).toBeNull();
    // step 11: EMA = mean(0.6..1.0) = 0.8, threshold 0.5·0.8 = 0.4
    const s11 = stdFilterStep(state, { step: 11, groupStds: [0.39, 0.4, 1.2] });
    expect(s11.emaStd).toBeCloseTo(0.8, 12);
    expect(s11.keep).toEqual([false, true, true]);
    // then EMA ← 0.99·0.8 + 0.01·mean(0.39, 0.4, 1.2)
    expect(s11.state.ema).toBeCloseTo(0.99 * 0.8 + 0.01 * ((0.39 + 0.4 + 1.2) / 3), 12);
    const s12 = stdFilterStep(s11.state, { step: 12, groupStds: [0.398, 0.4] });
    expect(s12.emaStd).toBe(s11.state.ema);
    const threshold = 0.5 * (s11.state.ema ?? NaN);
    expect(s12.keep).toEqual([0.398 >= threshold, 0.4 >= threshold]);
  });

  it('is pure: the input state is never mutated and keep() agrees with step()', () => {
    let state = stdFilterInit({ beta: 1, emaStartStep: 1, filterStartStep: 3 });
    state = stdFilterStep(state, { step: 1, groupStds: [1, 3] }).state;
    state = stdFilterStep(state, { step: 2, groupStds: [2, 2] }).state;
    const snapshot = JSON.stringify(state);
    const keep = stdFilterKeep(state, { step: 3, groupStds: [1.9, 2, 5] });
    const out = stdFilterStep(state, { step: 3, groupStds: [1.9, 2, 5] });
    expect(JSON.stringify(state)).toBe(snapshot);
    expect(keep.keep).toEqual(out.keep);
    expect(out.keep).toEqual([false, true, true]); // EMA = mean(2, 2) = 2, β = 1
    expect(Object.isFrozen(out.state)).toBe(true);
  });

  it('starts the EMA from the current step when nothing was recorded', () => {
    const state = stdFilterInit({ emaStartStep: 2, filterStartStep: 2 });
    const out = stdFilterStep(state, { step: 2, groupStds: [0, 2] });
    expect(out.emaStd).toBe(1);
    expect(out.keep).toEqual([false, true]);
  });

  it('throws naming the function and argument on invalid input', () => {
    const state = stdFilterInit();
    expect(() => stdFilterInit({ decay: 2 })).toThrow(/^stdFilterInit: decay/);
    expect(() => stdFilterInit({ emaStartStep: 6, filterStartStep: 5 })).toThrow(
      /^stdFilterInit: filterStartStep/,
    );
    expect(() => stdFilterInit({ beta: -1 })).toThrow(/^stdFilterInit: beta/);
    expect(() => stdFilterStep(state, { step: 0, groupStds: [] })).toThrow(/^stdFilterStep: step/);
    expect(() => stdFilterStep(state, { step: 1, groupStds: [NaN] })).toThrow(
      /^stdFilterStep: groupStds/,
    );
    expect(() => stdFilterStep(state, { step: 1, groupStds: [-1] })).toThrow(
      /^stdFilterStep: groupStds/,
    );
    const next = stdFilterStep(state, { step: 4, groupStds: [1] }).state;
    expect(() => stdFilterStep(next, { step: 4, groupStds: [1] })).toThrow(
      /^stdFilterStep: step must increase/,
    );
    expect(() => stdFilterKeep(state, { step: 1.5, groupStds: [] })).toThrow(
      /^stdFilterKeep: step/,
    );
  });
});
