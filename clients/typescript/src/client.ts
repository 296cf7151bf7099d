/** REST client for Kai Hub (`/api/v1`): login, agent client credentials, token refresh, typed errors. */

import { HubApiError } from "./errors.js";
import { Link } from "./link.js";
import { EventLink, EventSubscription, type EventSubscriptionOptions } from "./events.js";
import { defaultSocketFactory, type SocketFactory } from "./socket.js";
import { sleep } from "./policy.js";

/** A token is renewed when less than this many milliseconds of its life remain. */
export const REFRESH_MARGIN_MS = 30_000;

/** `POST /auth/login` and `/auth/refresh` answer. */
export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: string;
  /** Seconds. */
  expires_in: number;
  user_profile: { user_id: string; email: string; display_name: string; role: string; created_at: string };
}

/** `POST /auth/token` (client credentials) answer. */
export interface ClientTokenResponse {
  access_token: string;
  token_type: string;
  /** Seconds. */
  expires_in: number;
  agent_id: string;
}

/** `POST /agents/register` answer; the secret is shown only once. */
export interface AgentCreated {
  agent_id: string;
  client_id: string;
  client_secret: string;
  status: string;
  websocket_url: string;
}

/** `POST /agents/{id}/command` answer. */
export interface CommandResponse {
  command_id: string;
  status: "completed" | "failed" | "executing" | "queued";
  result?: unknown;
  error?: string;
  deadline: string;
}

/** A task (`GET /tasks/{id}`); more fields are documented in docs/tasks.md. */
export interface TaskView {
  task_id: string;
  type: string;
  status: "pending" | "queued" | "in_progress" | "completed" | "failed" | "canceled";
  attempts: number;
  max_attempts: number;
  result?: unknown;
  error?: string;
  [field: string]: unknown;
}

/** Options of {@link HubClient}. */
export interface HubClientOptions {
  /** Clock in Unix milliseconds; tests pass a fake one to move token expiry forward. Default Date.now. */
  clock?: () => number;
  /** fetch implementation. Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** How links are opened. Default: `ws` in Node, the browser's WebSocket elsewhere. */
  socketFactory?: SocketFactory;
}

/** Options of one {@link HubClient.request}. */
export interface RequestOptions {
  json?: unknown;
  form?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined | null>;
  headers?: Record<string, string>;
  /** Send the access token (renewed first if needed). Default true. */
  auth?: boolean;
}

const q = encodeURIComponent;

function jwtExpiryMs(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const json = JSON.parse(atob(parts[1]!.replace(/-/g, "+").replace(/_/g, "/")));
    return typeof json.exp === "number" ? json.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
}

/**
 * Typed access to the hub's REST API and the factory of its WebSocket links.
 *
 * Sign in with {@link login} (a user) or {@link loginAgent} (an agent: OAuth 2.0 `client_credentials`, RFC 6749 §4.4).
 * The client keeps the tokens and renews them itself, a user's through `/auth/refresh` (the refresh token rotates), an
 * agent's by exchanging its credentials again: {@link REFRESH_MARGIN_MS} before the access token expires, and once after a 401.
 * Every call rejects with {@link HubApiError} when the hub answers with its error envelope. A 429 is retried after its
 * `Retry-After` (at most `maxRateLimitRetries` times, each wait at most `maxRateLimitWaitMs`).
 */
export class HubClient {
  readonly baseUrl: string;
  accessToken: string | undefined;
  refreshToken: string | undefined;
  /** How many access tokens this client obtained (logins, refreshes and exchanges). */
  tokenFetches = 0;
  maxRateLimitRetries = 3;
  maxRateLimitWaitMs = 30_000;
  /** Called with the login/refresh answer whenever the user's tokens change (to persist them). */
  onTokens: ((tokens: TokenResponse) => void) | undefined;
  private expiresAt = 0;
  private credentials: { clientId: string; clientSecret: string } | undefined;
  private renewing: Promise<void> | undefined;
  private readonly clock: () => number;
  private readonly fetchImpl: typeof fetch;
  readonly socketFactory: SocketFactory;

