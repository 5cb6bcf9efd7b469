/**
 * Plain-text tables for the terminal: columns padded to their widest cell,
 * the first column left-aligned (names), the rest right-aligned (figures),
 * unless a table names other columns of text.
 */

/** Longest name shown before it is cut with an ellipsis. */
const MAX_NAME = 48;

/**
 * A producer-supplied name, safe to print: control characters (an ANSI escape
 * in an endpoint name could rewrite the screen) become `?`, long names are cut.
 */
export function safeName(name: string): string {
  return safeText(name, MAX_NAME);
}

/** Any text from the server, made safe as safeName does, cut at `max` characters (Infinity: never, for ids to copy). */
export function safeText(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** `left`: the columns of names and free text, left-aligned; the others hold figures, right-aligned. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[], indent = '  ', left: readonly number[] = [0]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    indent + cells.map((c, i) => (left.includes(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
