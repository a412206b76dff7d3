/**
 * `tokenizer.json` / `tokenizer_config.json` files (Node only): reading and writing an
 * {@link HfTokenizer}, kept out of `hf-tokenizer.ts` so the tokenizer itself stays browser-safe.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import type { HfTokenizerOptions } from './hf-tokenizer.js';
import { HF_TOKENIZER_CONFIG_FILE, HF_TOKENIZER_FILE, HfTokenizer } from './hf-tokenizer.js';

/**
 * Read `tokenizer.json` at `path` and the `tokenizer_config.json` beside it when present, and
 * build an {@link HfTokenizer} from them (through {@link HfTokenizer.fromJSON}).
 * @throws Error naming the path when it cannot be read or parsed (a missing
 * `tokenizer_config.json` is not an error).
 */
export async function readHfTokenizer(
  path: string,
  options: HfTokenizerOptions = {},
): Promise<HfTokenizer> {
  const readJson = async (file: string, required: boolean): Promise<unknown> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`readHfTokenizer: cannot read ${file}: ${(error as Error).message}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new Error(`readHfTokenizer: ${file} is not valid JSON: ${(error as Error).message}`);
    }
  };
  const json = await readJson(path, true);
  const config = await readJson(join(dirname(path), HF_TOKENIZER_CONFIG_FILE), false);
  return HfTokenizer.fromJSON(json, {
    ...options,
    ...(config === undefined ? {} : { tokenizerConfig: config }),
    file: path,
  });
}

/**
 * Write `tokenizer.json` (and `tokenizer_config.json` when the tokenizer has one or an EOS token,
 * with `eos_token` set to that token) into the existing directory `dir`, each file atomically.
 */
export async function writeHfTokenizer(tokenizer: HfTokenizer, dir: string): Promise<void> {
  await writeFileAtomic(join(dir, HF_TOKENIZER_FILE), JSON.stringify(tokenizer.toJSON()));
  const config = tokenizer.tokenizerConfig;
  const base = typeof config === 'object' && config !== null ? config : {};
  if (config !== undefined || tokenizer.eosToken !== undefined) {
    const written =
      tokenizer.eosToken === undefined ? base : { ...base, eos_token: tokenizer.eosToken };
    await writeFileAtomic(
      join(dir, HF_TOKENIZER_CONFIG_FILE),
      `${JSON.stringify(written, null, 2)}\n`,
    );
  }
}
