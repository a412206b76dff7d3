import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeConfig, explainConfig, formatExplain, parseSetFlags } from './decode.js';
import { BUDGET_ENTRIES, BUDGET_PRESETS, DEFAULTS, SOURCES } from './schema.js';
import { METHODS, METHOD_PRESET_ENTRIES } from '../methods/index.js';

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
    // The range is covrlLoss's own (covrlLossRanges): the config and the loss cannot disagree.
    expect(left(decodeConfig({ flags: { 'covrl.clipLow': '1.5' } }))).toContain(
      "'covrl.clipLow' must be in [0, 1), got 1.5",
    );
    expect(left(decodeConfig({ flags: { 'grpo.klCoef': '-1' } }))).toContain(
      "'grpo.klCoef' must be ≥ 0, got -1",
    );
    // α = w = 1 (prior-only with CoVRL's losses) is an ablation the study runs: allowed.
    expect(
      E.isRight(decodeConfig({ flags: { 'covrl.alpha': '1', 'covrl.priorWeight': '1' } })),
    ).toBe(true);
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

describe('the method', () => {
  const withMethod = (name: string, method: string): string => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify({ method }));
    return file;
  };

  it('a method in the file or --set that differs from the command is an error', () => {
    const file = withMethod('m1.json', 'rlpr');
    const msg = left(decodeConfig({ method: 'covrl', methodOrigin: '--method', file }));
    expect(msg).toContain(`'method' is 'rlpr' in ${file} but --method runs method 'covrl'`);
    expect(
      left(decodeConfig({ method: 'covrl', methodOrigin: '--method', flags: { method: 'grpo' } })),
    ).toContain("'method' is 'grpo' in --set method but --method runs method 'covrl'");
    // Agreeing is fine.
    expect(right(decodeConfig({ method: 'rlpr', file })).method).toBe('rlpr');
  });

  it('without the command naming it, --set beats the file, the file beats the default', () => {
    const file = withMethod('m2.json', 'verifree');
    const c = right(decodeConfig({ file }));
    expect(c.method).toBe('verifree');
    expect(c.train.miniBatches).toBe(1); // the file's method chose the method preset
    expect(right(decodeConfig({ file, flags: { method: 'grpo' } })).method).toBe('grpo');
    expect(right(decodeConfig({})).method).toBe('covrl');
  });

  it('requireMethod fails unless some layer names the method', () => {
    expect(left(decodeConfig({ requireMethod: true }))).toContain(
      'no method named; pass --method covrl|verifree|rlpr|grpo',
    );
    expect(
      right(decodeConfig({ requireMethod: true, file: withMethod('m3.json', 'grpo') })).method,
    ).toBe('grpo');
  });
});

describe('rejected values that used to pass decoding', () => {
  it('unknown family names, naming the valid ones', () => {
    const msg = left(decodeConfig({ flags: { 'data.trainFamilies': 'addition,additon' } }));
    expect(msg).toContain("'data.trainFamilies' names unknown family 'additon'; use addition,");
    expect(left(decodeConfig({ flags: { 'data.transferFamilies': 'strings' } }))).toContain(
      "'data.transferFamilies' names unknown family 'strings'",
    );
    expect(left(decodeConfig({ flags: { 'data.trainFamilies': '' } }))).toContain(
      "'data.trainFamilies' is empty",
    );
  });

  it('eval.maxNewTokens that cannot fit model.maxContext with the longest evaluation prompt', () => {
    // quick: maxContext 192; the string-ops transfer prompts are the longest (44 tokens).
    const msg = left(decodeConfig({ preset: 'quick', flags: { 'eval.maxNewTokens': '300' } }));
    expect(msg).toMatch(
      /'eval\.maxNewTokens' \(300\) plus the longest evaluation prompt \((\d+) tokens, string-ops question .*\) exceeds 'model\.maxContext' \(192\); set eval\.maxNewTokens to at most \d+ or raise model\.maxContext to \d+/,
    );
    const room = Number(/at most (\d+)/.exec(msg)?.[1]);
    expect(
      right(decodeConfig({ preset: 'quick', flags: { 'eval.maxNewTokens': String(room) } })).eval
        .maxNewTokens,
    ).toBe(room);
    expect(
      E.isLeft(decodeConfig({ preset: 'quick', flags: { 'eval.maxNewTokens': String(room + 1) } })),
    ).toBe(true);
  });

  it("training contexts that cannot fit model.maxContext, per method's contexts", () => {
    const flags = { 'model.maxContext': '128', 'train.maxTraceTokens': '64' };
    // RLPR and GRPO also need the answer block: 64 + 16 + 4 + a 28-token prompt > 128 at most.
    const rlpr = left(
      decodeConfig({
        method: 'rlpr',
        preset: 'quick',
        flags: { ...flags, 'train.maxAnswerTokens': '40' },
      }),
    );
    expect(rlpr).toContain('the response budget');
    expect(rlpr).toMatch(/lower train\.maxTraceTokens to at most \d+/);
    expect(
      right(
        decodeConfig({
          method: 'covrl',
          preset: 'quick',
          flags: { ...flags, 'eval.maxNewTokens': '64' },
        }),
      ).train.maxTraceTokens,
    ).toBe(64);
  });

  it('accepts grpo.klCoef > 0 and rlpr.entropyCoef > 0 (both are implemented)', () => {
    expect(
      right(decodeConfig({ method: 'grpo', flags: { 'grpo.klCoef': '0.001' } })).grpo.klCoef,
    ).toBe(0.001);
    expect(
      right(decodeConfig({ method: 'rlpr', flags: { 'rlpr.entropyCoef': '0.001' } })).rlpr
        .entropyCoef,
    ).toBe(0.001);
  });
});

