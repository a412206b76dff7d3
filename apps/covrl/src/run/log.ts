/**
 * Run logs: JSONL metrics (the resolved config is always the first record), sampled completions,
 * a progress bar on a TTY and plain lines with a heartbeat otherwise, and the non-finite guard
 * that stops a run naming the term and the step.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, fileError, writeFileAtomicSync } from '../util/atomic.js';
import { faultPoint } from '../util/fault.js';

export type LogRecord =
  | {
      readonly type: 'config';
      readonly time: string;
      readonly command: string;
      readonly config: unknown;
    }
  | {
      readonly type: 'step';
      readonly time: string;
      readonly step: number;
      readonly metrics: Record<string, number>;
      /** Seconds per phase, compute counts and throughput of the step (`StepOutput.timing`). */
      readonly timing?: Record<string, number>;
    }
  | {
      readonly type: 'eval';
      readonly time: string;
      readonly step: number;
      readonly metrics: Record<string, number>;
      /** The end-of-run evaluation (redone, not repeated, when a finished run is resumed). */
      readonly final?: boolean;
    }
  | {
      readonly type: 'event';
      readonly time: string;
      readonly step: number;
      readonly message: string;
      /**
       * Machine-readable kind of event (`resumed`, `interrupted`, `non-finite`, `collapse`
       * (warning), `collapsed` (stop), `warning`, `exported`).
       */
      readonly kind?: string;
      /** For `non-finite`: the metric or term that was NaN/Inf, and its value. */
      readonly term?: string;
      readonly value?: number;
    };

/** Thrown when a loss term or reward is NaN or infinite. */
export class NonFiniteError extends Error {
  constructor(
    readonly term: string,
    readonly step: number,
    readonly value: number,
    /** The library's own message, when a library input check tripped. */
    readonly detail?: string,
  ) {
    super(
      (detail === undefined
        ? `non-finite value ${value} in '${term}' at step ${step}`
        : `non-finite input '${term}' at step ${step} (${detail})`) +
        '; stopping (the last good checkpoint is kept)',
    );
    this.name = 'NonFiniteError';
  }
}

/** Library input checks that tripped on NaN/Inf before `NonFiniteInputError` existed. */
const LEGACY_NON_FINITE =
  /^([A-Za-z]\w*): (\w+) (?:contains|is|has) (?:a )?(?:NaN|±?Infinity|non-finite)/;

/**
 * The trainer's non-finite stop for any failure inside a step that is about non-finite values:
 * the app's own {@link NonFiniteError} as it is; a library's `NonFiniteInputError` (an error with
 * `name === 'NonFiniteInputError'` and fields `fn`, `argument`, from `@covrl/utils`) as a
 * `NonFiniteError` whose term is `<fn>: <argument>`; and the plain `Error` an older library input
 * check throws (`covrlLoss: priorLogProbs contains NaN or ±Infinity…`, `answerLikelihoodReward:
 * answerLogProbs is NaN at …`) likewise. Any other error
 * gives undefined (it is a bug or an I/O failure, not a divergence).
 */
export function toNonFiniteError(error: unknown, step: number): NonFiniteError | undefined {
  if (error instanceof NonFiniteError) return error;
  if (!(error instanceof Error)) return undefined;
  if (error.name === 'NonFiniteInputError') {
    const e = error as Error & { fn?: unknown; argument?: unknown };
    const term =
      typeof e.fn === 'string' && typeof e.argument === 'string'
        ? `${e.fn}: ${e.argument}`
        : e.message;
    return new NonFiniteError(term, step, Number.NaN, error.message);
  }
  const m = LEGACY_NON_FINITE.exec(error.message);
  if (m !== null) return new NonFiniteError(`${m[1]}: ${m[2]}`, step, Number.NaN, error.message);
  return undefined;
}

/** Metric prefixes the non-finite guard checks: every loss term, reward and the gradient norm. */
export const GUARDED_PREFIXES: readonly string[] = ['loss/', 'reward/', 'grad/'];

/**
 * Throw {@link NonFiniteError} for the first non-finite metric whose key starts with one of
 * `prefixes` (by default every loss term, reward and the gradient norm).
 */
export function assertFinite(
  metrics: Readonly<Record<string, number>>,
  step: number,
  prefixes: readonly string[] = GUARDED_PREFIXES,
): void {
  for (const [key, value] of Object.entries(metrics)) {
    if (prefixes.some((p) => key.startsWith(p)) && !Number.isFinite(value)) {
      throw new NonFiniteError(key, step, value);
    }
  }
}

