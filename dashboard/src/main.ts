// Kai Hub dashboard: log in, then agents (live presence and load), events (pattern subscriptions), tasks and
// dead letters, workflows, the audit log (admins) and chat sessions (when the hub has them). Only the hub's own REST
// routes and its `/ws` event link are used (docs/protocol.md).
import { ApiError, call, login, logout, session } from "./api";
import { badge, clear, h, progress, time } from "./dom";
import { EventLink, type HubEvent } from "./link";

interface Agent { agent_id: string; name: string; type: string; status: string; connected: boolean; capabilities: string[]; last_activity?: string }
interface AgentStatus { resource_usage?: { current_tasks?: number } }
interface Task { task_id: string; type: string; status: string; assigned_agent?: string; attempts: number; max_attempts: number; progress: number; error?: string; updated_at: string }
interface Stage { name: string; agent_type: string; task_id: string; status: string; progress: number }
interface Workflow { workflow_id: string; name: string; status: string; stages: Stage[]; updated_at: string }
interface Audit { audit_id: string; at: string; actor_id?: string; actor_role?: string; action: string; target?: string; outcome: string; ip?: string }

const app = document.getElementById("app")!;
const state = { link: null as EventLink | null, feed: null as EventLink | null, chat: false };
const refreshers = new Map<string, () => void>();

session.onLoggedOut(() => showLogin("Your session ended; log in again."));
showLogin();

function showLogin(message?: string): void {
  state.link?.close();
  state.feed?.close();
  state.link = state.feed = null;
  const error = h("p", { class: "error", role: "alert", testid: "login-error" }, message ?? "");
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, testid: "login-email" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true, testid: "login-password" });
  const form = h("form", { class: "login", testid: "login-form" },
    h("h1", {}, "Kai Hub"),
    h("label", {}, "Email", email),
    h("label", {}, "Password", password),
    h("button", { type: "submit", testid: "login-submit" }, "Log in"),
    error);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      await login(email.value, password.value);
      await showShell();
    } catch (e) {
      error.textContent = e instanceof Error ? e.message : String(e);
    }
  });
  clear(app, form);
}

const tabs = ["agents", "events", "tasks", "workflows", "chat", "audit"] as const;
type Tab = (typeof tabs)[number];

async function showShell(): Promise<void> {
  const user = session.user!;
  state.chat = await probeChat();
  const linkState = h("span", { class: "link-state", testid: "link-state" }, "connecting");
  const nav = h("nav", {});
  for (const tab of tabs) {
    if (tab === "audit" && user.role !== "admin") continue;
    if (tab === "chat" && !state.chat) continue;
    nav.append(h("a", { href: `#${tab}`, testid: `tab-${tab}` }, tab[0].toUpperCase() + tab.slice(1)));
  }
  const main = h("main", { testid: "view" });
  clear(app,
    h("header", {},
      h("strong", {}, "Kai Hub"), nav,
      h("span", { class: "who", testid: "who" }, `${user.display_name} (${user.role})`),
      linkState,
      h("button", { type: "button", onclick: () => void logout(), testid: "logout" }, "Log out")),
    main);

  // The dashboard's own link: presence and the task/workflow engine's events drive the views.
  const link = new EventLink("ui");
  link.onState = (s, detail) => { linkState.textContent = s; linkState.title = detail ?? ""; linkState.dataset.state = s; };
  link.onEvent = (e) => onSystemEvent(e);
  void link.subscribe(["agent.>", "task.>", "workflow.>"]);
  link.open();
  state.link = link;

  window.onhashchange = () => route(main);
  route(main);
}

async function probeChat(): Promise<boolean> {
  try {
    await call("GET", "/api/chat/sessions");
    return true;
  } catch {
    return false; // 404 until the hub has chat sessions: the tab stays hidden.
  }
}

function route(main: HTMLElement): void {
  const wanted = (location.hash.slice(1) || "agents") as Tab;
  const tab: Tab = tabs.includes(wanted) ? wanted : "agents";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.getAttribute("href") === `#${tab}`);
  refreshers.clear();
  const view = h("section", { testid: `view-${tab}` });
  clear(main, view);
  ({ agents: agentsView, events: eventsView, tasks: tasksView, workflows: workflowsView, chat: chatView, audit: auditView })[tab](view);
}

function onSystemEvent(e: HubEvent): void {
  const kind = e.event_type.split(".")[0];
  if (kind === "agent") {
    const p = e.payload as { agent_id?: string; status?: string };
    const row = p.agent_id ? document.querySelector<HTMLElement>(`tr[data-agent="${CSS.escape(p.agent_id)}"]`) : null;
    if (row && p.status && e.event_type === "agent.status_changed") {
      const cell = row.querySelector<HTMLElement>("[data-col=status]")!;
      clear(cell, badge(p.status));
      row.dataset.status = p.status;
    }
  }
  refreshers.get(kind)?.();
}

