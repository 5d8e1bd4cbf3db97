/**
 * How figures read in the status bar, the panel and the toasts.
 *
 * Money: JupyterLab typesets `$…$` as mathematics wherever MathJax looks, so every
 * dollar sign is put in a span of its own, in an element marked to be skipped by
 * MathJax (`tex2jax_ignore mathjax_ignore`): either alone would do; both cost nothing.
 */

// GB as everywhere else a person reads a size in labadvisor (the guides, the Python
// views): 10^9 bytes.
export const GB = 1e9;

/** Classes that tell MathJax (v2 and v3) to leave an element's text alone. */
export const NO_MATH = ['tex2jax_ignore', 'mathjax_ignore'];

export function gb(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '?' : (bytes / GB).toFixed(1);
}

/** `amount` in dollars as nodes: the sign in a span of its own, e.g. `$` `0.35`. */
export function moneyNodes(amount: number): Node[] {
  const sign = document.createElement('span');
  sign.className = 'jp-labadvisor-dollar';
  sign.textContent = '$';
  return [sign, document.createTextNode(amount.toFixed(2))];
}

/** The same amount as plain text, for titles and toasts (never typeset). */
export function moneyText(amount: number): string {
  return `$${amount.toFixed(2)}`;
}

/** Seconds as H:MM, e.g. 2520 → "0:42". */
export function hoursMinutes(seconds: number): string {
  const minutes = Math.max(0, Math.floor(seconds / 60));
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}`;
}

/** Milliseconds since the epoch of an ISO 8601 time or seconds since the epoch. */
export function timeOf(
  value: string | number | null | undefined
): number | null {
  if (value === null || value === undefined || value === '') {
    return null;
  }
  if (typeof value === 'number') {
    return value > 1e12 ? value : value * 1000;
  }
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed;
}

/** Mark `node` so MathJax leaves it alone. */
export function noMath<T extends HTMLElement>(node: T): T {
  node.classList.add(...NO_MATH);
  return node;
}
