/** Reconnect policy: what each close code means (docs/protocol.md, "Close codes"), and exponential backoff with jitter. */

export const CloseCodes = {
  Normal: 1000,
  GoingAway: 1001,
  MessageTooBig: 1009,
  InternalError: 1011,
  TryAgainLater: 1013,
  GenericError: 4000,
  InvalidSession: 4001,
  SessionExpired: 4002,
  AuthenticationFailed: 4003,
  RateLimited: 4004,
  HeartbeatTimeout: 4005,
  Replaced: 4006,
  SlowConsumer: 4008,
} as const;

/**
 * What to do after a link closed:
 * - `stop`: the hub refused the principal for good (4001 not permitted or deleted, 4003 bad credentials, 4006 replaced by
 *   another process, 1009 a frame the hub will never accept);
 * - `refresh`: get a fresh access token, then reconnect at once (4002: token expired or session revoked);
 * - `backoff`: reconnect after the backoff delay (1001 going away, 1011, 4000, 4005, 4008 slow consumer, a broken
 *   connection), with a floor for 4004 (rate limited) and 1013 (node full).
 */
export type CloseAction = "stop" | "refresh" | "backoff";

/** The action for a close code (null: the connection broke without a close frame). */
export function actionFor(code: number | null): CloseAction {
  switch (code) {
    case CloseCodes.InvalidSession:
    case CloseCodes.AuthenticationFailed:
    case CloseCodes.Replaced:
    case CloseCodes.MessageTooBig:
      return "stop";
    case CloseCodes.SessionExpired:
      return "refresh";
    default:
      return "backoff";
  }
}

/** Settings of {@link Backoff}; all times in milliseconds. */
export interface BackoffOptions {
  /** First delay. Default 500. */
  initialMs?: number;
  /** Longest delay. Default 30,000. */
  maxMs?: number;
  /** Spread: each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. Default 0.2. */
  jitter?: number;
  /** The least wait after 4004 (rate limited) or 1013 (node full). Default 1,000. */
  throttleFloorMs?: number;
  /** Random source in [0, 1). Default Math.random. */
  random?: () => number;
}

/**
 * Exponential backoff with jitter: the n-th consecutive failure waits `min(max, initial * 2^(n-1))` times a random factor
 * in `[1 - jitter, 1 + jitter]`, so many clients dropped by one hub restart do not come back as one burst.
 */
export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly jitter: number;
  readonly throttleFloorMs: number;
  private readonly random: () => number;
  /** Consecutive failures so far. */
  failures = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.jitter = options.jitter ?? 0.2;
    this.throttleFloorMs = options.throttleFloorMs ?? 1_000;
    this.random = options.random ?? Math.random;
  }

  /** Counts one failure and returns the wait (ms) before the next attempt. */
  nextDelay(code: number | null = null): number {
    this.failures++;
    let base = Math.min(this.maxMs, this.initialMs * 2 ** (this.failures - 1));
    if (code === CloseCodes.RateLimited || code === CloseCodes.TryAgainLater) {
      base = Math.max(base, Math.min(this.maxMs, this.throttleFloorMs));
    }
    return base * (1 - this.jitter + 2 * this.jitter * this.random());
  }

  /** After a link that lived long enough: the next failure starts from `initialMs` again. */
  reset(): void {
    this.failures = 0;
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