  constructor(baseUrl: string, options: HubClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.clock = options.clock ?? Date.now;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.socketFactory = options.socketFactory ?? defaultSocketFactory;
  }

  // ---- authentication ------------------------------------------------------------------------

  /** `POST /auth/register` → `{user_id, verification_required}`; 409 `CONFLICT` for a taken email. */
  register(email: string, password: string, displayName: string): Promise<{ user_id: string; verification_required: boolean }> {
    return this.request("POST", "/auth/register", {
      json: { email, password, display_name: displayName, terms_accepted: true },
      auth: false,
    });
  }

  /** `POST /auth/login`; the tokens are kept. 401 `AUTHENTICATION_FAILED` for a wrong email or password. */
  async login(email: string, password: string): Promise<TokenResponse> {
    const tokens: TokenResponse = await this.request("POST", "/auth/login", { json: { email, password }, auth: false });
    this.accept(tokens);
    return tokens;
  }

  /** Uses tokens saved from an earlier login; the expiry is read from the JWT's `exp`. */
  useTokens(accessToken: string, refreshToken?: string): void {
    this.accessToken = accessToken;
    this.refreshToken = refreshToken;
    this.expiresAt = jwtExpiryMs(accessToken) ?? this.clock() + 60_000;
  }

  /** `POST /auth/refresh`: rotates the refresh token; the new pair is kept. 401 when invalid, expired or already used. */
  async refresh(): Promise<TokenResponse> {
    if (!this.refreshToken) throw new Error("no refresh token; log in first");
    const tokens: TokenResponse = await this.request("POST", "/auth/refresh", {
      json: { refresh_token: this.refreshToken },
      auth: false,
    });
    this.accept(tokens);
    return tokens;
  }

  /**
   * `POST /auth/token` with `grant_type=client_credentials`. The credentials are kept, so the token is exchanged again
   * before it expires. 401 `AUTHENTICATION_FAILED` with `details.oauth_error = "invalid_client"`.
   */
  async loginAgent(clientId: string, clientSecret: string): Promise<ClientTokenResponse> {
    this.credentials = { clientId, clientSecret };
    return this.exchange();
  }

  private async exchange(): Promise<ClientTokenResponse> {
    const { clientId, clientSecret } = this.credentials!;
    const token: ClientTokenResponse = await this.send("POST", "/auth/token", {
      form: { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret },
    });
    this.accessToken = token.access_token;
    this.expiresAt = this.clock() + token.expires_in * 1000;
    this.tokenFetches++;
    return token;
  }

  /** `POST /auth/logout`: revokes the session; its links close with 4002. */
  async logout(): Promise<void> {
    await this.request("POST", "/auth/logout");
    this.accessToken = this.refreshToken = undefined;
  }

  /** Forgets the token's expiry so the next call fetches a new one (after 4002: the token may look valid and be refused). */
  expireToken(): void {
    if (this.refreshToken || this.credentials) this.expiresAt = 0;
  }

  /** When the access token expires (Unix ms by `clock`). */
  get tokenExpiresAt(): number {
    return this.expiresAt;
  }

  /** The access token, renewed first when it expires within {@link REFRESH_MARGIN_MS}. */
  async ensureToken(): Promise<string | undefined> {
    if (this.accessToken && this.clock() + REFRESH_MARGIN_MS < this.expiresAt) return this.accessToken;
    if (!this.refreshToken && !this.credentials) return this.accessToken;
    // One renewal at a time: concurrent callers share it (a rotated refresh token cannot be used twice).
    this.renewing ??= (async () => {
      try {
        if (this.credentials) await this.exchange();
        else await this.refresh();
      } finally {
        this.renewing = undefined;
      }
    })();
    await this.renewing;
    return this.accessToken;
  }

  private accept(tokens: TokenResponse): void {
    this.accessToken = tokens.access_token;
    this.refreshToken = tokens.refresh_token;
    this.expiresAt = this.clock() + tokens.expires_in * 1000;
    this.tokenFetches++;
    this.onTokens?.(tokens);
  }

  // ---- transport -----------------------------------------------------------------------------