/** JSON that survives NaN/Infinity (written as strings, so a reader sees what happened). */
export function safeJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
  );
}

export class RunLog {
  readonly metricsPath: string;
  readonly samplesPath: string;

  constructor(readonly dir: string) {
    ensureDir(dir, 'RunLog');
    this.metricsPath = join(dir, 'metrics.jsonl');
    this.samplesPath = join(dir, 'samples.jsonl');
  }

  /** Start a fresh log whose first record is the resolved config. */
  start(command: string, config: unknown): void {
    const record: LogRecord = { type: 'config', time: new Date().toISOString(), command, config };
    writeFileAtomicSync(this.metricsPath, `${safeJson(record)}\n`);
    writeFileAtomicSync(this.samplesPath, '');
  }

  /**
   * On resume from a checkpoint at `step`, drop records logged after it (they will be logged again,
   * identically, by the resumed run). An unparsable final line is a record torn by a process killed
   * while appending it: it is dropped, and the returned notes say so (the trainer logs them and
   * writes them to stderr). An unparsable line anywhere else throws naming the file and line.
   */
  truncateAfter(step: number): string[] {
    const notes: string[] = [];
    for (const path of [this.metricsPath, this.samplesPath]) {
      if (!existsSync(path)) continue;
      const { lines, torn } = parseJsonl(path);
      if (torn !== undefined) {
        notes.push(
          `${path}:${torn.line}: dropped a torn last record (${torn.text.length} characters, not valid JSON: the process was stopped while writing it)`,
        );
      }
      const kept = lines
        .filter(({ record }) => {
          const r = record as {
            step?: number;
            type?: string;
            final?: boolean;
            kind?: string;
          } | null;
          // The end-of-run phase (final evaluation, export) is redone by the resumed run.
          if (r?.type === 'eval' && r.final === true) return false;
          if (r?.type === 'event' && r.kind === 'exported') return false;
          return r?.step === undefined || r.step <= step;
        })
        .map(({ text }) => text);
      writeFileAtomicSync(path, kept.length > 0 ? `${kept.join('\n')}\n` : '');
    }
    return notes;
  }

  /**
   * A step's metrics, with its wall-clock timing (`time/…`, `compute/…`, `throughput/…`) beside
   * them rather than among them, so two runs of one config log identical `metrics`.
   */
  step(step: number, metrics: Record<string, number>, timing?: Record<string, number>): void {
    this.append({
      type: 'step',
      time: new Date().toISOString(),
      step,
      metrics,
      ...(timing !== undefined ? { timing } : {}),
    });
  }

  /** An evaluation record; `final` marks the end-of-run evaluation. */
  eval(step: number, metrics: Record<string, number>, final = false): void {
    this.append({
      type: 'eval',
      time: new Date().toISOString(),
      step,
      metrics,
      ...(final ? { final: true } : {}),
    });
  }

  /** The step records of the log, in order (for state rebuilt from metrics on resume). */
  stepRecords(): { step: number; metrics: Record<string, number> }[] {
    if (!existsSync(this.metricsPath)) return [];
    return readLog(this.metricsPath).flatMap((r) =>
      r.type === 'step' ? [{ step: r.step, metrics: r.metrics }] : [],
    );
  }

  event(
    step: number,
    message: string,
    extra: { readonly kind?: string; readonly term?: string; readonly value?: number } = {},
  ): void {
    this.append({ type: 'event', time: new Date().toISOString(), step, message, ...extra });
  }

  /** Sampled completions with their reward terms. */
  samples(step: number, rows: readonly Record<string, unknown>[]): void {
    if (rows.length === 0) return;
    appendLines(this.samplesPath, rows.map((r) => safeJson({ step, ...r })).join('\n') + '\n');
  }

  private append(record: LogRecord): void {
    appendLines(this.metricsPath, `${safeJson(record)}\n`);
  }
}

/**
 * Append complete lines to a log (Node loops on short writes). A failure names the file; a
 * process killed mid-append leaves a torn last line, which {@link RunLog.truncateAfter} drops on
 * resume.
 */
function appendLines(path: string, text: string): void {
  try {
    faultPoint(`append ${path}`);
    appendFileSync(path, text);
  } catch (error) {
    throw fileError('RunLog', 'append', path, error);
  }
}

