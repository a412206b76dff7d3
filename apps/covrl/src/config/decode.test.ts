import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeConfig, parseSetFlags } from './decode.js';
import { DEFAULTS } from './schema.js';

const dir = mkdtempSync(join(tmpdir(), 'covrl-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function right<T>(e: E.Either<string[], T>): T {
  if (E.isLeft(e)) throw new Error(e.left.join('\n'));
  return e.right;
}
function left<T>(e: E.Either<string[], T>): string {
  if (E.isRight(e)) throw new Error('expected a decoding error');
  return e.left.join('\n');
}

describe('decodeConfig', () => {
  it('layers defaults < method preset < budget preset < file < flags', () => {
    const file = join(dir, 'a.yaml');
    writeFileSync(file, 'train:\n  steps: 33\n  groupSize: 6\ncovrl:\n  alpha: 0.9\n');
    const c = right(
      decodeConfig({
        method: 'covrl',
        preset: 'quick',
        file,
        flags: { 'train.steps': '44', 'covrl.klCoef': '0.1' },
      }),
    );
    expect(c.train.steps).toBe(44); // flag beats file
    expect(c.train.groupSize).toBe(6); // file beats quick preset (4)
    expect(c.covrl.alpha).toBe(0.9);
    expect(c.covrl.klCoef).toBe(0.1);
    expect(c.train.lrSchedule).toBe('cosine'); // covrl method preset
    expect(c.model.dModel).toBe(64); // quick budget
    expect(c.covrl.priorWeight).toBe(DEFAULTS.covrl.priorWeight);
    expect(Object.isFrozen(c.train)).toBe(true);
  });

  it('reads JSON files and takes the method from the file when no flag names one', () => {
    const file = join(dir, 'b.json');
    writeFileSync(file, JSON.stringify({ method: 'rlpr', rlpr: { stdFilter: false } }));
    const c = right(decodeConfig({ file }));
    expect(c.method).toBe('rlpr');
    expect(c.rlpr.stdFilter).toBe(false);
  });

  it('rejects unknown keys, wrong types and bad enum values, naming the key and the file', () => {
    const file = join(dir, 'c.json');
    writeFileSync(
      file,
      JSON.stringify({ train: { stepz: 3, steps: 'ten' }, covrl: { rewardForm: 'logprob' } }),
    );
    const msg = left(decodeConfig({ file }));
    expect(msg).toContain(`${file}: unknown key 'train.stepz'`);
    expect(msg).toContain(`${file}: 'train.steps' must be a number, got string`);
    const enumMsg = left(decodeConfig({ flags: { 'covrl.rewardForm': 'logprob' } }));
    expect(enumMsg).toContain("'covrl.rewardForm' is 'logprob'; use one of log-prob-sum");
    expect(left(decodeConfig({ flags: { 'train.steps': 'x' } }))).toContain(
      '--set train.steps=x: expected a finite number',
    );
    expect(left(decodeConfig({ method: 'ppo' }))).toContain("unknown method 'ppo'");
    expect(left(decodeConfig({ preset: 'huge' }))).toContain("unknown preset 'huge'");
  });

  it('rejects invalid combinations with a message that says what to set', () => {
    expect(left(decodeConfig({ flags: { 'train.groupSize': '1' } }))).toContain(
      "'train.groupSize' must be ≥ 2",
    );
    expect(
      left(decodeConfig({ flags: { 'train.questionsPerStep': '5', 'train.miniBatches': '2' } })),
    ).toContain('must be divisible by');
    expect(left(decodeConfig({ flags: { 'model.nHeads': '3' } }))).toContain(
      "'model.nHeads' (3) must divide",
    );
    expect(left(decodeConfig({ flags: { 'covrl.clipLow': '1.5' } }))).toContain(
      "'covrl.clipLow' must be in (0, 1)",
    );
    expect(left(decodeConfig({ flags: { 'data.transferFamilies': 'addition' } }))).toContain(
      'repeats training family',
    );
  });

  it('reports a missing or malformed file by path', () => {
    expect(left(decodeConfig({ file: join(dir, 'missing.json') }))).toContain(
      'missing.json: cannot read config file',
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "train": ');
    expect(left(decodeConfig({ file: bad }))).toContain('bad.json: not valid JSON');
  });
});

describe('parseSetFlags', () => {
  it('splits key=value and rejects malformed assignments', () => {
    expect(parseSetFlags(['a.b=1', 'c=x=y'])).toEqual(E.right({ 'a.b': '1', c: 'x=y' }));
    expect(E.isLeft(parseSetFlags(['novalue']))).toBe(true);
  });
});
