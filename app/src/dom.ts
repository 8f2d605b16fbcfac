// Small DOM helpers: every view builds its elements with `h` and never parses HTML, so text
// from the estate or a plugin can never become markup.

type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;
type Child = Node | string | number | null | undefined | false;

/** Creates an element; `on*` attributes become listeners, `false`/`undefined` are skipped. */
export function h(tag: string, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el: HTMLElement, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's children. */
export function replace(el: HTMLElement, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

/** The message of an error a command returned (`{ kind, message }`) or threw. */
export function message(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message);
  return String(e);
}

/** The `kind` of a command's error, when it has one. */
export function kind(e: unknown): string | undefined {
  if (e && typeof e === "object" && "kind" in e) return String((e as { kind: unknown }).kind);
  return undefined;
}

/** Announces a short status to screen readers and shows it in the tab bar. */
export function announce(text: string): void {
  const status = document.getElementById("app-status");
  if (status) status.textContent = text;
}
