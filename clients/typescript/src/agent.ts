/** Running an agent: the live link with reconnect, heartbeats, commands, tasks and messages. */

import { HubClient } from "./client.js";
import { HubApiError, LinkClosed } from "./errors.js";
import { type Frame, Link, utcNow } from "./link.js";
import { actionFor, Backoff } from "./policy.js";

/** A link that lived at least this long (ms) resets the backoff. */
export const STABLE_LINK_MS = 5_000;
/** Results remembered per kind, to answer redelivered commands and tasks without running handlers twice. */
export const RESULT_CACHE = 1024;

/** A `command` frame. The same `command_id` may arrive twice after a reconnect (at-least-once delivery). */
export interface CommandContext {
  command_id: string;
  command: string;
  parameters: Record<string, any>;
  priority: string;
  deadline: string;
  correlation_id?: string;
  traceparent?: string;
}

/** An `agent_message` delivery. */
export interface AgentMessage {
  from_agent: string;
  message_type: string;
  content: any;
  requires_response: boolean;
  correlation_id?: string;
}

/** One attempt of a durable task (a `task` frame). */
export interface TaskContext {
  task_id: string;
  type: string;
  input: Record<string, any>;
  attempt: number;
  max_attempts: number;
  fencing_token: number;
  lease_expires_at: string;
  deadline: string;
  priority: string;
  parent_workflow_id?: string;
  stage_name?: string;
  /** Aborted when the hub sends `task_cancel` for this attempt, or the agent stops. */
  signal: AbortSignal;
  /** Sends `task_update {status: in_progress, progress, output_data?, fencing_token}`; this renews the lease. */
  progress(percent: number, outputData?: unknown): Promise<void>;
}

export type CommandHandler = (ctx: CommandContext) => unknown | Promise<unknown>;
export type TaskHandler = (task: TaskContext) => unknown | Promise<unknown>;
export type MessageHandler = (message: AgentMessage) => unknown | Promise<unknown>;
export type FrameHandler = (agent: Agent, frame: Frame) => void | Promise<void>;

/** Options of {@link Agent}. */
export interface AgentOptions {
  hubUrl: string;
  agentId: string;
  clientSecret: string;
  /** Defaults to the agent id. */
  clientId?: string;
  backoff?: Backoff;
  /** A client of your own (for its clock or socket factory). */
  client?: HubClient;
}

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  cache.delete(key);
  cache.set(key, value);
  while (cache.size > RESULT_CACHE) cache.delete(cache.keys().next().value as string);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message || e.name : String(e);
}

/**
 * Hosts one agent process.
 *
 * It exchanges the client credentials for a token (and again before it expires), holds the live link `/ws/agents/{id}`,
 * sends heartbeats at the hub's interval, and reconnects with exponential backoff and jitter. Close codes are honoured as
 * docs/protocol.md says: 4001, 4003, 4006 (replaced) and 1009 end {@link run} with {@link LinkClosed}; 4002 fetches a new
 * token and reconnects at once; 4004 and 1013 back off with a floor; 1001, 4008 and the rest reconnect with backoff.
 *
 * Handlers: {@link onCommand} (answered with `command_result`), {@link onTask} (`task_update` with the fencing token; the
 * lease is renewed while it runs), {@link onMessage} (`agent_message`; the return value is the reply when the sender asked
 * for one). Frame types without built-in handling (the RPC and invocation frames to come) go to {@link onFrame} handlers.
 */
export class Agent {
  readonly agentId: string;
  readonly clientId: string;
  readonly client: HubClient;
  readonly backoff: Backoff;
  /** How many times the live link was opened. */
  connections = 0;
  /** Close codes of the links that ended, in order (null: no close frame). */
  readonly closeCodes: (number | null)[] = [];
  /** Messages no handler took and no {@link ask} waits for (the newest 1,024). */
  readonly messages: AgentMessage[] = [];
  onConnected: (() => void) | undefined;
  onDisconnected: ((code: number | null, reason: string) => void) | undefined;

  private readonly secret: string;
  private readonly commands = new Map<string, CommandHandler>();
  private readonly tasks = new Map<string, TaskHandler>();
  private readonly messageHandlers = new Map<string, MessageHandler>();
  private readonly frameHandlers = new Map<string, FrameHandler>();
  private readonly asks = new Map<string, (m: AgentMessage) => void>();
  private readonly messageWaiters: ((m: AgentMessage) => void)[] = [];
  private readonly commandResults = new Map<string, Record<string, unknown>>();
  private readonly taskResults = new Map<string, Record<string, unknown>>();
  private readonly runningCommands = new Set<string>();
  private readonly runningTasks = new Map<string, { token: number; abort: AbortController }>();
  private link: Link | undefined;
  private stopping = false;
  private wakeFromBackoff: (() => void) | undefined;
  private connectedWaiters: (() => void)[] = [];

