/**
 * Raw-value helpers shared by the decoder and the importers. Parquet INT64 columns arrive as
 * `bigint` (hyparquet keeps all 64 bits), so every place that accepts a number accepts a `bigint`
 * too, and every message that shows a raw value goes through {@link showValue}, because
 * `JSON.stringify` throws on a `bigint`.
 */

/**
 * `value` as a JS number when it is an integer: a `number` with `Number.isInteger`, or a `bigint`
 * within `±Number.MAX_SAFE_INTEGER` (converted exactly). `undefined` for anything else, including
 * a `bigint` outside the safe range (it has no exact `number`; callers report it rather than round).
 */
export function safeInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'bigint') {
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    return value >= -max && value <= max ? Number(value) : undefined;
  }
  return undefined;
}

const MAX_SHOWN = 80;

/**
 * A short display of any raw value for an error message, never throwing: strings quoted as JSON
 * (`"maths"`), numbers and bigints as `String` writes them (`7`, `2.5`, `NaN`, `-Infinity`), other
 * values as JSON with nested bigints and non-finite numbers written as strings (`"7"`, `"NaN"`,
 * where `JSON.stringify` would throw or write `null`), cut at 80 characters; values JSON cannot
 * show (`undefined`, functions, cycles) by type.
 */
export function showValue(value: unknown): string {
  if (typeof value === 'bigint' || typeof value === 'number') return String(value);
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, v: unknown) =>
      typeof v === 'bigint' || (typeof v === 'number' && !Number.isFinite(v)) ? String(v) : v,
    );
  } catch {
    text = undefined;
  }
  if (text === undefined) return `(${typeof value})`;
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 1)}…` : text;
}
