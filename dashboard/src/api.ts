// REST calls to the hub (same origin). The tokens live in this module's memory only: never in localStorage,
// sessionStorage or cookies (docs/security.md, "The web dashboard").

export interface UserProfile { user_id: string; email: string; display_name: string; role: string }
interface TokenResponse { access_token: string; refresh_token: string; expires_in: number; user_profile: UserProfile }

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) { super(message); }
}

let access: string | null = null;
let refresh: string | null = null;
let refreshTimer: number | undefined;
let onLoggedOut: () => void = () => {};

export const session = {
  get token(): string | null { return access; },
  user: null as UserProfile | null,
  onLoggedOut(fn: () => void) { onLoggedOut = fn; },
};

function accept(t: TokenResponse): void {
  access = t.access_token;
  refresh = t.refresh_token;
  session.user = t.user_profile;
  window.clearTimeout(refreshTimer);
  // Renew a minute before the access token expires (15 min by default).
  refreshTimer = window.setTimeout(() => void renew(), Math.max(10, t.expires_in - 60) * 1000);
}

function forget(): void {
  access = refresh = null;
  session.user = null;
  window.clearTimeout(refreshTimer);
}

export async function login(email: string, password: string): Promise<void> {
  accept(await call<TokenResponse>("POST", "/api/v1/auth/login", { email, password }, false));
}

export async function renew(): Promise<boolean> {
  if (!refresh) return false;
  try {
    accept(await call<TokenResponse>("POST", "/api/v1/auth/refresh", { refresh_token: refresh }, false));
    return true;
  } catch {
    forget();
    onLoggedOut();
    return false;
  }
}

export async function logout(): Promise<void> {
  try { await call("POST", "/api/v1/auth/logout"); } catch { /* the session ends here either way */ }
  forget();
  onLoggedOut();
}

export async function call<T = unknown>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth && access) headers.authorization = `Bearer ${access}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text ? safeJson(text) : undefined;
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    if (res.status === 401 && auth && (await renew())) return call<T>(method, path, body, auth);
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? `${res.status} ${res.statusText}`);
  }
  return json as T;
}

function safeJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return undefined; }
}
