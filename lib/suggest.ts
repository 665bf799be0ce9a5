// "Did you mean …?" for misspelled names (script inputs and outputs).

/** Levenshtein distance between two strings. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = t;
    }
  }
  return prev[b.length];
}

/** `; did you mean 'x'?` for the closest candidate (case-insensitive match first, then within a third of the length), else ''. */
export function didYouMean(name: string, candidates: string[]): string {
  const lower = candidates.find((c) => c.toLowerCase() === name.toLowerCase() && c !== name);
  if (lower) return `; did you mean '${lower}'?`;
  let best = '';
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestD) (best = c), (bestD = d);
  }
  return best && bestD > 0 && bestD <= Math.max(1, Math.floor(Math.max(name.length, best.length) / 3)) ? `; did you mean '${best}'?` : '';
}
