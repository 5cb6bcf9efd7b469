/**
 * The only way the app puts text on the page: element factories that set
 * textContent. Names from producers (endpoints, models) are untrusted and
 * must never be parsed as markup.
 */

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el as T;
}

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  attributes: Readonly<Record<string, string>> = {},
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value);
  return el;
}

/** Replaces the options of a <select> after its first ("all") one, keeping the selection when it still exists. */
export function setOptions(select: HTMLSelectElement, values: readonly string[]): void {
  const selected = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const value of values) select.add(new Option(value, value));
  if (selected && !values.includes(selected)) select.add(new Option(selected, selected));
  select.value = selected;
}
