/**
 * `covrl data validate | import | generate`: check a dataset file, convert GSM8K / MATH /
 * multiple-choice sources to the covrl record, and write the synthetic suite to disk. Thin shells
 * over `@covrl/data`; every bad record is reported as `file:line: field: message`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import * as E from 'fp-ts/lib/Either.js';
import {
  DOMAINS,
  DataFileError,
  FAMILY_NAMES,
  formatDataError,
  generateSuite,
  getFamily,
  importers,
} from '@covrl/data';
import {
  importDataset,
  loadDataset,
  writeFileAtomic,
  writeJsonl,
  writeParquet,
} from '@covrl/data/node';
import type { Domain, ExampleStream, ReadOptions, Rejection } from '@covrl/data';
import { recoverDirAside, swapDirInto } from '../util/dir-swap.js';

/** A command failure with a message meant for the user; the CLI prints it and exits with 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** Where the commands write: defaults to the console; tests pass their own. */
export interface DataCommandIo {
  out(line: string): void;
  err(line: string): void;
}

const consoleIo: DataCommandIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

function integer(name: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${value}"`);
    }
    return n;
  };
}

interface SkipOpts {
  skip?: boolean;
  rejects?: string;
}

function readOptions(opts: SkipOpts, io: DataCommandIo, rejected: Rejection[]): ReadOptions {
  if (opts.rejects !== undefined && opts.skip !== true) {
    throw new CliError(
      '--rejects needs --skip (without --skip the first invalid record stops the command)',
    );
  }
  return {
    onInvalid: 'skip',
    ...(opts.rejects !== undefined ? { rejectsPath: opts.rejects } : {}),
    onReject: (r) => {
      // Keep only the first few for the error message; every one is printed.
      if (rejected.length < 1) rejected.push(r);
      io.err(formatDataError(r));
    },
  };
}

function countsLine(file: string, stream: ExampleStream, extra = ''): string {
  const c = stream.counts;
  return `${file}: ${c.records} records, ${c.kept} valid, ${c.rejected} invalid${c.blank > 0 ? `, ${c.blank} blank lines` : ''}${extra}`;
}

/** Fail the command (exit code 1) when records were rejected without `--skip`. */
function failOnRejects(opts: SkipOpts, stream: ExampleStream, first: Rejection | undefined): void {
  if (opts.skip === true || stream.counts.rejected === 0) return;
  process.exitCode = 1;
  throw new CliError(
    `${stream.counts.rejected} invalid record(s), first: ${first === undefined ? '?' : formatDataError(first)}; fix them, or pass --skip [--rejects <path>] to drop and record them`,
  );
}

/**
 * Re-throw data errors (unsupported extension, unreadable file, a broken Parquet footer) as
 * {@link CliError}s that name `file` (a reader's own message may not).
 */
function asCliError(error: unknown, file?: string): never {
  process.exitCode = 1;
  const named = (message: string): string =>
    file === undefined || message.includes(file) ? message : `${file}: ${message}`;
  if (error instanceof DataFileError) throw new CliError(named(error.message));
  if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
    throw new CliError(
      `${(error as Error & { path?: string }).path ?? file ?? 'file'}: no such file`,
    );
  }
  if (error instanceof Error && !(error instanceof CliError) && file !== undefined) {
    throw new CliError(named(error.message));
  }
  throw error;
}

/** An empty dataset is an error: nothing validated, nothing to evaluate or import. */
function failOnEmpty(file: string, stream: ExampleStream): void {
  if (stream.counts.records > 0) return;
  process.exitCode = 1;
  throw new CliError(`${file}: no records; a dataset needs at least one`);
}

/** Refuse to replace an existing output unless `--force`. */
function refuseExisting(path: string, force: boolean | undefined): void {
  if (force === true || !existsSync(path)) return;
  if (statSync(path).isDirectory() && readdirSync(path).length === 0) return;
  process.exitCode = 1;
  throw new CliError(
    `${path} already exists; pass --force to replace it (the old one stays until the new one is complete), or choose another --out`,
  );
}

/**
 * Add `data validate`, `data import` and `data generate` to `program`.
 * Errors are thrown as {@link CliError} (after setting `process.exitCode = 1`), never `process.exit`.
 */
