/**
 * Decode the run configuration once, at the edge: defaults < method preset < budget preset < file
 * < flags. Unknown keys, wrong types and invalid combinations are rejected with messages that say
 * which key to set and how; the result is deep-frozen so nothing mutates it at run time.
 */
import { readFileSync } from 'node:fs';
import * as E from 'fp-ts/lib/Either.js';
import { parse as parseYaml } from 'yaml';
import { FAMILY_NAMES } from '@covrl/data';
import {
  BUDGETS,
  BUDGET_ENTRIES,
  BUDGET_PRESETS,
  DEFAULTS,
  ENUMS,
  LIBRARY_RANGES,
  SOURCES,
  type BudgetPreset,
  type Config,
} from './schema.js';
import { METHODS, METHOD_PRESETS, METHOD_PRESET_ENTRIES, isMethod } from '../methods/index.js';
import type { Method } from '../methods/index.js';
import { checkContextBudgets } from '../context-budget.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Tree = { [key: string]: unknown };

const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

function clone<T>(value: T): T {
  return structuredClone(value);
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'string[]';
  if (v === null) return 'null';
  return typeof v;
}

/** Called for every leaf a layer sets: its dotted key and the value. */
type OnSet = (key: string, value: unknown) => void;

/** Merge `layer` into `target` (in place), checking keys and types against DEFAULTS. */
function mergeLayer(
  target: Tree,
  layer: unknown,
  origin: string,
  path: string[],
  errors: string[],
  onSet: OnSet = () => undefined,
): void {
  if (!isTree(layer)) {
    errors.push(
      `${origin}: ${path.length ? `'${path.join('.')}'` : 'the top level'} must be an object, got ${kindOf(layer)}`,
    );
    return;
  }
  for (const [key, value] of Object.entries(layer)) {
    const full = [...path, key];
    const name = full.join('.');
    if (!(key in target)) {
      const known = Object.keys(target).join(', ');
      errors.push(`${origin}: unknown key '${name}'; valid keys here are: ${known}`);
      continue;
    }
    const current = target[key];
    if (isTree(current)) {
      mergeLayer(current, value, origin, full, errors, onSet);
      continue;
    }
    const expected = kindOf(current);
    const actual = kindOf(value);
    if (
      expected !== actual ||
      (expected === 'string[]' && !(value as unknown[]).every((x) => typeof x === 'string'))
    ) {
      errors.push(
        `${origin}: '${name}' must be a ${expected}, got ${actual} (${JSON.stringify(value)})`,
      );
      continue;
    }
    if (typeof value === 'number' && !Number.isFinite(value)) {
      // JSON's 1e999 and YAML's .inf / .nan decode to non-finite numbers.
      errors.push(`${origin}: '${name}' must be a finite number, got ${String(value)}`);
      continue;
    }
    target[key] = clone(value);
    onSet(name, value);
  }
}

/** Parse a flag's string value into the type of the default at `path`. */
function parseFlagValue(path: string, raw: string, errors: string[]): unknown {
  let node: unknown = DEFAULTS;
  for (const part of path.split('.')) {
    if (!isTree(node) || !(part in node)) {
      errors.push(`--set ${path}: unknown key '${path}'`);
      return undefined;
    }
    node = node[part];
  }
  if (isTree(node)) {
    errors.push(
      `--set ${path}: '${path}' is a section; set one of its keys (${Object.keys(node).join(', ')})`,
    );
    return undefined;
  }
  switch (kindOf(node)) {
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        errors.push(`--set ${path}=${raw}: expected a finite number`);
      return n;
    }
    case 'boolean':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      errors.push(`--set ${path}=${raw}: expected true or false`);
      return undefined;
    case 'string[]':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    default:
      return raw;
  }
}

function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    if (!isTree(node[part])) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1] as string] = value;
}

function getPath(tree: unknown, path: string): unknown {
  let node = tree;
  for (const part of path.split('.')) node = isTree(node) ? node[part] : undefined;
  return node;
}

/** Keys that must be integers ≥ 1. */
const POSITIVE_INTS: readonly string[] = [
  'model.dModel',
  'model.nLayers',
  'model.nHeads',
  'model.dFf',
  'model.maxContext',
  'data.trainPerFamily',
  'data.testPerFamily',
  'pretrain.steps',
  'pretrain.batchSize',
  'pretrain.examplesPerFamily',
  'train.steps',
  'train.questionsPerStep',
  'train.groupSize',
  'train.maxTraceTokens',
  'train.maxAnswerTokens',
  'train.miniBatches',
  'train.evalEvery',
  'train.checkpointEvery',
  'train.collapsePatience',
  'verifree.maxAnswerTokens',
  'rlpr.repetitionWindow',
  'rlpr.repetitionMinRepeats',
  'rlpr.maxGenerationRounds',
  'eval.samples',
  'eval.maxQuestions',
  'eval.maxNewTokens',
];

