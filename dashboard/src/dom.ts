// A tiny element builder. Text always goes in as text nodes (never as HTML), so data from the hub cannot inject markup.
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((ev: Event) => void) | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") {
      el.addEventListener(key.replace(/^on/, ""), value);
    } else if (key === "testid") {
      el.dataset.testid = String(value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

export function time(iso: string | undefined | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}

export function badge(status: string): HTMLSpanElement {
  return h("span", { class: `badge badge-${status.replace(/[^a-z_]/gi, "")}` }, status);
}

export function progress(value: number): HTMLElement {
  const pct = Math.max(0, Math.min(100, Math.round(value)));
  const bar = h("progress", { max: 100, value: pct, "aria-label": `${pct}%` });
  return h("span", { class: "progress" }, bar, ` ${pct}%`);
}