  constructor(options: AgentOptions) {
    this.agentId = options.agentId;
    this.clientId = options.clientId ?? options.agentId;
    this.secret = options.clientSecret;
    this.client = options.client ?? new HubClient(options.hubUrl);
    this.backoff = options.backoff ?? new Backoff();
  }

  // ---- registration ----------------------------------------------------------------------------

  /** Handles the command `name`: the return value (JSON) is the result, a throw fails the command with its message. */
  onCommand(name: string, handler: CommandHandler): this {
    this.commands.set(name, handler);
    return this;
  }

  /** Handles tasks of `type`: the return value is the result; a throw fails the attempt (the hub retries per its policy). */
  onTask(type: string, handler: TaskHandler): this {
    this.tasks.set(type, handler);
    return this;
  }

  /**
   * Handles `agent_message` of `messageType`. With `requires_response` the return value is sent back as
   * `{messageType}.result` (a throw as `{messageType}.error` with `{error}`) with the same `correlation_id`.
   */
  onMessage(messageType: string, handler: MessageHandler): this {
    this.messageHandlers.set(messageType, handler);
    return this;
  }

  /**
   * The extension point: `handler(agent, frame)` runs for every frame of `frameType` the agent has no built-in handling
   * for (for example the RPC and invocation frames the hub will add). Answer with {@link sendFrame} / {@link request}.
   */
  onFrame(frameType: string, handler: FrameHandler): this {
    this.frameHandlers.set(frameType, handler);
    return this;
  }

  // ---- sending ---------------------------------------------------------------------------------

  get isConnected(): boolean {
    return this.link?.isOpen ?? false;
  }

  /** Resolves when the live link is open. */
  waitConnected(): Promise<void> {
    if (this.isConnected) return Promise.resolve();
    return new Promise((resolve) => this.connectedWaiters.push(resolve));
  }

  private current(): Link {
    if (!this.link?.isOpen) throw new Error(`agent '${this.agentId}' is not connected`);
    return this.link;
  }

  /** Sends a raw frame on the live link. */
  sendFrame(type: string, payload: unknown, id?: string): void {
    this.current().send(type, payload, id);
  }

  /** Sends a raw frame with an id and resolves with the `ack` payload ({@link HubApiError} on `error`). */
  request(type: string, payload: unknown, timeoutMs?: number): Promise<any> {
    return this.current().request(type, payload, timeoutMs);
  }

  /**
   * Sends `agent_message` and resolves with the ack `{delivered, to_agent}`. At most once: rejects with
   * {@link HubApiError} `AGENT_NOT_FOUND` (unknown or another owner's) or `AGENT_UNAVAILABLE` (no live link).
   */
  sendMessage(toAgent: string, messageType: string, content: unknown, options: { requiresResponse?: boolean; correlationId?: string } = {}): Promise<any> {
    const payload: Record<string, unknown> = {
      to_agent: toAgent,
      message_type: messageType,
      content,
      requires_response: options.requiresResponse ?? false,
    };
    if (options.correlationId) payload.correlation_id = options.correlationId;
    return this.request("agent_message", payload);
  }

