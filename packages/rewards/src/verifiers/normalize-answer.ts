/**
 * Normalises an answer string for exact-match comparison (methods.md §6, verifier GRPO reference):
 * trim, strip surrounding `$…$` / `$$…$$`, strip trailing periods, collapse runs of whitespace to
 * one space, lower-case. The steps repeat until nothing changes, so `" $42$. "` gives `42`.
 * Numbers are NOT rewritten here (`1,000` stays); numeric equality is the verifiers' job.
 */
export function normalizeAnswer(answer: string): string {
  if (typeof answer !== 'string') {
    throw new Error(`normalizeAnswer: answer must be a string, got ${typeof answer}`);
  }
  let s = answer;
  for (;;) {
    let next = s.trim().replace(/\.+$/u, '').trim();
    if (next.length >= 2 && next.startsWith('$') && next.endsWith('$')) {
      next = next.replace(/^\$+/u, '').replace(/\$+$/u, '');
    }
    if (next === s) break;
    s = next;
  }
  return s.replace(/\s+/gu, ' ').toLowerCase();
}
