/**
 * Fake tokenization: about four characters per token, OpenAI's rule of
 * thumb. What matters is that the same text always counts the same, so a
 * test can predict the `usage` it will see.
 */

export function countTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The text of a prompt in any of the shapes the API accepts: a string, parts, or lists of them. */
export function promptText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(promptText).join('');
  if (typeof value === 'object' && value !== null) {
    const { content, text } = value as { content?: unknown; text?: unknown };
    return promptText(content ?? text ?? '');
  }
  return '';
}

/** Token arrays (`[[1, 2], [3]]` or `[1, 2]`) count one per number; text counts as above. */
export function countInputTokens(value: unknown): number {
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return value.length;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countInputTokens(v), 0);
  return countTokens(promptText(value));
}

const WORDS = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit', 'sed', 'do'];

/** The text of the i-th generated token: one word and a space. */
export function tokenText(i: number): string {
  return `${WORDS[i % WORDS.length]} `;
}