/** The lines of a JSONL file with their parsed records, and its torn last line if any. */
interface ParsedJsonl {
  readonly lines: readonly { readonly text: string; readonly record: unknown }[];
  /** An unparsable last non-empty line (1-based), dropped from `lines`. */
  readonly torn?: { readonly line: number; readonly text: string };
}

/**
 * Parse a JSONL file line by line. The last non-empty line may be torn (a process killed while
 * appending it): when it is not valid JSON it is returned as `torn` instead of a record. Any
 * other unparsable line throws naming the file and the line.
 */
function parseJsonl(path: string): ParsedJsonl {
  const raw = readFileSync(path, 'utf8').split('\n');
  let last = raw.length - 1;
  while (last >= 0 && (raw[last] as string).trim() === '') last--;
  const lines: { text: string; record: unknown }[] = [];
  let torn: ParsedJsonl['torn'];
  raw.forEach((text, i) => {
    if (text.trim() === '') return;
    try {
      lines.push({ text, record: JSON.parse(text) as unknown });
    } catch (error) {
      if (i === last) {
        torn = { line: i + 1, text };
        return;
      }
      throw new Error(
        `${path}:${i + 1}: not valid JSON (${error instanceof Error ? error.message : String(error)}); ` +
          'only a torn last line is dropped: repair or delete this line',
      );
    }
  });
  return torn === undefined ? { lines } : { lines, torn };
}

/**
 * Read every record of a metrics.jsonl, naming the file and line on a malformed record. A torn
 * last line (a process killed while appending it) is skipped and reported to `onTorn`; the
 * trainer drops it from the file when the run resumes.
 */
export function readLog(path: string, onTorn?: (note: string) => void): LogRecord[] {
  const { lines, torn } = parseJsonl(path);
  if (torn !== undefined) {
    onTorn?.(`${path}:${torn.line}: skipped a torn last record (not valid JSON)`);
  }
  return lines.map(({ record }) => record as LogRecord);
}

export interface ProgressOptions {
  readonly label: string;
  readonly total: number;
  readonly stream?: NodeJS.WriteStream;
  /** Seconds between heartbeat lines when not on a TTY. */
  readonly heartbeatSeconds?: number;
}

/** A progress bar on a TTY; plain lines and a heartbeat otherwise (CI logs, files). */
export class Progress {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly started = Date.now();
  private done = 0;
  private lastLine = Date.now();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    if (!this.tty) {
      const every = (options.heartbeatSeconds ?? 30) * 1000;
      // Checked several times per period, so a heartbeat follows at most ~1.2 periods of silence
      // (checking once per period could wait almost two).
      this.timer = setInterval(
        () => {
          if (Date.now() - this.lastLine >= every)
            this.line(
              `${options.label}: still working on step ${this.done + 1}/${options.total} (${this.elapsed()})`,
            );
        },
        Math.max(50, every / 6),
      );
      this.timer.unref();
    }
  }

  private elapsed(): string {
    const s = Math.round((Date.now() - this.started) / 1000);
    return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
  }

  private line(text: string): void {
    this.lastLine = Date.now();
    this.stream.write(`${text}\n`);
  }

  /** Report that `done` of `total` steps are complete, with a short summary. */
  update(done: number, summary: string): void {
    this.done = done;
    const { total, label } = this.options;
    const perStep = (Date.now() - this.started) / 1000 / Math.max(1, done);
    const eta = Math.max(0, Math.round(perStep * (total - done)));
    if (this.tty) {
      const width = 24;
      const filled = Math.round((done / Math.max(1, total)) * width);
      this.stream.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${summary} ${perStep.toFixed(1)}s/step eta ${eta}s\x1b[K`,
      );
      if (done >= total) this.stream.write('\n');
    } else if (
      done >= total ||
      done % Math.max(1, Math.floor(total / 20)) === 0 ||
      Date.now() - this.lastLine >= 15_000
    ) {
      // Plain lines for logs: every 5 % of the run or every 15 s, whichever comes first.
      this.line(
        `${label} step ${done}/${total} ${summary} (${perStep.toFixed(1)} s/step, ${this.elapsed()})`,
      );
    }
  }

  /** A message that must not be overwritten by the bar. */
  note(text: string): void {
    if (this.tty) this.stream.write(`\r\x1b[K`);
    this.line(text);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}
