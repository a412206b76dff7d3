/**
 * Decoding the JSON files the app reads back (`state.json`, `latest.json`, `manifest.json`,
 * `results.json`, `covrl-base.json`, lock files) against a small schema, with located errors:
 * `<file>: field 'runs[2].seed': expected an integer, got "1"; <what to do>`. A decoder is a
 * function `(value, at) => T` that throws {@link JsonFieldError}; {@link readJsonFile} adds the
 * file and the remedy.
 */
import { readFileSync } from 'node:fs';

/** A value at `field` (a JSON path such as `runs[2].seed`) does not fit the schema. */
export class JsonFieldError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`field '${field === '' ? '(top level)' : field}': ${problem}`);
    this.name = 'JsonFieldError';
  }
}

/** Decodes an unknown JSON value found at path `at`. */
export type Decoder<T> = (value: unknown, at: string) => T;

const show = (v: unknown): string => {
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

const join = (at: string, key: string): string => (at === '' ? key : `${at}.${key}`);

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A finite number (JSON cannot hold NaN/Inf; a string "NaN" is refused too). */
export const finite: Decoder<number> = (v, at) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new JsonFieldError(at, `expected a finite number, got ${show(v)}`);
  }
  return v;
};

/** A non-negative integer. */
export const count: Decoder<number> = (v, at) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new JsonFieldError(at, `expected a non-negative integer, got ${show(v)}`);
  }
  return v;
};

/** Any integer. */
export const integer: Decoder<number> = (v, at) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new JsonFieldError(at, `expected an integer, got ${show(v)}`);
  }
  return v;
};

export const string: Decoder<string> = (v, at) => {
  if (typeof v !== 'string') throw new JsonFieldError(at, `expected a string, got ${show(v)}`);
  return v;
};

export const boolean: Decoder<boolean> = (v, at) => {
  if (typeof v !== 'boolean')
    throw new JsonFieldError(at, `expected true or false, got ${show(v)}`);
  return v;
};

/** Anything (kept as is). */
export const unknownValue: Decoder<unknown> = (v) => v;

/** One of the given strings. */
export function oneOf<T extends string>(...allowed: readonly T[]): Decoder<T> {
  return (v, at) => {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      throw new JsonFieldError(
        at,
        `expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${show(v)}`,
      );
    }
    return v as T;
  };
}

export function nullable<T>(d: Decoder<T>): Decoder<T | null> {
  return (v, at) => (v === null ? null : d(v, at));
}

/** A JSON object. */
export const object: Decoder<Record<string, unknown>> = (v, at) => {
  if (!isObject(v)) throw new JsonFieldError(at, `expected an object, got ${show(v)}`);
  return v;
};

export function array<T>(item: Decoder<T>): Decoder<T[]> {
  return (v, at) => {
    if (!Array.isArray(v)) throw new JsonFieldError(at, `expected an array, got ${show(v)}`);
    return v.map((x, i) => item(x, `${at}[${i}]`));
  };
}

export function record<T>(value: Decoder<T>): Decoder<Record<string, T>> {
  return (v, at) => {
    const o = object(v, at);
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(o)) out[k] = value(x, join(at, k));
    return out;
  };
}

type Fields = Record<string, Decoder<unknown>>;
type Decoded<F extends Fields> = { -readonly [K in keyof F]: ReturnType<F[K]> };

/**
 * An object with `required` fields and `optional` ones (absent allowed; present must fit).
 * Other fields are kept as they are (files written by newer versions stay readable).
 */
export function shape<R extends Fields, O extends Fields = Record<never, never>>(
  required: R,
  optional?: O,
): Decoder<Decoded<R> & Partial<Decoded<O>> & Record<string, unknown>> {
  return (v, at) => {
    const o = object(v, at);
    const out: Record<string, unknown> = { ...o };
    for (const [k, d] of Object.entries(required)) {
      if (!(k in o)) throw new JsonFieldError(join(at, k), 'missing');
      out[k] = d(o[k], join(at, k));
    }
    for (const [k, d] of Object.entries(optional ?? {})) {
      if (o[k] !== undefined) out[k] = d(o[k], join(at, k));
    }
    return out as Decoded<R> & Partial<Decoded<O>> & Record<string, unknown>;
  };
}

/**
 * Parse `text` (the contents of `file`) and decode it; every failure names the file, the field
 * and `remedy` (what the user can do: "delete it to start afresh", "rerun `covrl compare`").
 */
export function decodeJsonText<T>(text: string, file: string, d: Decoder<T>, remedy: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `${file}: not valid JSON (${error instanceof Error ? error.message : String(error)}); ${remedy}`,
    );
  }
  try {
    return d(parsed, '');
  } catch (error) {
    if (error instanceof JsonFieldError) throw new Error(`${file}: ${error.message}; ${remedy}`);
    throw error;
  }
}

/** Read, parse and decode a JSON file (see {@link decodeJsonText}); a read error names the file. */
export function readJsonFile<T>(file: string, d: Decoder<T>, remedy: string): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(
      `${file}: cannot read (${error instanceof Error ? error.message : String(error)}); ${remedy}`,
    );
  }
  return decodeJsonText(text, file, d, remedy);
}