function debounce(fn: () => void, ms = 200): () => void {
  let t: number | undefined;
  return () => { window.clearTimeout(t); t = window.setTimeout(fn, ms); };
}

function failure(e: unknown): HTMLElement {
  const msg = e instanceof ApiError && e.status === 403 ? "You do not have permission to see this." : e instanceof Error ? e.message : String(e);
  return h("p", { class: "error", role: "alert", testid: "view-error" }, msg);
}

// ---- Agents ----
function agentsView(view: HTMLElement): void {
  const body = h("tbody", {});
  view.append(h("h2", {}, "Agents"),
    h("table", { testid: "agents" },
      h("thead", {}, h("tr", {}, ...["Agent", "Type", "Status", "Load (tasks)", "Capabilities", "Last activity"].map((c) => h("th", {}, c)))),
      body));
  const load = async () => {
    try {
      const res = await call<{ agents: Agent[] }>("GET", "/api/v1/agents?limit=100");
      clear(body, ...res.agents.map((a) =>
        h("tr", { "data-agent": a.agent_id, "data-status": a.status, testid: `agent-${a.agent_id}` },
          h("td", {}, a.name && a.name !== a.agent_id ? `${a.agent_id} (${a.name})` : a.agent_id),
          h("td", {}, a.type),
          h("td", { "data-col": "status" }, badge(a.status)),
          h("td", { "data-col": "load" }, "…"),
          h("td", {}, a.capabilities.join(", ")),
          h("td", {}, time(a.last_activity)))));
      if (res.agents.length === 0) body.append(h("tr", {}, h("td", { colspan: 6 }, "No agents yet.")));
      await Promise.all(res.agents.map(async (a) => {
        try {
          const s = await call<AgentStatus>("GET", `/api/v1/agents/${encodeURIComponent(a.agent_id)}/status`);
          const cell = body.querySelector(`tr[data-agent="${CSS.escape(a.agent_id)}"] [data-col=load]`);
          if (cell) cell.textContent = String(s.resource_usage?.current_tasks ?? 0);
        } catch { /* the row keeps its placeholder */ }
      }));
    } catch (e) { clear(body, h("tr", {}, h("td", { colspan: 6 }, failure(e)))); }
  };
  refreshers.set("agent", debounce(load, 300));
  refreshers.set("task", debounce(load, 500)); // load = open tasks, which move with task events
  void load();
}

// ---- Events ----
function eventsView(view: HTMLElement): void {
  const feed = state.feed ?? new EventLink("feed");
  if (!state.feed) { state.feed = feed; feed.open(); }
  const list = h("ol", { class: "feed", testid: "event-feed" });
  const subs = h("ul", { class: "subs", testid: "subscriptions" });
  const error = h("p", { class: "error", role: "alert", testid: "events-error" });
  const pattern = h("input", { placeholder: "pattern, e.g. app.orders.* or task.>", testid: "pattern", required: true });
  const filters = h("input", { placeholder: 'filters (JSON), e.g. {"priority":"high"}', testid: "filters" });
  const form = h("form", { class: "inline", testid: "subscribe-form" }, pattern, filters, h("button", { type: "submit", testid: "subscribe" }, "Subscribe"));
  const topic = h("input", { placeholder: "topic, e.g. app.demo.hello", testid: "publish-topic", required: true });
  const data = h("input", { placeholder: "data (JSON)", testid: "publish-data", value: "{}" });
  const pub = h("form", { class: "inline", testid: "publish-form" }, topic, data, h("button", { type: "submit" }, "Publish"));

  const renderSubs = () => clear(subs, ...feed.subscribed.map((p) =>
    h("li", { testid: `sub-${p}` }, h("code", {}, p), " ",
      h("button", { type: "button", class: "small", onclick: async () => { await feed.unsubscribe([p]); renderSubs(); } }, "×"))));
  feed.onEvent = (e) => {
    list.prepend(h("li", { testid: "event", "data-topic": e.topic },
      h("span", { class: "ts" }, time(e.timestamp)), " ", h("code", {}, e.topic), " ",
      e.source_agent ? h("span", { class: "muted" }, `from ${e.source_agent} `) : null,
      h("pre", {}, JSON.stringify(e.payload))));
    while (list.children.length > 200) list.lastElementChild!.remove();
  };
  feed.onGap = (g) => list.prepend(h("li", { class: "gap" }, `Gap in the history: ${JSON.stringify(g)}`));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      const f = filters.value.trim() ? (JSON.parse(filters.value) as Record<string, unknown>) : undefined;
      await feed.subscribe(pattern.value.split(/[\s,]+/).filter(Boolean), f);
      pattern.value = "";
      renderSubs();
    } catch (e) { error.textContent = e instanceof Error ? e.message : String(e); }
  });
  pub.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try { await feed.publish(topic.value.trim(), JSON.parse(data.value || "null")); } catch (e) { error.textContent = e instanceof Error ? e.message : String(e); }
  });
  renderSubs();
  view.append(h("h2", {}, "Events"), form, subs, pub, error, list);
}

