/**
 * The WebSocket the client uses: the `ws` package in Node (it can send `Authorization: Bearer`), the browser's own
 * `WebSocket` elsewhere (browsers cannot set headers on an upgrade, so the token goes in `?token=`, as the hub accepts).
 */

/** The part of the WHATWG WebSocket interface the client needs; both `ws` and browsers provide it. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
  /** `ws` only: drops the TCP connection without a close handshake. */
  terminate?: () => void;
}

/** Opens a socket to `url` authenticated with `token`. */
export type SocketFactory = (url: string, token: string) => Promise<SocketLike>;

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === "string";
}

/** The default: `ws` with a bearer header in Node, the global `WebSocket` with `?token=` in a browser. */
export const defaultSocketFactory: SocketFactory = async (url, token) => {
  if (isNode()) {
    const { WebSocket } = await import("ws");
    return new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, maxPayload: 64 * 1024 * 1024 }) as unknown as SocketLike;
  }
  const withToken = new URL(url);
  withToken.searchParams.set("token", token);
  return new (globalThis as unknown as { WebSocket: new (u: string) => SocketLike }).WebSocket(withToken.toString());
};
