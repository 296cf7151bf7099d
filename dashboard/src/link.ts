// One WebSocket to the hub's event link `/ws` (docs/protocol.md, "The event link"): subscribe/unsubscribe/publish
// frames with ids and acks, reconnecting with backoff and resuming from the last event id it processed.
import { renew, session } from "./api";

export interface HubEvent {
  id: string; timestamp: string; event_type: string; topic: string;
  source_agent?: string; target_agent?: string; correlation_id?: string; payload: unknown;
}
interface Frame { type: string; id?: string; payload?: unknown }
type Pending = { resolve: (p: unknown) => void; reject: (e: Error) => void };

export class EventLink {
  private ws: WebSocket | null = null;
  private seq = 0;
  private pending = new Map<string, Pending>();
  private patterns = new Map<string, Record<string, unknown> | undefined>();
  private lastId: string | undefined;
  private backoff = 500;
  private closed = false;
  private timer: number | undefined;
  onEvent: (e: HubEvent) => void = () => {};
  onState: (state: "connecting" | "live" | "offline", detail?: string) => void = () => {};
  onGap: (gap: unknown) => void = () => {};

  constructor(private readonly name: string) {}

  open(): void {
    this.closed = false;
    this.connect();
  }

  close(): void {
    this.closed = true;
    window.clearTimeout(this.timer);
    this.ws?.close(1000);
    this.ws = null;
  }

  get subscribed(): string[] { return [...this.patterns.keys()]; }

  async subscribe(patterns: string[], filters?: Record<string, unknown>): Promise<unknown> {
    for (const p of patterns) this.patterns.set(p, filters);
    if (this.ws?.readyState !== WebSocket.OPEN) return undefined;
    try {
      return await this.send("subscribe", filters ? { events: patterns, filters } : { events: patterns });
    } catch (e) {
      for (const p of patterns) this.patterns.delete(p);
      throw e;
    }
  }

  async unsubscribe(patterns: string[]): Promise<void> {
    for (const p of patterns) this.patterns.delete(p);
    if (this.ws?.readyState === WebSocket.OPEN) await this.send("unsubscribe", { events: patterns });
  }

  publish(topic: string, data: unknown): Promise<unknown> {
    return this.send("publish", { topic, data });
  }

  private send(type: string, payload: unknown): Promise<unknown> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error("The live link is not connected."));
    const id = `${this.name}-${++this.seq}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ type, id, payload }));
    });
  }

  private connect(): void {
    if (this.closed || !session.token) return;
    this.onState("connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(session.token)}`);
    this.ws = ws;
    ws.onmessage = (m) => this.receive(typeof m.data === "string" ? m.data : "");
    ws.onclose = (c) => void this.closedWith(ws, c.code, c.reason);
  }

  private receive(text: string): void {
    let frame: Frame;
    try { frame = JSON.parse(text) as Frame; } catch { return; }
    switch (frame.type) {
      case "welcome":
        this.backoff = 500;
        this.onState("live");
        void this.resubscribe();
        break;
      case "event": {
        const e = frame.payload as HubEvent;
        this.lastId = e.id;
        this.onEvent(e);
        break;
      }
      case "gap":
        this.onGap(frame.payload);
        break;
      case "ack":
      case "error": {
        const p = frame.id ? this.pending.get(frame.id) : undefined;
        if (!p) break;
        this.pending.delete(frame.id!);
        if (frame.type === "ack") p.resolve(frame.payload);
        else {
          const err = frame.payload as { code?: string; message?: string; details?: unknown };
          p.reject(new Error(`${err.code ?? "ERROR"}: ${err.message ?? ""} ${err.details ? JSON.stringify(err.details) : ""}`.trim()));
        }
        break;
      }
    }
  }

  private async resubscribe(): Promise<void> {
    // Group patterns by their filters, so each keeps its own; resume after the last event this link processed.
    const groups = new Map<string, { patterns: string[]; filters?: Record<string, unknown> }>();
    for (const [p, f] of this.patterns) {
      const key = JSON.stringify(f ?? null);
      const g = groups.get(key) ?? { patterns: [], filters: f };
      g.patterns.push(p);
      groups.set(key, g);
    }
    for (const g of groups.values()) {
      const payload: Record<string, unknown> = { events: g.patterns };
      if (g.filters) payload.filters = g.filters;
      if (this.lastId) payload.since = this.lastId;
      try { await this.send("subscribe", payload); } catch { /* shown by the caller's next action */ }
    }
  }

  private async closedWith(ws: WebSocket, code: number, reason: string): Promise<void> {
    if (this.ws !== ws) return;
    this.ws = null;
    for (const p of this.pending.values()) p.reject(new Error("The live link closed."));
    this.pending.clear();
    this.onState("offline", `${code}${reason ? " " + reason : ""}`);
    if (this.closed || code === 4001 || code === 4003) return;
    if (code === 4002 && !(await renew())) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 15000);
    this.timer = window.setTimeout(() => this.connect(), delay);
  }
}