// ---- Tasks and dead letters ----
function tasksView(view: HTMLElement): void {
  const body = h("tbody", {});
  const filter = h("select", { testid: "task-filter" },
    h("option", { value: "" }, "all"), h("option", { value: "failed" }, "dead letters (failed)"),
    ...["pending", "queued", "in_progress", "completed", "canceled"].map((s) => h("option", { value: s }, s)));
  const error = h("p", { class: "error", role: "alert", testid: "tasks-error" });
  const load = async () => {
    try {
      const q = filter.value ? `&status=${encodeURIComponent(filter.value)}` : "";
      const res = await call<{ tasks: Task[] }>("GET", `/api/v1/tasks?limit=100${q}`);
      clear(body, ...res.tasks.map((t) =>
        h("tr", { testid: `task-${t.task_id}`, "data-status": t.status },
          h("td", {}, h("code", {}, t.task_id)), h("td", {}, t.type), h("td", {}, badge(t.status)),
          h("td", { testid: "task-progress" }, progress(t.progress)),
          h("td", {}, t.assigned_agent ?? "—"), h("td", {}, `${t.attempts}/${t.max_attempts}`),
          h("td", { class: "muted" }, t.error ?? ""),
          h("td", {}, t.status === "failed" || t.status === "canceled"
            ? h("button", { type: "button", testid: "redrive", onclick: () => void redrive(t.task_id) }, "Re-drive") : null))));
      if (res.tasks.length === 0) body.append(h("tr", {}, h("td", { colspan: 8 }, "No tasks.")));
    } catch (e) { clear(body, h("tr", {}, h("td", { colspan: 8 }, failure(e)))); }
  };
  const redrive = async (id: string) => {
    error.textContent = "";
    try { await call("POST", `/api/v1/tasks/${encodeURIComponent(id)}/retry`); await load(); } catch (e) { error.textContent = e instanceof Error ? e.message : String(e); }
  };
  filter.addEventListener("change", () => void load());
  refreshers.set("task", debounce(load));
  view.append(h("h2", {}, "Tasks"), h("label", {}, "Show ", filter), error,
    h("table", { testid: "tasks" },
      h("thead", {}, h("tr", {}, ...["Task", "Type", "Status", "Progress", "Agent", "Attempts", "Error", ""].map((c) => h("th", {}, c)))),
      body));
  void load();
}

// ---- Workflows ----
function workflowsView(view: HTMLElement): void {
  const list = h("div", { testid: "workflows" });
  const load = async () => {
    try {
      const res = await call<{ workflows: Workflow[] }>("GET", "/api/v1/workflows?limit=50");
      clear(list, ...res.workflows.map((w) => {
        const done = w.stages.length ? w.stages.reduce((s, x) => s + (x.status === "completed" ? 100 : x.progress), 0) / w.stages.length : 0;
        return h("article", { class: "workflow", testid: `workflow-${w.workflow_id}` },
          h("h3", {}, w.name, " ", badge(w.status), " ", progress(done)),
          h("table", {}, h("tbody", {}, ...w.stages.map((s) =>
            h("tr", { testid: `stage-${s.name}` }, h("td", {}, s.name), h("td", {}, s.agent_type), h("td", {}, badge(s.status)), h("td", {}, progress(s.status === "completed" ? 100 : s.progress)))))));
      }));
      if (res.workflows.length === 0) list.append(h("p", {}, "No workflows."));
    } catch (e) { clear(list, failure(e)); }
  };
  const refresh = debounce(load);
  refreshers.set("workflow", refresh);
  refreshers.set("task", refresh);
  view.append(h("h2", {}, "Workflows"), list);
  void load();
}

// ---- Chat sessions (shown only when /api/chat/sessions answers) ----
function chatView(view: HTMLElement): void {
  const out = h("pre", { testid: "chat-sessions" }, "…");
  view.append(h("h2", {}, "Chat sessions"), out);
  call("GET", "/api/chat/sessions").then((r) => { out.textContent = JSON.stringify(r, null, 2); }, (e) => clear(view, failure(e)));
}

// ---- Audit (admins) ----
function auditView(view: HTMLElement): void {
  view.append(h("h2", {}, "Audit log"));
  const body = h("tbody", {});
  call<{ entries: Audit[] }>("GET", "/api/v1/audit?limit=100").then((res) => {
    clear(body, ...res.entries.map((a) =>
      h("tr", { testid: "audit-entry" }, h("td", {}, time(a.at)), h("td", {}, a.actor_id ?? "—"), h("td", {}, a.actor_role ?? ""),
        h("td", {}, a.action), h("td", {}, a.target ?? ""), h("td", {}, badge(a.outcome)), h("td", {}, a.ip ?? ""))));
    view.append(h("table", { testid: "audit" },
      h("thead", {}, h("tr", {}, ...["At", "Actor", "Role", "Action", "Target", "Outcome", "IP"].map((c) => h("th", {}, c)))), body));
  }, (e) => view.append(failure(e)));
}