  /**
   * Sends a request to `/api/v1{path}` and resolves with the decoded JSON answer (for routes this class has no method
   * for). With `auth` (default) the access token is sent, renewed first if needed; a 401 renews it once and retries.
   */
  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const auth = options.auth ?? true;
    for (let attempt = 0; ; attempt++) {
      const token = auth ? await this.ensureToken() : undefined;
      try {
        return await this.send<T>(method, path, options, token);
      } catch (e) {
        if (e instanceof HubApiError && e.status === 401 && auth && attempt === 0 && (this.refreshToken || this.credentials)) {
          this.expiresAt = 0;
          continue;
        }
        throw e;
      }
    }
  }

  private async send<T>(method: string, path: string, options: RequestOptions, token?: string): Promise<T> {
    const url = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    let body: string | undefined;
    if (options.form) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(options.form).toString();
    } else if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    if (token) headers.Authorization = `Bearer ${token}`;
    for (let retries = 0; ; retries++) {
      const response = await this.fetchImpl(url, { method, headers, body });
      if (response.status === 429 && retries < this.maxRateLimitRetries) {
        const waitMs = Math.max(0, Number(response.headers.get("Retry-After") ?? "1") * 1000 || 1000);
        if (waitMs <= this.maxRateLimitWaitMs) {
          await response.arrayBuffer();
          await sleep(waitMs);
          continue;
        }
      }
      return (await read(response)) as T;
    }
  }

  // ---- REST: agents --------------------------------------------------------------------------

  /** `GET /auth/session` → `{user_id, session_id, expires_at, permissions, role}`. */
  getSession(): Promise<{ user_id: string; session_id: string; expires_at: string; permissions: string[]; role: string }> {
    return this.request("GET", "/auth/session");
  }

  /** `POST /agents/register` (seed 004 body). Store the returned secret: it is shown only once. */
  registerAgent(body: {
    type: string;
    id?: string;
    name?: string;
    version?: string;
    capabilities?: string[];
    configuration?: Record<string, unknown>;
  }): Promise<AgentCreated> {
    return this.request("POST", "/agents/register", { json: compact(body) });
  }

  /** `GET /agents` → `{agents, total, pagination}`. */
  listAgents(query: { status?: string; capability?: string; type?: string; limit?: number; offset?: number } = {}): Promise<any> {
    return this.request("GET", "/agents", { query });
  }

  /** `GET /agents/{id}`; 404 `AGENT_NOT_FOUND` for an unknown agent or another user's. */
  getAgent(agentId: string): Promise<any> {
    return this.request("GET", `/agents/${q(agentId)}`);
  }

  /** `GET /agents/{id}/status`. */
  getAgentStatus(agentId: string): Promise<any> {
    return this.request("GET", `/agents/${q(agentId)}/status`);
  }

  /** `POST /agents/{id}/heartbeat` (agents without a live link) → `{agent_id, status, next_heartbeat_in}`. */
  heartbeat(agentId: string, body: { status?: string; current_tasks?: number; performance_metrics?: Record<string, unknown> } = {}): Promise<any> {
    return this.request("POST", `/agents/${q(agentId)}/heartbeat`, { json: compact(body) });
  }

  /** `DELETE /agents/{id}`: its credentials die and its links close with 4001. */
  deleteAgent(agentId: string): Promise<any> {
    return this.request("DELETE", `/agents/${q(agentId)}`);
  }

  /** `POST /agents/{id}/command`: waits up to `timeout` seconds (0–300, hub default 30) for the agent's answer. */
  sendCommand(
    agentId: string,
    command: string,
    parameters?: Record<string, unknown>,
    options: { priority?: string; timeout?: number; ttl?: number; correlation_id?: string } = {},
  ): Promise<CommandResponse> {
    return this.request("POST", `/agents/${q(agentId)}/command`, { json: compact({ command, parameters, ...options }) });
  }

  // ---- REST: tasks ---------------------------------------------------------------------------

  /** `POST /tasks` → 201 the task (200 with the existing one for a repeated id or `idempotencyKey`). */
  createTask(
    body: {
      type: string;
      input_data?: Record<string, unknown>;
      id?: string;
      priority?: string;
      assigned_agent?: string;
      timeout?: number;
      retry_policy?: { max_attempts?: number; backoff_strategy?: string };
    },
    idempotencyKey?: string,
  ): Promise<TaskView> {
    return this.request("POST", "/tasks", {
      json: compact(body),
      ...(idempotencyKey ? { headers: { "Idempotency-Key": idempotencyKey } } : {}),
    });
  }

  /** `GET /tasks/{id}`. */
  getTask(taskId: string): Promise<TaskView> {
    return this.request("GET", `/tasks/${q(taskId)}`);
  }

  /** `GET /tasks/{id}/status` (tasks and commands). */
  getTaskStatus(taskId: string): Promise<any> {
    return this.request("GET", `/tasks/${q(taskId)}/status`);
  }

  /** `GET /tasks` → `{tasks, total, pagination}`. */
  listTasks(query: { status?: string; type?: string; assigned_agent?: string; limit?: number; offset?: number } = {}): Promise<any> {
    return this.request("GET", "/tasks", { query });
  }

  /** `POST /tasks/{id}/cancel`. */
  cancelTask(taskId: string): Promise<TaskView> {
    return this.request("POST", `/tasks/${q(taskId)}/cancel`);
  }

  /** `POST /tasks/{id}/retry`: re-drives a dead letter. */
  retryTask(taskId: string): Promise<TaskView> {
    return this.request("POST", `/tasks/${q(taskId)}/retry`);
  }

  // ---- REST: events --------------------------------------------------------------------------

  /** `POST /events` → 202 `{id, topic}`; topics `app.>` and `custom.>` (admins also `system.>`), else 403 `FORBIDDEN`. */
  publishEvent(topic: string, data: unknown, options: { correlation_id?: string; target_agent?: string } = {}): Promise<{ id: string; topic: string }> {
    return this.request("POST", "/events", { json: compact({ topic, data, ...options }) });
  }

  /** `GET /events` (long polling) → `{events, next_cursor, gap, gap_info?}`. */
  pollEvents(topics: string[], options: { since?: string; wait?: number; limit?: number; filters?: Record<string, unknown> } = {}): Promise<any> {
    return this.request("GET", "/events", {
      query: {
        topics: topics.join(","),
        since: options.since,
        wait: options.wait,
        limit: options.limit,
        filters: options.filters ? JSON.stringify(options.filters) : undefined,
      },
    });
  }

  // ---- links ---------------------------------------------------------------------------------

  /** `ws://` or `wss://` URL of a link path such as `/ws/agents/bot`. */
  websocketUrl(path: string): string {
    return this.baseUrl.replace(/^http/, "ws") + path;
  }

  /**
   * Opens `/ws/agents/{id}` (the agent's own link, or the observer link for its owner or an admin) and waits for
   * `welcome`. Rejects with {@link LinkClosed} (4003 bad token, 4001 not permitted).
   */
  async connectAgentLink(agentId: string): Promise<Link> {
    const token = await this.ensureToken();
    if (!token) throw new Error("log in first");
    return Link.connect(this.websocketUrl(`/ws/agents/${q(agentId)}`), token, this.socketFactory);
  }

  /** Opens the event link `/ws` (see {@link EventLink}). */
  async connectEvents(): Promise<EventLink> {
    const token = await this.ensureToken();
    if (!token) throw new Error("log in first");
    return new EventLink(await Link.connect(this.websocketUrl("/ws"), token, this.socketFactory));
  }

  /** A subscription that reconnects and resumes after the last event it yielded (see {@link EventSubscription}). */
  subscribe(patterns: string[], options: EventSubscriptionOptions = {}): EventSubscription {
    return new EventSubscription(this, patterns, options);
  }
}

async function read(response: Response): Promise<unknown> {
  const text = await response.text();
  if (response.ok) return text ? JSON.parse(text) : undefined;
  let error: any;
  try {
    error = JSON.parse(text).error;
  } catch {
    error = undefined;
  }
  if (error && typeof error.code === "string") {
    throw new HubApiError(error.code, error.message ?? "", response.status, error.details ?? {}, error.correlation_id);
  }
  throw new HubApiError(`HTTP_${response.status}`, response.statusText || "request failed", response.status, {},
    response.headers.get("X-Correlation-Id") ?? undefined);
}
