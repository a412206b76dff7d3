/**
 * The content of the LAST `\boxed{...}` in `text`, with nested braces balanced (`\boxed{\frac{3}{4}}`
 * gives `\frac{3}{4}`), trimmed; `undefined` when there is none or its braces never close. `\fbox{`
 * is not recognised. A common convention for final answers in math reasoning data.
 */
export function extractBoxed(text: string): string | undefined {
  if (typeof text !== 'string') {
    throw new Error(`extractBoxed: text must be a string, got ${typeof text}`);
  }
  const marker = '\\boxed{';
  for (
    let at = text.lastIndexOf(marker);
    at >= 0;
    at = at === 0 ? -1 : text.lastIndexOf(marker, at - 1)
  ) {
    const start = at + marker.length;
    let depth = 1;
    for (let i = start; i < text.length; i += 1) {
      const c = text[i];
      if (c === '{') depth += 1;
      else if (c === '}') {
        depth -= 1;
        if (depth === 0) return text.slice(start, i).trim();
      }
    }
    // Unbalanced: try an earlier \boxed{ (the last complete one wins).
  }
  return undefined;
}
