/**
 * One training run of `covrl compare --jobs N`, in its own process: the parent forks this file
 * with an IPC channel, sends one {@link WorkerJob}, and gets one {@link WorkerReply} back. The run
 * is exactly the one `compare` would train in-process (same config, base, run directory, task
 * built from the same base config), so its results are bit-identical to a sequential run's.
 *
 * The worker runs in its own process group, so a Ctrl-C at the terminal reaches only the parent,
 * which forwards one SIGINT: the trainer then finishes its step, saves a checkpoint and returns
 * interrupted. If the parent goes away (the IPC channel closes) the worker stops the same way.
 */
import type { Config } from './config/schema.js';
import { buildTask } from './task.js';
import { initRuntime } from './runtime.js';
import { train } from './train/trainer.js';
import type { SplitResult } from './report/results.js';
import { failureReason } from './run/failure.js';

/** What the parent sends: the run's settings (plain JSON). */
export interface WorkerJob {
  readonly config: Config;
  /** The comparison's base config: the task is built from it, as in-process. */
  readonly baseConfig: Config;
  readonly baseDir: string;
  readonly runDir: string;
  readonly command: string;
  readonly resume: boolean;
  /** The backend to select (the parent's); the default selection when absent. */
  readonly backend?: string;
}

/** What the worker answers. */
export type WorkerReply =
  | {
      readonly kind: 'trained';
      readonly interrupted: boolean;
      readonly steps: number;
      readonly seconds: number;
      readonly splits: Record<string, SplitResult>;
    }
  /** Diverged or collapsed: a result, recorded as a failed run (`failureReason`). */
  | { readonly kind: 'failed'; readonly reason: string }
  /** Any other error: the comparison stops with it. */
  | { readonly kind: 'error'; readonly message: string };

async function runJob(job: WorkerJob): Promise<WorkerReply> {
  await initRuntime(job.backend);
  try {
    const trained = await train({
      config: job.config,
      baseDir: job.baseDir,
      runDir: job.runDir,
      command: job.command,
      task: buildTask(job.baseConfig),
      quiet: true,
      resume: job.resume,
    });
    trained.model.dispose();
    const { interrupted, steps, seconds, splits } = trained;
    return { kind: 'trained', interrupted, steps, seconds, splits };
  } catch (error) {
    const reason = failureReason(error);
    if (reason !== undefined) return { kind: 'failed', reason };
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
}

if (process.send !== undefined) {
  let replied = false;
  process.once('message', (job: WorkerJob) => {
    void runJob(job).then((reply) => {
      replied = true;
      process.send?.(reply, () => process.disconnect());
    });
  });
  // The parent is gone before the answer: stop as a Ctrl-C would (the trainer saves, returns).
  process.once('disconnect', () => {
    if (!replied) process.kill(process.pid, 'SIGINT');
  });
}
