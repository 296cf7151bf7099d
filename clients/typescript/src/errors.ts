/** Errors raised by the client (docs/protocol.md, "Errors" and "Close codes"). */

/**
 * An error answer from the hub: a REST 4xx/5xx with the envelope
 * `{"error": {code, message, details, correlation_id, timestamp}}`, or an `error` frame `{code, message, details?}`
 * on a WebSocket link (then `status` is 0 and `correlationId` is undefined).
 */
export class HubApiError extends Error {
  /** The stable code, e.g. `AGENT_NOT_FOUND` (see the error table of docs/protocol.md). */
  readonly code: string;
  /** The HTTP status, or 0 for an `error` frame. */
  readonly status: number;
  /** Machine-readable details; for `VALIDATION_ERROR` each bad field maps to its problems. */
  readonly details: Record<string, unknown>;
  /** The correlation id to quote when reporting the error (REST only). */
  readonly correlationId: string | undefined;
  /** The hub's human-readable message. */
  readonly hubMessage: string;

  constructor(code: string, message: string, status = 0, details?: Record<string, unknown>, correlationId?: string) {
    super(`${code}: ${message}`);
    this.name = "HubApiError";
    this.code = code;
    this.hubMessage = message;
    this.status = status;
    this.details = details ?? {};
    this.correlationId = correlationId;
  }
}

/** The hub closed a WebSocket link or refused to open it; `code` is null when the connection broke without a close frame. */
export class LinkClosed extends Error {
  readonly code: number | null;
  readonly reason: string;

  constructor(code: number | null, reason = "") {
    super(`link closed (${code ?? "no close code"})${reason ? ": " + reason : ""}`);
    this.name = "LinkClosed";
    this.code = code;
    this.reason = reason;
  }
}
