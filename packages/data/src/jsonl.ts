/**
 * JSON Lines: a streaming, constant-memory reader (one line in memory at a time, UTF-8 checked per
 * line on the raw bytes) and an atomic writer.
 */
import { createReadStream } from 'node:fs';
import * as E from 'fp-ts/lib/Either.js';
import { openAtomicLineWriter } from './atomic.js';
import { dataError } from './errors.js';
import type { Example } from './schema.js';
import { decodeExample, exampleToRecord } from './schema.js';
import type { ExampleStream, ReadOptions, RecordDecoder } from './stream.js';
import { emptyCounts, exampleStream } from './stream.js';
import { RejectSink } from './reject-sink.js';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Split a byte stream into lines without decoding: yields each line's bytes (without `\n` or a
 * trailing `\r`) and its 1-based number. Memory is one chunk plus the longest line.
 */
export async function* readLineBytes(
  path: string,
): AsyncGenerator<{ bytes: Buffer; line: number }> {
  let pending: Buffer | undefined;
  let line = 0;
  const strip = (bytes: Buffer): Buffer =>
    bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.subarray(0, -1) : bytes;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) {
    let data = chunk as Buffer;
    if (pending !== undefined) {
      data = Buffer.concat([pending, data]);
      pending = undefined;
    }
    let start = 0;
    for (let end = data.indexOf(NEWLINE, start); end >= 0; end = data.indexOf(NEWLINE, start)) {
      line += 1;
      yield { bytes: strip(data.subarray(start, end)), line };
      start = end + 1;
    }
    // Copy the tail so the (large) chunk it points into can be collected.
    if (start < data.length) pending = Buffer.from(data.subarray(start));
  }
  if (pending !== undefined && pending.length > 0) {
    line += 1;
    yield { bytes: strip(pending), line };
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const lossyUtf8 = new TextDecoder('utf-8', { fatal: false });

function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09) return false;
  return true;
}

/**
 * Stream records from a JSON Lines file through `decode` (an importer, or `decodeExample`).
 *
 * Per non-blank line: strict UTF-8 decode of the raw bytes (`TextDecoder` with `fatal: true`; a
 * leading BOM is dropped), `JSON.parse`, then `decode(raw, { file, line })`. A failure at any
 * stage becomes a located `DataError` (field `<line>` for UTF-8 and JSON failures) handled by the
 * skip/fail policy of `options`. Whitespace-only lines are counted as `blank` and ignored.
 */
export function readJsonlWith(
  path: string,
  decode: RecordDecoder,
  options: ReadOptions = {},
): ExampleStream {
  const counts = emptyCounts();
  return exampleStream(counts, async function* () {
    Object.assign(counts, emptyCounts());
    const sink = new RejectSink(options, counts);
    try {
      for await (const { bytes, line } of readLineBytes(path)) {
        if (isBlank(bytes)) {
          counts.blank += 1;
          continue;
        }
        counts.records += 1;
        const where = { file: path, line };
        let text: string;
        try {
          text = strictUtf8.decode(bytes);
        } catch {
          await sink.reject(
            dataError(
              where,
              '<line>',
              'invalid UTF-8 bytes; re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)',
            ),
            lossyUtf8.decode(bytes),
          );
          continue;
        }
        let raw: unknown;
        try {
          raw = JSON.parse(text);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          await sink.reject(
            dataError(
              where,
              '<line>',
              `invalid JSON (${reason}); each line must hold one JSON object`,
            ),
            text,
          );
          continue;
        }
        const decoded = decode(raw, where);
        if (E.isLeft(decoded)) {
          await sink.reject(decoded.left, text);
          continue;
        }
        counts.kept += 1;
        yield decoded.right;
      }
    } finally {
      // Also on an early `break` by the consumer: the rejects seen so far are committed.
      await sink.close();
    }
  });
}

/**
 * Stream {@link Example}s from a JSON Lines file, validating each line with `decodeExample`.
 * Lazy: nothing is read until iteration starts, and one line is in memory at a time.
 * `options.onInvalid` `fail` (default) throws a `DataFileError` (`file:line: field: message`) on
 * the first bad line; `skip` counts it, passes it to `onReject` and appends it to `rejectsPath`.
 */
export function readJsonl(path: string, options: ReadOptions = {}): ExampleStream {
  return readJsonlWith(path, decodeExample, options);
}

/**
 * Write examples as JSON Lines atomically (temporary file, fsync, rename); one example is
 * serialised at a time, so an async source is streamed in constant memory. Returns the count.
 */
export async function writeJsonl(
  path: string,
  examples: Iterable<Example> | AsyncIterable<Example>,
): Promise<number> {
  const writer = await openAtomicLineWriter(path);
  let count = 0;
  try {
    for await (const example of examples) {
      await writer.write(JSON.stringify(exampleToRecord(example)));
      count += 1;
    }
  } catch (error) {
    await writer.abort();
    throw error;
  }
  await writer.commit();
  return count;
}