/** Keys that must be integers ≥ 0 (a seed, a count that may be zero, a step number). */
const NON_NEGATIVE_INTS: readonly string[] = [
  'seed',
  'pretrain.warmupSteps',
  'pretrain.evalEvery',
  'train.logSamples',
  'rlpr.emaStartStep',
  'rlpr.filterStartStep',
];

/** Keys that must be > 0: a zero rate, temperature or clip norm makes no sense. */
const POSITIVE: readonly string[] = [
  'train.lr',
  'pretrain.lr',
  'train.temperature',
  'eval.temperature',
  'train.gradClip',
];

/** Keys that must be ≥ 0. */
const NON_NEGATIVE: readonly string[] = [
  'covrl.invalidRewardMargin',
  'train.weightDecay',
  'rlpr.formatWeight',
];

/** Keys that must lie in [0, 1]. */
const UNIT_INTERVAL: readonly string[] = [
  'train.warmupFraction',
  'pretrain.priorTraceErrorRate',
  'pretrain.posteriorTraceErrorRate',
  'rlpr.stdFilterDecay',
];

/** Choice keys against their allowed names. */
function checkEnums(c: Config, errors: string[]): void {
  for (const [path, allowed] of Object.entries(ENUMS)) {
    const v = getPath(c, path);
    if (typeof v === 'string' && !allowed.includes(v)) {
      errors.push(`'${path}' is '${v}'; use one of ${allowed.join(', ')}`);
    }
  }
}

/** Integer and range rules of single keys (the tables above). */
function checkRanges(c: Config, errors: string[]): void {
  const num = (path: string): number => getPath(c, path) as number;
  for (const path of POSITIVE_INTS) {
    const v = num(path);
    if (!Number.isInteger(v) || v < 1)
      errors.push(`'${path}' must be a positive integer, got ${v}`);
  }
  for (const path of NON_NEGATIVE_INTS) {
    const v = num(path);
    if (!Number.isInteger(v) || v < 0) errors.push(`'${path}' must be an integer ≥ 0, got ${v}`);
  }
  for (const path of POSITIVE) {
    const v = num(path);
    if (!(v > 0)) errors.push(`'${path}' must be > 0, got ${v}`);
  }
  for (const path of NON_NEGATIVE) {
    const v = num(path);
    if (!(v >= 0)) errors.push(`'${path}' must be ≥ 0, got ${v}`);
  }
  for (const path of UNIT_INTERVAL) {
    const v = num(path);
    if (!(v >= 0 && v <= 1)) errors.push(`'${path}' must be in [0, 1], got ${v}`);
  }
  // Keys a library loss reads: the loss's own range (LIBRARY_RANGES), so the two cannot differ.
  for (const [path, { min, max, maxExclusive = false }] of Object.entries(LIBRARY_RANGES)) {
    const v = num(path);
    if (!(v >= min && (maxExclusive ? v < max : v <= max))) {
      const upper = max === Number.MAX_VALUE ? '' : `, ${max}${maxExclusive ? ')' : ']'}`;
      errors.push(
        upper === ''
          ? `'${path}' must be ≥ ${min}, got ${v}`
          : `'${path}' must be in [${min}${upper}, got ${v}`,
      );
    }
  }
}

