/**
 * `covrl-char-tokenizer.json` files (Node only): reading and writing a {@link CharTokenizer}, kept
 * out of `char-tokenizer.ts` so the tokenizer itself stays browser-safe.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-write.js';
import { CharTokenizer } from './char-tokenizer.js';

/**
 * Read a `covrl-char-tokenizer.json` file into a {@link CharTokenizer} (through
 * {@link CharTokenizer.fromJSON}).
 * @throws Error naming the path when it cannot be read, is not JSON or is not a char tokenizer.
 */
export async function readCharTokenizer(path: string): Promise<CharTokenizer> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`readCharTokenizer: cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return CharTokenizer.fromJSON(JSON.parse(text));
  } catch (error) {
    throw new Error(`readCharTokenizer: ${path}: ${(error as Error).message}`);
  }
}

/**
 * Write {@link CharTokenizer.toJSON} to `path` atomically (temporary file, fsync, rename), as
 * pretty-printed JSON with a trailing newline.
 */
export async function writeCharTokenizer(tokenizer: CharTokenizer, path: string): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(tokenizer.toJSON(), null, 2)}\n`);
}
