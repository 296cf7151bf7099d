/** One WebSocket link speaking the hub's frame format `{type, id?, timestamp, payload}`. */

import { HubApiError, LinkClosed } from "./errors.js";
import { defaultSocketFactory, type SocketFactory, type SocketLike } from "./socket.js";

/** A frame as received. */
export interface Frame {
  type: string;
  id?: string;
  timestamp?: string;
  payload: any;
}

/** How long {@link Link.connect} waits for the `welcome` frame, in ms. */
export const WELCOME_TIMEOUT_MS = 10_000;

/** The current time as the hub writes it: ISO 8601 UTC with milliseconds and `Z`. */
export function utcNow(): string {
  return new Date().toISOString();
}

let nextId = 0;
function newId(): string {
  nextId = (nextId + 1) % Number.MAX_SAFE_INTEGER;
  return `${Date.now().toString(36)}-${nextId.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * An open link: `/ws/agents/{id}` or `/ws`. `ack`/`error` frames that answer a {@link Link.request} settle it; every
 * other frame comes out of {@link Link.frames} in order. After the link closes, `closeCode` and `closeReason` say why.
 */
export class Link {
  welcome: Record<string, any> = {};
  closeCode: number | null = null;
  closeReason = "";
  /** Resolves when the link has closed, by either side. */
  readonly closed: Promise<void>;
  private readonly pending = new Map<string, { resolve: (f: Frame) => void; reject: (e: unknown) => void }>();
  private readonly queue: (Frame | null)[] = [];
  private readonly waiters: ((f: Frame | null) => void)[] = [];
  private isClosed = false;
  private markClosed!: () => void;

  private constructor(private readonly socket: SocketLike) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    socket.onmessage = (ev) => this.onMessage(ev.data);
    socket.onclose = (ev) => this.onClose(ev.code, ev.reason);
    socket.onerror = () => {
      /* the close event follows */
    };
  }

  /**
   * Connects and waits for `welcome`; rejects with {@link LinkClosed} when the hub closes the link instead (4003 bad token,
   * 4001 not permitted, 4004, 1013) or the connection fails.
   */
  static async connect(url: string, token: string, factory: SocketFactory = defaultSocketFactory): Promise<Link> {
    const socket = await factory(url, token);
    const link = new Link(socket);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([
      link.next(),
      new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), WELCOME_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (first === "timeout") {
      link.abort();
      throw new LinkClosed(null, "no welcome frame within 10 s");
    }
    if (first === null) {
      throw new LinkClosed(link.closeCode, link.closeReason);
    }
    if (first.type !== "welcome") {
      await link.close();
      throw new LinkClosed(null, `expected a welcome frame, got '${first.type}'`);
    }
    link.welcome = first.payload ?? {};
    return link;
  }

  /** Whether the link is still open. */
  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Sends one frame; with an `id` the hub answers with `ack` or `error` (see {@link request}). */
  send(type: string, payload: unknown, id?: string): void {
    if (this.isClosed || this.socket.readyState !== 1) {
      throw new LinkClosed(this.closeCode, this.closeReason || "the link is not open");
    }
    const frame: Record<string, unknown> = { type, timestamp: utcNow(), payload: payload ?? {} };
    if (id !== undefined) frame.id = id;
    this.socket.send(JSON.stringify(frame));
  }

  /**
   * Sends a frame with a fresh id and resolves with the payload of the hub's `ack`. Rejects with {@link HubApiError} for
   * an `error` answer (status 0), {@link LinkClosed} if the link closes first, an `Error` after `timeoutMs`.
   */
  async request(type: string, payload: unknown, timeoutMs = 30_000): Promise<any> {
    const id = newId();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = new Promise<Frame>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      timer = setTimeout(() => reject(new Error(`no answer to '${type}' within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      this.send(type, payload, id);
      const frame = await answer;
      if (frame.type === "error") {
        const p = frame.payload ?? {};
        throw new HubApiError(p.code ?? "ERROR", p.message ?? "", 0, p.details ?? {});
      }
      return frame.payload ?? {};
    } finally {
      clearTimeout(timer);
      this.pending.delete(id);
    }
  }

  /** The frames that answer no request, in order, until the link closes. */
  async *frames(): AsyncGenerator<Frame> {
    while (true) {
      const frame = await this.next();
      if (frame === null) return;
      yield frame;
    }
  }

  /** Closes the link (normal closure by default) and waits until it is closed (5 s at most). */
  async close(code = 1000, reason = "bye"): Promise<void> {
    if (!this.isClosed) {
      try {
        this.socket.close(code, reason);
      } catch {
        /* already closing */
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5_000)))]);
      clearTimeout(timer);
      if (!this.isClosed) this.abort();
    }
  }

  /** Drops the connection without a close handshake, as a network failure would (`ws` only; elsewhere a 4000 close). */
  abort(): void {
    if (this.socket.terminate) this.socket.terminate();
    else this.socket.close(4000, "aborted");
  }

  private next(): Promise<Frame | null> {
    if (this.queue.length > 0) {
      const frame = this.queue.shift()!;
      if (frame === null) this.queue.unshift(null); // later readers see the end too
      return Promise.resolve(frame);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private push(frame: Frame | null): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(frame);
      if (frame === null) for (const w of this.waiters.splice(0)) w(null);
    } else {
      this.queue.push(frame);
    }
  }

  private onMessage(data: unknown): void {
    if (typeof data !== "string") {
      if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
        // ws delivers text frames as Buffers unless told otherwise.
        data = new TextDecoder().decode(data as ArrayBuffer);
      } else {
        return;
      }
    }
    let frame: Frame;
    try {
      frame = JSON.parse(data as string);
    } catch {
      return;
    }
    if (typeof frame !== "object" || frame === null || typeof frame.type !== "string") return;
    if (frame.id !== undefined && (frame.type === "ack" || frame.type === "error")) {
      const waiter = this.pending.get(frame.id);
      if (waiter) {
        waiter.resolve(frame);
        return;
      }
    }
    this.push(frame);
  }

  private onClose(code: number, reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    // 1006 (abnormal closure) and 1005 (no status) mean there was no close frame with a code.
    this.closeCode = code === 1006 || code === 1005 ? null : code;
    this.closeReason = reason?.toString() ?? "";
    for (const { reject } of this.pending.values()) reject(new LinkClosed(this.closeCode, this.closeReason));
    this.pending.clear();
    this.push(null);
    this.markClosed();
  }
}