  /** Sends a message with `requires_response` and resolves with the reply that carries the same correlation id. */
  async ask(toAgent: string, messageType: string, content: unknown, timeoutMs = 30_000): Promise<AgentMessage> {
    const correlationId = `${this.agentId}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = new Promise<AgentMessage>((resolve, reject) => {
      this.asks.set(correlationId, resolve);
      timer = setTimeout(() => reject(new Error(`no answer from '${toAgent}' within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await this.sendMessage(toAgent, messageType, content, { requiresResponse: true, correlationId });
      return await answer;
    } finally {
      clearTimeout(timer);
      this.asks.delete(correlationId);
    }
  }

  /** The next message from {@link messages} (waits for one). */
  nextMessage(): Promise<AgentMessage> {
    const m = this.messages.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => this.messageWaiters.push(resolve));
  }

  /** Sends a `log` frame (`debug`, `info`, `warn`, `error`); dropped when not connected. */
  log(level: "debug" | "info" | "warn" | "error", message: string, component?: string, context?: Record<string, unknown>): void {
    try {
      this.sendFrame("log", { level, message, timestamp: utcNow(), ...(component ? { component } : {}), ...(context ? { context } : {}) });
    } catch {
      /* not connected: dropped, as documented */
    }
  }

  /** Sends `status_update {status: active|idle|error, reason?}`. */
  reportStatus(status: "active" | "idle" | "error", reason?: string): Promise<any> {
    return this.request("status_update", reason ? { status, reason } : { status });
  }

  // ---- running ---------------------------------------------------------------------------------

  /** Asks {@link run} to close the link and return. */
  stop(): void {
    this.stopping = true;
    this.wakeFromBackoff?.();
    for (const t of this.runningTasks.values()) t.abort.abort();
    void this.link?.close();
  }

  /**
   * Connects and serves until {@link stop} (then resolves), reconnecting after every loss. Rejects with {@link HubApiError}
   * when the credentials are refused and with {@link LinkClosed} for a terminal close code.
   */
  async run(): Promise<void> {
    let refreshedOnce = false;
    while (!this.stopping) {
      let code: number | null = null;
      const opened = Date.now();
      try {
        code = await this.serveOnce();
      } catch (e) {
        if (e instanceof LinkClosed) {
          code = e.code;
        } else if (e instanceof HubApiError) {
          if (["AUTHENTICATION_FAILED", "VALIDATION_ERROR", "FORBIDDEN"].includes(e.code) || [401, 403, 404].includes(e.status)) throw e;
        }
        // anything else: a network failure; back off and try again
      }
      if (this.stopping) return;
      const action = actionFor(code);
      if (action === "stop") throw new LinkClosed(code, "the hub refused this agent for good");
      if (Date.now() - opened >= STABLE_LINK_MS) this.backoff.reset();
      if (action === "refresh") {
        this.client.expireToken();
        if (!refreshedOnce) {
          refreshedOnce = true;
          continue;
        }
      } else {
        refreshedOnce = false;
      }
      // A stop() during the wait ends it at once.
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

  private async serveOnce(): Promise<number | null> {
    if (!this.client.accessToken) await this.client.loginAgent(this.clientId, this.secret);
    else await this.client.ensureToken();
    const link = await this.client.connectAgentLink(this.agentId);
    if (this.stopping) {
      // stop() came while connecting.
      await link.close();
      return link.closeCode;
    }
    this.link = link;
    this.connections++;
    for (const w of this.connectedWaiters.splice(0)) w();
    this.onConnected?.();
    const intervalMs = Math.max(1, Number(link.welcome.heartbeat_interval ?? 30)) * 1000;
    const heartbeat = setInterval(() => void this.heartbeat(link), intervalMs);
    try {
      for await (const frame of link.frames()) this.dispatch(frame);
    } finally {
      clearInterval(heartbeat);
      this.link = undefined;
      this.closeCodes.push(link.closeCode);
      this.onDisconnected?.(link.closeCode, link.closeReason);
    }
    return link.closeCode;
  }

  private async heartbeat(link: Link): Promise<void> {
    try {
      // Renew the token ahead of its expiry, so a reconnect never waits for it.
      await this.client.ensureToken();
      link.send("heartbeat", { agent_id: this.agentId, client_timestamp: utcNow(), current_tasks: this.runningTasks.size });
    } catch {
      /* the link ended or the hub is away: the read loop sees it */
    }
  }

  private dispatch(frame: Frame): void {
    const p = frame.payload ?? {};
    switch (frame.type) {
      case "command":
        void this.runCommand(p);
        return;
      case "task":
        void this.runTask(p);
        return;
      case "task_cancel": {
        const running = this.runningTasks.get(p.task_id);
        if (running && running.token === p.fencing_token) running.abort.abort(new Error(`canceled by the hub: ${p.reason ?? ""}`));
        return;
      }
      case "agent_message": {
        const message: AgentMessage = {
          from_agent: p.from_agent,
          message_type: p.message_type,
          content: p.content,
          requires_response: Boolean(p.requires_response),
          ...(p.correlation_id ? { correlation_id: p.correlation_id } : {}),
        };
        const ask = !message.requires_response && message.correlation_id ? this.asks.get(message.correlation_id) : undefined;
        const handler = this.messageHandlers.get(message.message_type);
        if (ask) ask(message);
        else if (handler) void this.runMessage(message, handler);
        else {
          const waiter = this.messageWaiters.shift();
          if (waiter) waiter(message);
          else {
            this.messages.push(message);
            if (this.messages.length > 1024) this.messages.shift();
          }
        }
        return;
      }
      default: {
        const handler = this.frameHandlers.get(frame.type);
        if (handler) {
          void Promise.resolve()
            .then(() => handler(this, frame))
            .catch(() => undefined);
        }
      }
    }
  }

  private async runCommand(p: any): Promise<void> {
    const commandId: string = p.command_id;
    const cached = this.commandResults.get(commandId);
    if (cached) return this.sendResult(cached);
    if (this.runningCommands.has(commandId)) return;
    this.runningCommands.add(commandId);
    let result: Record<string, unknown>;
    try {
      const handler = this.commands.get(p.command);
      if (!handler) {
        result = {
          command_id: commandId,
          status: "failed",
          error: `unknown command '${p.command}'; this agent handles: ${[...this.commands.keys()].sort().join(", ")}`,
        };
      } else {
        try {
          const value = await handler({
            command_id: commandId,
            command: p.command,
            parameters: p.parameters ?? {},
            priority: p.priority ?? "normal",
            deadline: p.deadline ?? "",
            ...(p.correlation_id ? { correlation_id: p.correlation_id } : {}),
            ...(p.traceparent ? { traceparent: p.traceparent } : {}),
          });
          result = { command_id: commandId, status: "completed", result: value ?? null };
        } catch (e) {
          result = { command_id: commandId, status: "failed", error: errorText(e) };
        }
      }
    } finally {
      this.runningCommands.delete(commandId);
    }
    remember(this.commandResults, commandId, result);
    await this.sendResult(result);
  }

  private async sendResult(result: Record<string, unknown>): Promise<void> {
    try {
      await this.request("command_result", result);
    } catch {
      // The hub redelivers the command after a reconnect; the cached result answers it then.
    }
  }

  private async runTask(p: any): Promise<void> {
    const taskId: string = p.task_id;
    const token = Number(p.fencing_token ?? 0);
    const attempt = Number(p.attempt ?? 1);
    const done = this.taskResults.get(taskId);
    if (done) {
      // Finished here before (the hub did not record it): the same outcome with this attempt's token.
      await this.sendTaskUpdate({ ...done, fencing_token: token, attempt });
      return;
    }
    if (this.runningTasks.has(taskId)) return;
    const abort = new AbortController();
    this.runningTasks.set(taskId, { token, abort });
    const context: TaskContext = {
      task_id: taskId,
      type: p.type,
      input: p.input_data ?? {},
      attempt,
      max_attempts: Number(p.max_attempts ?? 1),
      fencing_token: token,
      lease_expires_at: p.lease_expires_at ?? "",
      deadline: p.deadline ?? "",
      priority: p.priority ?? "normal",
      ...(p.parent_workflow_id ? { parent_workflow_id: p.parent_workflow_id } : {}),
      ...(p.stage_name ? { stage_name: p.stage_name } : {}),
      signal: abort.signal,
      progress: async (percent, outputData) => {
        await this.sendTaskUpdate({
          task_id: taskId,
          status: "in_progress",
          progress: percent,
          fencing_token: token,
          attempt,
          ...(outputData !== undefined ? { output_data: outputData } : {}),
        });
      },
    };
    // Renew the lease every third of its length while the handler runs, so long work is not redelivered.
    const leaseMs = Date.parse(context.lease_expires_at) - Date.now();
    const renew = setInterval(
      () => void this.sendTaskUpdate({ task_id: taskId, status: "in_progress", fencing_token: token, attempt }),
      Math.max(1000, Number.isFinite(leaseMs) ? leaseMs / 3 : 10_000),
    );
    let outcome: Record<string, unknown>;
    try {
      const handler = this.tasks.get(context.type);
      if (!handler) throw new Error(`no handler for task type '${context.type}' on agent '${this.agentId}'`);
      const value = await handler(context);
      if (abort.signal.aborted) return; // canceled by the hub: it already knows
      outcome = { task_id: taskId, status: "completed", progress: 100, result: value ?? null, fencing_token: token, attempt };
    } catch (e) {
      if (abort.signal.aborted) return;
      outcome = { task_id: taskId, status: "failed", error: errorText(e), fencing_token: token, attempt };
    } finally {
      clearInterval(renew);
      this.runningTasks.delete(taskId);
    }
    if (outcome.status === "completed") remember(this.taskResults, taskId, outcome);
    await this.sendTaskUpdate(outcome);
  }

  private async sendTaskUpdate(update: Record<string, unknown>): Promise<void> {
    try {
      await this.request("task_update", update);
    } catch {
      // CONFLICT: a newer attempt owns the task (our lease expired, or it was canceled), so our word no longer counts.
      // A closed link: the hub redelivers after the lease and the cached result answers.
    }
  }

  private async runMessage(message: AgentMessage, handler: MessageHandler): Promise<void> {
    let reply: unknown;
    let type: string;
    try {
      reply = await handler(message);
      type = `${message.message_type}.result`;
    } catch (e) {
      reply = { error: errorText(e) };
      type = `${message.message_type}.error`;
    }
    if (!message.requires_response) return;
    try {
      await this.sendMessage(message.from_agent, type, reply ?? null, message.correlation_id ? { correlationId: message.correlation_id } : {});
    } catch {
      /* the asker is gone: at most once */
    }
  }
}
