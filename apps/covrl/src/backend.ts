/**
 * Run-time choice of the TF.js backend. Preference order: `tfjs-node-gpu` > `tfjs-node` > `wasm`
 * > `cpu`, the first that loads wins. The native backends are optional peers that a user installs
 * on a machine where libtensorflow can be downloaded; nothing here imports them statically, so a
 * plain `npm ci` never needs them. `--backend` or `COVRL_BACKEND` picks one explicitly (and fails
 * loudly if it cannot load, rather than silently running somewhere slower).
 */
import * as tf from '@tensorflow/tfjs';

/** Names accepted by `--backend` / `COVRL_BACKEND`. */
export const BACKEND_CHOICES = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** One candidate and what happened when it was tried. */
export interface BackendAttempt {
  readonly choice: BackendChoice;
  /** The TF.js backend name it registers (`tensorflow` for both native packages). */
  readonly tfName: string;
  readonly ok: boolean;
  /** Why it was skipped or failed; empty when it was selected. */
  readonly reason: string;
}

export interface BackendSelection {
  /** The backend now active in `tf.getBackend()`. */
  readonly backend: string;
  readonly choice: BackendChoice;
  /** Every candidate in preference order, including those never tried (after the winner). */
  readonly attempts: readonly BackendAttempt[];
  /** How the choice was made. */
  readonly source: 'auto' | 'flag' | 'env';
}

const TF_NAME: Record<BackendChoice, string> = {
  'node-gpu': 'tensorflow',
  node: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

const PACKAGE: Record<BackendChoice, string | undefined> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: undefined,
};

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // Node says "Cannot find package"; bundlers and vite-node say "Could not resolve".
  if (/Cannot find (package|module)|Could not resolve/.test(message)) return 'not installed';
  return message.split('\n')[0] ?? message;
}

async function tryBackend(choice: BackendChoice): Promise<BackendAttempt> {
  const tfName = TF_NAME[choice];
  const spec = PACKAGE[choice];
  try {
    // A variable specifier keeps bundlers and tsc from resolving optional packages statically.
    if (spec !== undefined) await import(spec);
    // covrl picks the cpu backend deliberately (as the last resort, or when asked); its
    // "install tfjs-node" banner is then noise. IS_TEST silences it (and only matters on cpu).
    if (choice === 'cpu') tf.env().set('IS_TEST', true);
    const ok = await tf.setBackend(tfName);
    if (!ok)
      return { choice, tfName, ok: false, reason: `tf.setBackend('${tfName}') returned false` };
    await tf.ready();
    return { choice, tfName, ok: true, reason: '' };
  } catch (error) {
    return { choice, tfName, ok: false, reason: describe(error) };
  }
}

function parseChoice(value: string, where: string): BackendChoice {
  const v = value.trim().toLowerCase();
  const alias: Record<string, BackendChoice> = {
    'node-gpu': 'node-gpu',
    'tfjs-node-gpu': 'node-gpu',
    gpu: 'node-gpu',
    node: 'node',
    'tfjs-node': 'node',
    tensorflow: 'node',
    wasm: 'wasm',
    cpu: 'cpu',
  };
  const found = alias[v];
  if (found === undefined) {
    throw new Error(
      `${where}: unknown backend '${value}'; use one of ${BACKEND_CHOICES.join(', ')} (or leave it unset to pick the fastest that loads)`,
    );
  }
  return found;
}

/**
 * Select and activate a TF.js backend.
 *
 * @param requested - an explicit choice (from `--backend`); when absent `COVRL_BACKEND` is read,
 *   and when that is unset the fastest candidate that loads is used.
 * @throws if an explicitly requested backend cannot be activated (the message says why).
 */
export async function selectBackend(
  requested?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BackendSelection> {
  const fromEnv = env['COVRL_BACKEND'];
  const source: BackendSelection['source'] =
    requested !== undefined ? 'flag' : fromEnv !== undefined && fromEnv !== '' ? 'env' : 'auto';
  if (source !== 'auto') {
    const raw = source === 'flag' ? (requested as string) : (fromEnv as string);
    const choice = parseChoice(raw, source === 'flag' ? '--backend' : 'COVRL_BACKEND');
    const attempt = await tryBackend(choice);
    if (!attempt.ok) {
      throw new Error(
        `${source === 'flag' ? '--backend' : 'COVRL_BACKEND'}=${raw}: backend could not be activated: ${attempt.reason}. ` +
          `Unset it to fall back automatically, or install ${PACKAGE[choice] ?? 'it'}.`,
      );
    }
    const attempts = BACKEND_CHOICES.map((c) =>
      c === choice
        ? attempt
        : {
            choice: c,
            tfName: TF_NAME[c],
            ok: false,
            reason: `not tried: ${source} chose ${choice}`,
          },
    );
    return { backend: tf.getBackend(), choice, attempts, source };
  }
  const attempts: BackendAttempt[] = [];
  let winner: BackendChoice | undefined;
  for (const choice of BACKEND_CHOICES) {
    if (winner !== undefined) {
      attempts.push({
        choice,
        tfName: TF_NAME[choice],
        ok: false,
        reason: `not needed: ${winner} loaded first`,
      });
      continue;
    }
    const attempt = await tryBackend(choice);
    attempts.push(attempt);
    if (attempt.ok) winner = choice;
  }
  if (winner === undefined) {
    throw new Error(
      `no TF.js backend could be activated: ${attempts.map((a) => `${a.choice}: ${a.reason}`).join('; ')}`,
    );
  }
  return { backend: tf.getBackend(), choice: winner, attempts, source };
}

/** A human-readable report of a selection, one line per candidate. */
export function formatSelection(selection: BackendSelection): string {
  const lines = [
    `backend: ${selection.backend} (${selection.choice}, chosen ${selection.source === 'auto' ? 'automatically' : `by ${selection.source === 'flag' ? '--backend' : 'COVRL_BACKEND'}`})`,
  ];
  for (const a of selection.attempts) {
    const status = a.ok ? 'selected' : 'skipped';
    lines.push(`  ${a.choice.padEnd(9)} ${status}${a.reason ? `: ${a.reason}` : ''}`);
  }
  return lines.join('\n');
}
