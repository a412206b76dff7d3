/**
 * Graceful stop on SIGINT (Ctrl-C) and SIGTERM (`kill`, a container or CI runner stopping): the
 * first signal asks the work to finish its current step and save; a second one exits at once
 * with status 130 (SIGINT) or 143 (SIGTERM), leaving the last complete checkpoint on disk.
 */

/** A stop request shared by the signal handlers and the loop that polls it. */
export interface StopSignal {
  /** Whether a stop was asked for. */
  readonly requested: () => boolean;
  /** Remove the handlers (idempotent). */
  readonly dispose: () => void;
}

/**
 * Install SIGINT and SIGTERM handlers. `onFirst(signal)` is called on the first signal (to print
 * what happens next); `secondMessage` is written to stderr before a second signal exits.
 */
export function onStopSignals(
  onFirst: (signal: NodeJS.Signals) => void,
  secondMessage: string,
): StopSignal {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`${secondMessage}\n`);
      process.exit(signal === 'SIGTERM' ? 143 : 130);
    }
    stopping = true;
    onFirst(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  let disposed = false;
  return {
    requested: () => stopping,
    dispose: () => {
      if (disposed) return;
      disposed = true;
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
