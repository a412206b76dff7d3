/**
 * Safetensors files on disk (Node only): the file half of `safetensors.ts`, whose parser and
 * serializer work on bytes and stay browser-safe.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.js';
import type { SafetensorsFile, TensorRecordEntry } from './safetensors.js';
import { parseSafetensors, serializeSafetensors } from './safetensors.js';

/**
 * `serializeSafetensors` and write the bytes to `path` atomically (temporary file in the
 * same directory, fsync, rename), so a crash never leaves a torn checkpoint.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Readonly<Record<string, TensorRecordEntry>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

/** Read and `parseSafetensors` the file at `path`; errors name the path. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new Error(`readSafetensorsFile: cannot read ${path}: ${(error as Error).message}`);
  }
  return parseSafetensors(bytes, { file: path });
}