describe('sources', () => {
  it('every preset value cites a source, and every method and train key has one', () => {
    for (const m of METHODS) {
      for (const [key, { source }] of Object.entries(METHOD_PRESET_ENTRIES[m])) {
        expect(source, `method preset ${m}: ${key}`).toMatch(/^\[(S|OURS)/);
      }
    }
    for (const p of BUDGET_PRESETS) {
      for (const [key, { source }] of Object.entries(BUDGET_ENTRIES[p])) {
        expect(source, `budget preset ${p}: ${key}`).toMatch(/^\[(S|OURS)/);
      }
    }
    for (const block of ['train', ...METHODS] as const) {
      for (const key of Object.keys(DEFAULTS[block])) {
        expect(SOURCES[`${block}.${key}`], `${block}.${key}`).toMatch(/^\[(S|OURS)/);
      }
    }
  });

  it("per-method sources: VeriFree's one update per batch is the reference code's", () => {
    expect(METHOD_PRESET_ENTRIES.verifree['train.miniBatches']).toEqual({
      value: 1,
      source: expect.stringContaining('[S: VeriFree reference code]') as unknown,
    });
    for (const m of ['covrl', 'rlpr', 'grpo'] as const) {
      expect(METHOD_PRESET_ENTRIES[m]['train.miniBatches']?.value).toBe(2);
    }
  });
});

describe('explainConfig', () => {
  const rowsOf = (sources: Parameters<typeof explainConfig>[0]) => {
    const r = explainConfig(sources);
    if (E.isLeft(r)) throw new Error(r.left.join('\n'));
    return new Map(r.right.map((x) => [x.key, x]));
  };

  it("says the budget's lr replaces the method preset's, and why", () => {
    const rows = rowsOf({ method: 'covrl', preset: 'standard' });
    const lr = rows.get('train.lr');
    expect(lr?.value).toBe(1e-4);
    expect(lr?.setting.layer).toBe("budget preset 'standard'");
    expect(lr?.setting.source).toContain('spec §7b');
    expect(lr?.replaced[0]).toMatchObject({ layer: "method preset 'covrl'", value: 1e-5 });
    const text = formatExplain([...rows.values()]).join('\n');
    expect(text).toContain("replaces method preset 'covrl' 0.00001");
  });

  it('follows --method and --preset: values and sources of that method and budget', () => {
    const quick = rowsOf({ method: 'verifree', preset: 'quick' });
    const standard = rowsOf({ method: 'covrl', preset: 'standard' });
    expect(quick.get('train.steps')?.value).toBe(30);
    expect(standard.get('train.steps')?.value).toBe(80);
    expect(quick.get('train.miniBatches')?.setting.source).toContain(
      '[S: VeriFree reference code]',
    );
    expect(quick.get('train.lrSchedule')?.value).toBe('constant');
    expect(standard.get('train.lrSchedule')?.value).toBe('cosine');
    expect(quick.has('verifree.rewardForm')).toBe(true);
    expect(quick.has('covrl.alpha')).toBe(false);
    expect(standard.has('covrl.alpha')).toBe(true);
    expect(quick.get('method')?.value).toBe('verifree');
  });

  it('names the file or flag that set a key', () => {
    const file = join(dir, 'e.json');
    writeFileSync(file, JSON.stringify({ covrl: { alpha: 0.9 } }));
    const rows = rowsOf({ file, flags: { 'train.steps': '7' } });
    expect(rows.get('covrl.alpha')?.setting).toMatchObject({ layer: file, value: 0.9 });
    expect(rows.get('train.steps')?.setting.source).toBe('set by --set train.steps');
  });
});

describe('parseSetFlags', () => {
  it('splits key=value and rejects malformed assignments', () => {
    expect(parseSetFlags(['a.b=1', 'c=x=y'])).toEqual(E.right({ 'a.b': '1', c: 'x=y' }));
    expect(E.isLeft(parseSetFlags(['novalue']))).toBe(true);
  });
});