/** Rules that tie keys together: pretraining band and shares, model shape, batch shape. */
function checkCombinations(c: Config, errors: string[]): void {
  if (!(
    c.pretrain.targetLow >= 0 &&
    c.pretrain.targetLow <= c.pretrain.targetHigh &&
    c.pretrain.targetHigh <= 1
  )) {
    errors.push(
      `'pretrain.targetLow' (${c.pretrain.targetLow}) and 'pretrain.targetHigh' (${c.pretrain.targetHigh}) must satisfy 0 ≤ low ≤ high ≤ 1`,
    );
  }
  if (c.model.dModel % c.model.nHeads !== 0) {
    errors.push(
      `'model.nHeads' (${c.model.nHeads}) must divide 'model.dModel' (${c.model.dModel})`,
    );
  }
  if (c.train.groupSize < 2)
    errors.push(
      `'train.groupSize' must be ≥ 2 (group advantages need two rollouts), got ${c.train.groupSize}`,
    );
  if (c.train.questionsPerStep % c.train.miniBatches !== 0) {
    errors.push(
      `'train.questionsPerStep' (${c.train.questionsPerStep}) must be divisible by 'train.miniBatches' (${c.train.miniBatches}) so each mini-batch holds whole groups`,
    );
  }
  const shares = c.pretrain.posteriorShare + c.pretrain.noTraceShare;
  if (c.pretrain.posteriorShare < 0 || c.pretrain.noTraceShare < 0 || shares >= 1) {
    errors.push(
      `'pretrain.posteriorShare' + 'pretrain.noTraceShare' must be ≥ 0 and < 1 (the rest is PRIOR text), got ${shares}`,
    );
  }
  if (c.train.maxTraceTokens + 64 > c.model.maxContext) {
    errors.push(
      `'train.maxTraceTokens' (${c.train.maxTraceTokens}) leaves too little of 'model.maxContext' (${c.model.maxContext}) for question and answer; raise model.maxContext or lower train.maxTraceTokens`,
    );
  }
}

/** The data keys: known, distinct families and a valid difficulty. */
function checkData(c: Config, errors: string[]): void {
  const families = new Set(c.data.trainFamilies);
  for (const f of c.data.transferFamilies) {
    if (families.has(f))
      errors.push(
        `'data.transferFamilies' repeats training family '${f}'; transfer must be measured on unseen families`,
      );
  }
  if (c.data.trainFamilies.length === 0) {
    errors.push(`'data.trainFamilies' is empty; name at least one of ${FAMILY_NAMES.join(', ')}`);
  }
  for (const path of [
    'data.trainFamilies',
    'data.transferFamilies',
    'data.nearTransferFamilies',
    'data.farControlFamilies',
  ] as const) {
    for (const f of getPath(c, path) as string[]) {
      if (!(FAMILY_NAMES as readonly string[]).includes(f)) {
        errors.push(`'${path}' names unknown family '${f}'; use ${FAMILY_NAMES.join(', ')}`);
      }
    }
  }
  if (!Number.isInteger(c.data.difficulty) || c.data.difficulty < 1 || c.data.difficulty > 3) {
    errors.push(`'data.difficulty' must be 1, 2 or 3, got ${c.data.difficulty}`);
  }
}

/**
 * Every rule of a decoded config; each message names the key and says what to set instead.
 * Integers where integers are meant (a seed of 0.5 is refused), ranges where values outside make
 * no sense (`train.gradClip` 0, a negative coefficient), and the rules that tie keys together.
 */
