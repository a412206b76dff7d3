/**
 * `rlpr.splice`: the faithful string mode (reference text spliced into the decoded response,
 * re-tokenized, answer tokens by offsets) is selectable, and on the character tokenizer — where
 * decoding and re-encoding give back the same ids — it prices exactly what the id splice prices.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import * as E from 'fp-ts/lib/Either.js';
import { decodeConfig } from '../config/decode.js';
import { train } from '../train/trainer.js';

/** The embedded base: it writes well-formed responses, so the splices have answers to price. */
const BASE = fileURLToPath(new URL('../../assets/base-quick', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'covrl-rlpr-splice-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rawRewards(splice: 'token' | 'string'): Promise<number[][]> {
  const runDir = join(dir, splice);
  const flags = {
    'train.steps': '1',
    'train.questionsPerStep': '2',
    'train.groupSize': '4',
    'train.logSamples': '16',
    'train.evalEvery': '100',
    'train.checkpointEvery': '100',
    'rlpr.stdFilter': 'false',
    'rlpr.splice': splice,
  };
  const decoded = decodeConfig({ method: 'rlpr', preset: 'quick', flags });
  if (E.isLeft(decoded)) throw new Error(decoded.left.join('\n'));
  const config = decoded.right;
  const out = await train({
    config,
    baseDir: BASE,
    runDir,
    command: 't',
    quiet: true,
    finalEval: false,
  });
  out.model.dispose();
  return readFileSync(join(runDir, 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { raw?: number; step?: number })
    .map((r) => [r.step ?? 0, r.raw ?? Number.NaN]);
}

describe('rlpr.splice', () => {
  it("'string' prices the same answer tokens as 'token' on the character tokenizer", async () => {
    const token = await rawRewards('token');
    const string = await rawRewards('string');
    expect(token).toHaveLength(8);
    // Most rows of the base are well formed: their spliced answer has a probability > 0.
    expect(token.filter(([, r]) => (r as number) > 0).length).toBeGreaterThan(2);
    expect(string).toEqual(token);
  }, 240_000);
});
