/**
 * Plain-text tables for the terminal: columns padded to their widest cell,
 * the first column left-aligned (names), the rest right-aligned (figures).
 */

/** Longest name shown before it is cut with an ellipsis. */
const MAX_NAME = 48;

/**
 * A producer-supplied name, safe to print: control characters (an ANSI escape
 * in an endpoint name could rewrite the screen) become `?`, long names are cut.
 */
export function safeName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > MAX_NAME ? `${clean.slice(0, MAX_NAME - 1)}…` : clean;
}

export function textTable(header: readonly string[], rows: readonly (readonly string[])[], indent = '  '): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    indent + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