export function checkConfig(c: Config): string[] {
  const errors: string[] = [];
  checkEnums(c, errors);
  checkRanges(c, errors);
  checkCombinations(c, errors);
  checkData(c, errors);
  // The token budgets need the task, which needs valid families, difficulty and tags.
  if (errors.length === 0) {
    try {
      errors.push(...checkContextBudgets(c));
    } catch (error) {
      errors.push(
        `cannot build the task of this config: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return errors;
}

/**
 * Append to each message of {@link checkConfig} where its key was set (`from cfg.yaml`,
 * `from --set`), when a preset, a file or a flag set it rather than the defaults.
 */
function locate(
  errors: readonly string[],
  history: ReadonlyMap<string, readonly Setting[]>,
): string[] {
  return errors.map((e) => {
    const key = /'([\w.]+)'/.exec(e)?.[1];
    const last = key === undefined ? undefined : history.get(key)?.at(-1);
    if (last === undefined || last.layer === 'default') return e;
    return `${e} (set by ${last.layer === '--set' ? `--set ${key as string}` : last.layer})`;
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export interface ConfigSources {
  /**
   * The method this command runs (`train -m`, `config -m`, or `compare` per run). A different
   * `method` in the file or in `--set method=…` is an error; without it, `--set method=…` and then
   * the file's `method` name it, else the default (`covrl`).
   */
  readonly method?: string;
  /** How the command names `method` in messages (e.g. `--method`); default `the command`. */
  readonly methodOrigin?: string;
  /** Fail unless the command, `--set method=…` or the file names the method. */
  readonly requireMethod?: boolean;
  readonly preset?: string;
  /** Path to a JSON or YAML file. */
  readonly file?: string;
  /** Flag assignments `path → raw string`, e.g. `{ 'train.steps': '20' }`. */
  readonly flags?: Readonly<Record<string, string>>;
}

/** Read a JSON or YAML config file, naming the file on every error. */
export function readConfigFile(path: string): E.Either<string[], unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return E.left([
      `${path}: cannot read config file (${error instanceof Error ? error.message : String(error)})`,
    ]);
  }
  try {
    return E.right(/\.ya?ml$/i.test(path) ? (parseYaml(text) as Json) : (JSON.parse(text) as Json));
  } catch (error) {
    return E.left([
      `${path}: not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
}

/** One layer's setting of a key: which layer, the value, and the layer's source for it. */
export interface Setting {
  /** `default`, `method preset 'covrl'`, `budget preset 'quick'`, the file's path, or `--set`. */
  readonly layer: string;
  readonly value: unknown;
  readonly source: string;
}

/** A decoded config with, per dotted key, every layer that set it (lowest first). */
interface Decoded {
  readonly config: Config;
  readonly history: ReadonlyMap<string, readonly Setting[]>;
}

/** The method of a run: the command's, else `--set method=…`, else the file's; conflicts fail. */
function resolveMethod(
  sources: ConfigSources,
  fileTree: unknown,
): E.Either<string[], { method: string; setting: Setting }> {
  const named: Setting[] = [];
  const flag = sources.flags?.['method'];
  if (flag !== undefined)
    named.push({ layer: '--set', value: flag, source: 'set by --set method' });
  const fromFile = isTree(fileTree) ? fileTree['method'] : undefined;
  if (typeof fromFile === 'string') {
    named.push({
      layer: sources.file as string,
      value: fromFile,
      source: `set in ${sources.file as string}`,
    });
  }
  if (sources.method !== undefined) {
    const by = sources.methodOrigin ?? 'the command';
    const conflicts = named
      .filter((n) => n.value !== sources.method)
      .map(
        (n) =>
          `'method' is '${String(n.value)}' in ${n.layer === '--set' ? '--set method' : n.layer} but ${by} runs method '${sources.method}'; name the method once (remove one of them) or make them agree`,
      );
    if (conflicts.length > 0) return E.left(conflicts);
    return E.right({
      method: sources.method,
      setting: { layer: by, value: sources.method, source: `set by ${by}` },
    });
  }
  const first = named[0];
  if (first !== undefined) return E.right({ method: String(first.value), setting: first });
  if (sources.requireMethod === true) {
    return E.left([
      `no method named; pass --method ${METHODS.join('|')}, or set 'method' in the config file`,
    ]);
  }
  return E.right({
    method: DEFAULTS.method,
    setting: { layer: 'default', value: DEFAULTS.method, source: '[OURS] default method' },
  });
}

function decodeWithHistory(sources: ConfigSources): E.Either<string[], Decoded> {
  const errors: string[] = [];
  const config = clone(DEFAULTS) as unknown as Tree;
  let fileTree: unknown;
  if (sources.file !== undefined) {
    const read = readConfigFile(sources.file);
    if (E.isLeft(read)) return read;
    fileTree = read.right;
  }
  const resolved = resolveMethod(sources, fileTree);
  if (E.isLeft(resolved)) return resolved;
  const { method } = resolved.right;
  if (!isMethod(method)) {
    return E.left([`unknown method '${method}'; use --method ${METHODS.join('|')}`]);
  }
  const preset = sources.preset ?? 'standard';
  if (!(BUDGET_PRESETS as readonly string[]).includes(preset)) {
    return E.left([`unknown preset '${preset}'; use --preset ${BUDGET_PRESETS.join('|')}`]);
  }
  const history = new Map<string, Setting[]>();
  const record =
    (layer: string, sourceOf: (key: string) => string): OnSet =>
    (key, value) => {
      const list = history.get(key) ?? [];
      list.push({ layer, value: clone(value), source: sourceOf(key) });
      history.set(key, list);
    };
  const leaves = (tree: unknown, path: string[] = []): [string, unknown][] =>
    isTree(tree)
      ? Object.entries(tree).flatMap(([k, v]) => leaves(v, [...path, k]))
      : [[path.join('.'), tree]];
  for (const [key, value] of leaves(DEFAULTS))
    record('default', (k) => SOURCES[k] ?? '')(key, value);
  const m = method as Method;
  const p = preset as BudgetPreset;
  mergeLayer(
    config,
    METHOD_PRESETS[m],
    `preset '${method}'`,
    [],
    errors,
    record(`method preset '${method}'`, (k) => METHOD_PRESET_ENTRIES[m][k]?.source ?? ''),
  );
  mergeLayer(
    config,
    BUDGETS[p],
    `preset '${preset}'`,
    [],
    errors,
    record(`budget preset '${preset}'`, (k) => BUDGET_ENTRIES[p][k]?.source ?? ''),
  );
  if (fileTree !== undefined) {
    const file = sources.file as string;
    mergeLayer(
      config,
      fileTree,
      file,
      [],
      errors,
      record(file, () => `set in ${file}`),
    );
  }
  const flagTree: Tree = {};
  for (const [path, raw] of Object.entries(sources.flags ?? {})) {
    const value = parseFlagValue(path, raw, errors);
    if (value !== undefined) setPath(flagTree, path, value);
  }
  mergeLayer(
    config,
    flagTree,
    'flags',
    [],
    errors,
    record('--set', (k) => `set by --set ${k}`),
  );
  // The method was resolved above (file and flag values agree with it or lost to the command).
  config['method'] = method;
  history.set('method', [resolved.right.setting]);
  if (errors.length > 0) return E.left(errors);
  const checked = checkConfig(config as unknown as Config);
  if (checked.length > 0) return E.left(locate(checked, history));
  return E.right({ config: deepFreeze(config as unknown as Config), history });
}

/** Decode defaults < method preset < budget preset < file < flags into a frozen {@link Config}. */
export function decodeConfig(sources: ConfigSources): E.Either<string[], Config> {
  return E.map((d: Decoded) => d.config)(decodeWithHistory(sources));
}

/** One key of `covrl config --explain`: its resolved value, the layer that set it, and why. */
export interface ExplainedKey {
  readonly key: string;
  readonly value: unknown;
  /** The layer whose value won (the last that set the key). */
  readonly setting: Setting;
  /** Earlier layers whose value it replaced, latest first. */
  readonly replaced: readonly Setting[];
}

/**
 * The source of every key a run of the resolved method uses: `method`, `train.*`, the method's
 * own block, `eval.*`, and every key a preset, the file or a flag set. The winning layer's source
 * is given, with the layers it replaced (e.g. the budget's `train.lr` over the method preset's).
 */
export function explainConfig(sources: ConfigSources): E.Either<string[], ExplainedKey[]> {
  return E.map((d: Decoded): ExplainedKey[] => {
    const method = d.config.method;
    const rows: ExplainedKey[] = [];
    for (const [key, settings] of d.history) {
      const own =
        key === 'method' ||
        key.startsWith('train.') ||
        key.startsWith(`${method}.`) ||
        key.startsWith('eval.');
      if (!own && settings.every((s) => s.layer === 'default')) continue;
      const setting = settings[settings.length - 1] as Setting;
      rows.push({
        key,
        value: getPath(d.config, key),
        setting,
        replaced: settings.slice(0, -1).reverse(),
      });
    }
    return rows;
  })(decodeWithHistory(sources));
}

/** `covrl config --explain` lines: key, value, layer and source, then what it replaced. */
export function formatExplain(rows: readonly ExplainedKey[]): string[] {
  const show = (v: unknown): string => JSON.stringify(v);
  const lines: string[] = [];
  for (const r of rows) {
    const src = r.setting.source === '' ? '(no source recorded)' : r.setting.source;
    lines.push(`${r.key.padEnd(28)} ${show(r.value).padEnd(14)} ${r.setting.layer}: ${src}`);
    for (const old of r.replaced) {
      // A layer that repeats the value it replaces adds nothing to the explanation.
      if (JSON.stringify(old.value) === JSON.stringify(r.value)) continue;
      lines.push(
        `${''.padEnd(28)} ${''.padEnd(14)}   replaces ${old.layer} ${show(old.value)}${old.source === '' ? '' : `: ${old.source}`}`,
      );
    }
  }
  return lines;
}

/** Parse repeated `--set key=value` flags into a record, reporting malformed ones. */
export function parseSetFlags(
  values: readonly string[],
): E.Either<string[], Record<string, string>> {
  const out: Record<string, string> = {};
  const errors: string[] = [];
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) errors.push(`--set ${v}: expected key=value, e.g. --set train.steps=20`);
    else out[v.slice(0, eq).trim()] = v.slice(eq + 1);
  }
  return errors.length > 0 ? E.left(errors) : E.right(out);
}
