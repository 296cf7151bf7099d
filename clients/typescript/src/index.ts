/** Kai Hub client: REST ({@link HubClient}), agents ({@link Agent}) and events ({@link EventSubscription}). The wire contract is docs/protocol.md. */
export { HubClient, REFRESH_MARGIN_MS } from "./client.js";
export type { AgentCreated, ClientTokenResponse, CommandResponse, HubClientOptions, RequestOptions, TaskView, TokenResponse } from "./client.js";
export { Agent, RESULT_CACHE, STABLE_LINK_MS } from "./agent.js";
export type { AgentMessage, AgentOptions, CommandContext, CommandHandler, FrameHandler, MessageHandler, TaskContext, TaskHandler } from "./agent.js";
export { EventLink, EventSubscription } from "./events.js";
export type { EventItem, EventSubscriptionOptions, Gap, HubEvent, SubscribeAck } from "./events.js";
export { HubApiError, LinkClosed } from "./errors.js";
export { Link, utcNow, WELCOME_TIMEOUT_MS } from "./link.js";
export type { Frame } from "./link.js";
export { actionFor, Backoff, CloseCodes, sleep } from "./policy.js";
export type { BackoffOptions, CloseAction } from "./policy.js";
export { defaultSocketFactory } from "./socket.js";
export type { SocketFactory, SocketLike } from "./socket.js";
export { EncryptedPayloadError, isEncrypted, keyIdOf, openPayload, sealPayload } from "./encrypted.js";
export type { Jwe } from "./encrypted.js";
