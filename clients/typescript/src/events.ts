/** The event link `/ws`: subscribe with patterns, filters and recovery; publish; resume after reconnects. */

import type { HubClient } from "./client.js";
import { HubApiError, LinkClosed } from "./errors.js";
import type { Link } from "./link.js";
import { actionFor, Backoff } from "./policy.js";

/** An `event` frame. `id` is `"{epoch}-{offset}"`; pass it as `since` to resume after it. */
export interface HubEvent {
  kind: "event";
  id: string;
  timestamp: string;
  event_type: string;
  topic: string;
  payload: any;
  source_agent?: string;
  target_agent?: string;
  correlation_id?: string;
}

/**
 * A `gap` frame: history could not prove that nothing was lost after `requested` (`reason`: `history_trimmed` or
 * `epoch_changed`). Re-read whatever state you derive from events.
 */
export interface Gap {
  kind: "gap";
  requested: string;
  epoch: string;
  current: string;
  reason: string;
  first_available?: string;
  events: string[];
}

export type EventItem = HubEvent | Gap;

/** The `subscribe` ack. */
export interface SubscribeAck {
  subscribed: string[];
  epoch: string;
  position: string;
  recovered: boolean;
  replayed: number;
}

/**
 * One open `/ws` link, no reconnects ({@link EventSubscription} reconnects). `welcome` holds
 * `{principal_id, role, epoch, position, max_frame_bytes, max_patterns, max_publish_bytes}`.
 */
export class EventLink {
  readonly welcome: Record<string, any>;
  /** The id of the last event read. */
  lastEventId: string | undefined;

  constructor(readonly link: Link) {
    this.welcome = link.welcome;
  }

  /**
   * `subscribe {events, filters?, since?}`. Then come a `gap` if history does not reach back to `since`, the replayed
   * events, and live ones. Rejects with {@link HubApiError} `VALIDATION_ERROR` for a bad pattern, filter or position.
   */
  subscribe(patterns: string[], options: { filters?: Record<string, unknown>; since?: string } = {}): Promise<SubscribeAck> {
    const payload: Record<string, unknown> = { events: patterns };
    if (options.filters) payload.filters = options.filters;
    if (options.since) payload.since = options.since;
    return this.link.request("subscribe", payload);
  }

  /** `unsubscribe {events}` → the patterns that were subscribed. */
  async unsubscribe(patterns: string[]): Promise<string[]> {
    const ack = await this.link.request("unsubscribe", { events: patterns });
    return ack.unsubscribed ?? [];
  }

  /** `publish {topic, data, ...}` → `{id, topic}`; `FORBIDDEN` outside `app.>` and `custom.>`. */
  publish(topic: string, data: unknown, options: { correlation_id?: string; target_agent?: string } = {}): Promise<{ id: string; topic: string }> {
    return this.link.request("publish", { topic, data, ...options });
  }

  /** `event` and `gap` frames in the order sent, until the link closes. */
  async *items(): AsyncGenerator<EventItem> {
    for await (const frame of this.link.frames()) {
      if (frame.type === "event") {
        const e: HubEvent = { kind: "event", ...frame.payload };
        this.lastEventId = e.id;
        yield e;
      } else if (frame.type === "gap") {
        yield { kind: "gap", events: [], ...frame.payload };
      }
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<EventItem> {
    return this.items();
  }

  close(): Promise<void> {
    return this.link.close();
  }
}

/** Options of {@link EventSubscription}. */
export interface EventSubscriptionOptions {
  filters?: Record<string, unknown>;
  /** Start after this event id (events after it still in history are replayed first). */
  since?: string;
  backoff?: Backoff;
  /** Called with each subscribe ack. */
  onSubscribed?: (ack: SubscribeAck) => void;
}

/**
 * A subscription that survives link losses: iterate it (`for await (const item of sub)`) for {@link HubEvent} and
 * {@link Gap} items. When the link drops (1001 hub restart, 4008 slow consumer, 4004, 1013, network), it reconnects with
 * exponential backoff and jitter (after 4002 it renews the token and reconnects at once) and subscribes again with `since`
 * = the last event id it yielded: nothing still in history is missed, nothing is yielded twice. If history cannot cover
 * the loss, the hub's {@link Gap} is yielded. 4001, 4003, 4006 and 1009 end the iteration with {@link LinkClosed}; a refused
 * subscribe with {@link HubApiError}.
 */
export class EventSubscription implements AsyncIterable<EventItem> {
  lastEventId: string | undefined;
  /** How many links were opened and subscribed. */
  connections = 0;
  /** The current link (undefined between links); `sub.link.link.abort()` simulates a network failure. */
  link: EventLink | undefined;
  readonly backoff: Backoff;
  private closed = false;
  private wakeFromBackoff: (() => void) | undefined;

  constructor(readonly client: HubClient, readonly patterns: string[], readonly options: EventSubscriptionOptions = {}) {
    this.lastEventId = options.since;
    this.backoff = options.backoff ?? new Backoff({ maxMs: 15_000 });
  }

  /** Ends the iteration. */
  close(): void {
    this.closed = true;
    this.wakeFromBackoff?.();
    void this.link?.close();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<EventItem> {
    let refreshedOnce = false;
    while (!this.closed) {
      let code: number | null = null;
      const opened = Date.now();
      try {
        this.link = await this.client.connectEvents();
        if (this.closed) return; // close() came while connecting; finally closes the link
        const ack = await this.link.subscribe(this.patterns, {
          ...(this.options.filters ? { filters: this.options.filters } : {}),
          ...(this.lastEventId ? { since: this.lastEventId } : {}),
        });
        this.connections++;
        this.options.onSubscribed?.(ack);
        for await (const item of this.link) {
          if (item.kind === "event") {
            this.lastEventId = item.id;
            refreshedOnce = false;
          }
          yield item;
          if (this.closed) break;
        }
        code = this.link.link.closeCode;
      } catch (e) {
        if (e instanceof LinkClosed) code = e.code;
        else if (e instanceof HubApiError && e.status < 500) throw e;
        // else: a network failure; back off and try again
      } finally {
        await this.link?.close();
        this.link = undefined;
      }
      if (this.closed) return;
      const action = actionFor(code);
      if (action === "stop") throw new LinkClosed(code, "the hub refused this subscriber for good");
      if (Date.now() - opened >= 5_000) this.backoff.reset();
      if (action === "refresh") {
        this.client.expireToken();
        if (!refreshedOnce) {
          refreshedOnce = true;
          continue;
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.backoff.nextDelay(code));
        this.wakeFromBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeFromBackoff = undefined;
    }
  }
}