export function registerDataCommands(program: Command, io: DataCommandIo = consoleIo): Command {
  const data = program
    .command('data')
    .description('validate, import and generate question/answer datasets');

  data
    .command('validate')
    .description(
      'check every record of a .jsonl/.json/.parquet file; print file:line: field: message per bad record',
    )
    .argument('<file>', 'dataset file')
    .option('--skip', 'tolerate invalid records (exit 0) and report them')
    .option(
      '--rejects <path>',
      'with --skip: write every invalid record and its reason to this JSONL file',
    )
    .action(async (file: string, opts: SkipOpts) => {
      const rejected: Rejection[] = [];
      let stream: ExampleStream;
      try {
        stream = loadDataset(file, readOptions(opts, io, rejected));
        for await (const _example of stream) {
          // Validation only: the loader checks each record as it streams past.
        }
      } catch (error) {
        return asCliError(error, file);
      }
      io.out(countsLine(file, stream));
      failOnEmpty(file, stream);
      failOnRejects(opts, stream, rejected[0]);
    });

  data
    .command('import')
    .description(
      'convert a GSM8K, MATH or multiple-choice file to covrl records (.jsonl or .parquet)',
    )
    .addOption(
      new Option('--format <format>', 'source format')
        .choices(Object.keys(importers))
        .makeOptionMandatory(),
    )
    .argument('<in>', 'source file (.jsonl/.json/.parquet)')
    .requiredOption(
      '--out <file>',
      'output file; .parquet writes Parquet, anything else JSON Lines',
    )
    .addOption(
      new Option('--domain <domain>', 'domain written on every record').choices([...DOMAINS]),
    )
    .option('--family <name>', 'family written on every record (default: the format)')
    .option('--skip', 'drop invalid records (exit 0) and report them')
    .option(
      '--rejects <path>',
      'with --skip: write every dropped record and its reason to this JSONL file',
    )
    .option('--force', 'replace an existing --out (only once the new file is complete)')
    .action(
      async (
        input: string,
        opts: SkipOpts & {
          format: string;
          out: string;
          domain?: Domain;
          family?: string;
          force?: boolean;
        },
      ) => {
        refuseExisting(opts.out, opts.force);
        const rejected: Rejection[] = [];
        let stream: ExampleStream;
        let written: number;
        try {
          stream = importDataset(input, opts.format, {
            ...readOptions(opts, io, rejected),
            ...(opts.domain !== undefined ? { domain: opts.domain } : {}),
            ...(opts.family !== undefined ? { family: opts.family } : {}),
          });
          // Without --skip nothing is written when any record is invalid.
          if (opts.skip !== true) {
            for await (const _example of stream) {
              // First pass: validate only.
            }
            failOnEmpty(input, stream);
            failOnRejects(opts, stream, rejected[0]);
          }
          // Written to a temporary file and renamed into place when complete.
          written = opts.out.toLowerCase().endsWith('.parquet')
            ? await writeParquet(opts.out, stream)
            : await writeJsonl(opts.out, stream);
        } catch (error) {
          if (error instanceof CliError) throw error;
          return asCliError(error, input);
        }
        failOnEmpty(input, stream);
        io.out(countsLine(input, stream, `; wrote ${written} to ${opts.out}`));
      },
    );

  data
    .command('generate')
    .description('write the synthetic suite: <out>/<family>.jsonl per family and manifest.json')
    .requiredOption('--n <count>', 'examples per family', integer('--n', 1))
    .requiredOption('--seed <seed>', 'generator seed', integer('--seed', 0))
    .requiredOption('--out <dir>', 'output directory')
    .option('--families <names>', `comma-separated families (default: ${FAMILY_NAMES.join(',')})`)
    .option('--difficulty <level>', 'difficulty 1..3', integer('--difficulty', 1), 2)
    .option('--force', 'replace an existing --out (only once the new suite is complete)')
    .action(
      async (opts: {
        n: number;
        seed: number;
        out: string;
        families?: string;
        difficulty: number;
        force?: boolean;
      }) => {
        recoverDirAside(dirname(opts.out));
        refuseExisting(opts.out, opts.force);
        const names = opts.families
          ?.split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '') ?? [...FAMILY_NAMES];
        for (const name of names) {
          const found = getFamily(name);
          if (E.isLeft(found)) {
            process.exitCode = 1;
            throw new CliError(`--families: ${found.left}`);
          }
        }
        if (opts.difficulty > 3) {
          process.exitCode = 1;
          throw new CliError(`--difficulty must be 1, 2 or 3, got ${opts.difficulty}`);
        }
        // The whole suite goes into a temporary sibling directory, moved into place when complete.
        const tmp = join(dirname(opts.out), `.${basename(opts.out)}.${process.pid}.tmp`);
        const files: Record<string, { file: string; count: number; domain: string }> = {};
        for (const name of names) {
          const examples = generateSuite({
            families: [name],
            perFamily: opts.n,
            seed: opts.seed,
            difficulty: opts.difficulty,
          });
          const file = `${name}.jsonl`;
          const count = await writeJsonl(join(tmp, file), examples);
          files[name] = { file, count, domain: examples[0]?.domain ?? '' };
          io.out(`${join(opts.out, file)}: ${count} examples`);
        }
        const manifest = {
          generator: '@covrl/data',
          seed: opts.seed,
          difficulty: opts.difficulty,
          perFamily: opts.n,
          families: files,
        };
        await writeFileAtomic(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
        swapDirInto(tmp, opts.out, 'data generate');
        io.out(`${join(opts.out, 'manifest.json')}: ${names.length} families`);
      },
    );

  return data;
}
