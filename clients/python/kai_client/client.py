"""REST client for Kai Hub (``/api/v1``): login, agent client credentials, token refresh, typed errors."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import quote

import httpx

from .errors import HubApiError

if TYPE_CHECKING:
    from .events import EventLink, EventSubscription
    from .link import Link
    from .policy import Backoff

#: A token is renewed when less than this many seconds of its life remain.
REFRESH_MARGIN = 30.0

Json = Any


def _quote(segment: str) -> str:
    return quote(segment, safe="")


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (Unix seconds) of a JWT, read without verifying it; None if it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        exp = json.loads(base64.urlsafe_b64decode(padded)).get("exp")
        return float(exp) if exp is not None else None
    except (ValueError, AttributeError):
        return None


class HubClient:
    """Typed access to the hub's REST API and the factory of its WebSocket links.

    Sign in with :meth:`login` (a user: email and password) or :meth:`login_agent` (an agent: OAuth 2.0
    ``client_credentials``, RFC 6749 §4.4). The client keeps the tokens and renews them itself: a user's
    through ``/auth/refresh`` (the refresh token rotates), an agent's by exchanging its credentials again,
    both :data:`REFRESH_MARGIN` seconds before the access token expires and once after a 401.

    Every call raises :class:`HubApiError` when the hub answers with its error envelope, and
    ``httpx.HTTPError`` when the hub cannot be reached. A 429 is retried after its ``Retry-After``
    (at most ``max_rate_limit_retries`` times, each wait at most ``max_rate_limit_wait`` seconds).

    ``clock`` returns Unix seconds; tests pass a fake one to move token expiry forward.
    """

    def __init__(self, base_url: str, *, clock: Callable[[], float] = time.time,
                 http: httpx.AsyncClient | None = None, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._clock = clock
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._lock = asyncio.Lock()
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self._expires_at = 0.0
        self._credentials: tuple[str, str] | None = None
        self.max_rate_limit_retries = 3
        self.max_rate_limit_wait = 30.0
        #: Called with the login/refresh answer whenever the user's tokens change (to persist them).
        self.on_tokens: Callable[[dict[str, Any]], None] | None = None
        #: How many access tokens this client obtained (logins, refreshes and exchanges).
        self.token_fetches = 0

    async def __aenter__(self) -> "HubClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the HTTP connection pool (if this client created it)."""
        if self._owns_http:
            await self._http.aclose()

    # ---- authentication -------------------------------------------------------------------------

    async def register(self, email: str, password: str, display_name: str) -> dict[str, Any]:
        """``POST /auth/register`` → ``{user_id, verification_required}``; 409 ``CONFLICT`` for a taken email,
        400 ``VALIDATION_ERROR`` for a weak password (10–128 characters)."""
        return await self.request("POST", "/auth/register", json={
            "email": email, "password": password, "display_name": display_name, "terms_accepted": True}, auth=False)

    async def login(self, email: str, password: str) -> dict[str, Any]:
        """``POST /auth/login`` → ``{access_token, refresh_token, token_type, expires_in, user_profile}``;
        the tokens are kept. 401 ``AUTHENTICATION_FAILED`` for a wrong email or password."""
        tokens = await self.request("POST", "/auth/login", json={"email": email, "password": password}, auth=False)
        self._accept(tokens)
        return tokens

    def use_tokens(self, access_token: str, refresh_token: str | None = None) -> None:
        """Uses tokens saved from an earlier login; the expiry is read from the JWT's ``exp``."""
        self.access_token = access_token
        self.refresh_token = refresh_token
        self._expires_at = _jwt_expiry(access_token) or (self._clock() + 60)

    async def refresh(self) -> dict[str, Any]:
        """``POST /auth/refresh``: rotates the refresh token; the new pair is kept. 401 when the refresh
        token is invalid, expired or already used (``details.reason = "refresh_token_rotated"``)."""
        async with self._lock:
            return await self._refresh_locked()

    async def _refresh_locked(self) -> dict[str, Any]:
        if self.refresh_token is None:
            raise RuntimeError("no refresh token; log in first")
        tokens = await self.request("POST", "/auth/refresh", json={"refresh_token": self.refresh_token}, auth=False)
        self._accept(tokens)
        return tokens

    async def login_agent(self, client_id: str, client_secret: str) -> dict[str, Any]:
        """``POST /auth/token`` (form ``grant_type=client_credentials``) → ``{access_token, token_type,
        expires_in, agent_id}``. The credentials are kept, so the token is exchanged again before it
        expires. 401 ``AUTHENTICATION_FAILED`` (``details.oauth_error = "invalid_client"``)."""
        self._credentials = (client_id, client_secret)
        async with self._lock:
            return await self._exchange_locked()

    async def _exchange_locked(self) -> dict[str, Any]:
        assert self._credentials is not None
        client_id, secret = self._credentials
        token = await self._send("POST", "/auth/token", data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}, token=None)
        self.access_token = token["access_token"]
        self._expires_at = self._clock() + float(token["expires_in"])
        self.token_fetches += 1
        return token

    async def logout(self) -> None:
        """``POST /auth/logout``: revokes the session; its links close with 4002."""
        await self.request("POST", "/auth/logout")
        self.access_token = self.refresh_token = None

    def expire_token(self) -> None:
        """Forgets the access token's expiry, so the next call fetches a new one (after a link closed with
        4002: the token may look valid and still be refused)."""
        if self.refresh_token is not None or self._credentials is not None:
            self._expires_at = 0.0

    @property
    def token_expires_at(self) -> float:
        """When the current access token expires (Unix seconds by ``clock``)."""
        return self._expires_at

    async def ensure_token(self) -> str | None:
        """The access token, renewed first when it expires within :data:`REFRESH_MARGIN` seconds."""
        if self.access_token is not None and self._clock() + REFRESH_MARGIN < self._expires_at:
            return self.access_token
        if self.refresh_token is None and self._credentials is None:
            return self.access_token
        async with self._lock:
            if self.access_token is not None and self._clock() + REFRESH_MARGIN < self._expires_at:
                return self.access_token
            if self._credentials is not None:
                await self._exchange_locked()
            else:
                await self._refresh_locked()
            return self.access_token

    def _accept(self, tokens: dict[str, Any]) -> None:
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens.get("refresh_token")
        self._expires_at = self._clock() + float(tokens["expires_in"])
        self.token_fetches += 1
        if self.on_tokens is not None:
            self.on_tokens(tokens)

    # ---- transport ------------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, json: Json = None, params: Mapping[str, Any] | None = None,
                      headers: Mapping[str, str] | None = None, auth: bool = True) -> Any:
        """Sends a request to ``/api/v1{path}`` and returns the decoded JSON answer (for routes this class
        has no method for). With ``auth`` the access token is sent (renewed first if needed); a 401 renews
        it once and retries."""
        for attempt in range(2):
            token = await self.ensure_token() if auth else None
            try:
                return await self._send(method, path, json=json, params=params, headers=headers, token=token)
            except HubApiError as e:
                if (e.status == 401 and auth and attempt == 0
                        and (self.refresh_token is not None or self._credentials is not None)):
                    self._expires_at = 0.0
                    continue
                raise
        raise AssertionError("unreachable")

    async def _send(self, method: str, path: str, *, json: Json = None, data: Mapping[str, str] | None = None,
                    params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                    token: str | None) -> Any:
        url = f"{self.base_url}/api/v1{path}"
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        query = {k: ("true" if v is True else "false" if v is False else v)
                 for k, v in (params or {}).items() if v is not None}
        retries = 0
        while True:
            response = await self._http.request(method, url, json=json, data=data, params=query, headers=all_headers)
            if response.status_code == 429 and retries < self.max_rate_limit_retries:
                wait = _retry_after(response)
                if wait <= self.max_rate_limit_wait:
                    retries += 1
                    await asyncio.sleep(wait)
                    continue
            return _read(response)

    # ---- REST: agents ---------------------------------------------------------------------------

    async def get_session(self) -> dict[str, Any]:
        """``GET /auth/session`` → ``{user_id, session_id, expires_at, permissions, role}``."""
        return await self.request("GET", "/auth/session")

    async def register_agent(self, type: str, *, id: str | None = None, name: str | None = None,
                             version: str | None = None, capabilities: list[str] | None = None,
                             configuration: dict[str, Any] | None = None) -> dict[str, Any]:
        """``POST /agents/register`` → 201 ``{agent_id, client_id, client_secret, status, websocket_url}``.
        The secret is shown only once: store it."""
        body = {k: v for k, v in {"id": id, "type": type, "name": name, "version": version,
                                  "capabilities": capabilities, "configuration": configuration}.items() if v is not None}
        return await self.request("POST", "/agents/register", json=body)

    async def list_agents(self, *, status: str | None = None, capability: str | None = None, type: str | None = None,
                          limit: int | None = None, offset: int | None = None) -> dict[str, Any]:
        """``GET /agents`` → ``{agents, total, pagination}``."""
        return await self.request("GET", "/agents", params={
            "status": status, "capability": capability, "type": type, "limit": limit, "offset": offset})

    async def get_agent(self, agent_id: str) -> dict[str, Any]:
        """``GET /agents/{id}``; 404 ``AGENT_NOT_FOUND`` for an unknown agent or another user's."""
        return await self.request("GET", f"/agents/{_quote(agent_id)}")

    async def get_agent_status(self, agent_id: str) -> dict[str, Any]:
        """``GET /agents/{id}/status``."""
        return await self.request("GET", f"/agents/{_quote(agent_id)}/status")

    async def heartbeat(self, agent_id: str, *, status: str | None = None, current_tasks: int | None = None,
                        performance_metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        """``POST /agents/{id}/heartbeat`` (for agents without a live link) → ``{agent_id, status, next_heartbeat_in}``."""
        body = {k: v for k, v in {"status": status, "current_tasks": current_tasks,
                                  "performance_metrics": performance_metrics}.items() if v is not None}
        return await self.request("POST", f"/agents/{_quote(agent_id)}/heartbeat", json=body)

    async def delete_agent(self, agent_id: str) -> dict[str, Any]:
        """``DELETE /agents/{id}``: its credentials die and its links close with 4001."""
        return await self.request("DELETE", f"/agents/{_quote(agent_id)}")

    async def send_command(self, agent_id: str, command: str, parameters: dict[str, Any] | None = None, *,
                           priority: str | None = None, timeout: int | None = None, ttl: int | None = None,
                           correlation_id: str | None = None) -> dict[str, Any]:
        """``POST /agents/{id}/command``: waits up to ``timeout`` seconds (0–300, hub default 30) →
        ``{command_id, status: completed|failed|executing|queued, result?, error?, deadline}``."""
        body = {k: v for k, v in {"command": command, "parameters": parameters, "priority": priority,
                                  "timeout": timeout, "ttl": ttl, "correlation_id": correlation_id}.items() if v is not None}
        return await self.request("POST", f"/agents/{_quote(agent_id)}/command", json=body)

    # ---- REST: tasks ----------------------------------------------------------------------------

    async def create_task(self, type: str, input_data: dict[str, Any] | None = None, *, id: str | None = None,
                          priority: str | None = None, assigned_agent: str | None = None,
                          timeout: int | None = None, retry_policy: dict[str, Any] | None = None,
                          idempotency_key: str | None = None) -> dict[str, Any]:
        """``POST /tasks`` → 201 the task (200 with the existing one for a repeated id or ``Idempotency-Key``)."""
        body = {k: v for k, v in {"id": id, "type": type, "priority": priority, "assigned_agent": assigned_agent,
                                  "input_data": input_data, "timeout": timeout, "retry_policy": retry_policy}.items()
                if v is not None}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self.request("POST", "/tasks", json=body, headers=headers)

    async def get_task(self, task_id: str) -> dict[str, Any]:
        """``GET /tasks/{id}``: ``{task_id, type, status, attempts, result, error, ...}``."""
        return await self.request("GET", f"/tasks/{_quote(task_id)}")

    async def get_task_status(self, task_id: str) -> dict[str, Any]:
        """``GET /tasks/{id}/status`` (tasks and commands): ``{task_id, status, progress, result?, error?, ...}``."""
        return await self.request("GET", f"/tasks/{_quote(task_id)}/status")

    async def list_tasks(self, *, status: str | None = None, type: str | None = None,
                         assigned_agent: str | None = None, limit: int | None = None,
                         offset: int | None = None) -> dict[str, Any]:
        """``GET /tasks`` → ``{tasks, total, pagination}``."""
        return await self.request("GET", "/tasks", params={
            "status": status, "type": type, "assigned_agent": assigned_agent, "limit": limit, "offset": offset})

    async def cancel_task(self, task_id: str) -> dict[str, Any]:
        """``POST /tasks/{id}/cancel``."""
        return await self.request("POST", f"/tasks/{_quote(task_id)}/cancel")

    async def retry_task(self, task_id: str) -> dict[str, Any]:
        """``POST /tasks/{id}/retry``: re-drives a dead letter."""
        return await self.request("POST", f"/tasks/{_quote(task_id)}/retry")

    # ---- REST: events ---------------------------------------------------------------------------

    async def publish_event(self, topic: str, data: Json, *, correlation_id: str | None = None,
                            target_agent: str | None = None) -> dict[str, Any]:
        """``POST /events`` → 202 ``{id, topic}``. Topics ``app.>`` and ``custom.>`` (admins also ``system.>``),
        else 403 ``FORBIDDEN``."""
        body = {k: v for k, v in {"topic": topic, "data": data, "correlation_id": correlation_id,
                                  "target_agent": target_agent}.items() if v is not None}
        return await self.request("POST", "/events", json=body)

    async def poll_events(self, topics: list[str], *, since: str | None = None, wait: int | None = None,
                          limit: int | None = None, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        """``GET /events`` (long polling) → ``{events, next_cursor, gap, gap_info?}``."""
        return await self.request("GET", "/events", params={
            "topics": ",".join(topics), "since": since, "wait": wait, "limit": limit,
            "filters": json.dumps(filters) if filters else None})

    # ---- links ----------------------------------------------------------------------------------

    def websocket_url(self, path: str) -> str:
        """``ws://`` or ``wss://`` URL of a link path such as ``/ws/agents/bot``."""
        if self.base_url.startswith("https://"):
            return "wss://" + self.base_url[len("https://"):] + path
        if self.base_url.startswith("http://"):
            return "ws://" + self.base_url[len("http://"):] + path
        return self.base_url + path

    async def connect_agent_link(self, agent_id: str) -> "Link":
        """Opens ``/ws/agents/{id}`` (the agent's own link, or the observer link for its owner or an admin)
        and waits for ``welcome``. Raises :class:`LinkClosed` (4003 bad token, 4001 not permitted)."""
        from .link import Link
        token = await self.ensure_token()
        if token is None:
            raise RuntimeError("log in first")
        return await Link.connect(self.websocket_url(f"/ws/agents/{_quote(agent_id)}"), token)

    async def connect_events(self) -> "EventLink":
        """Opens the event link ``/ws`` (see :class:`EventLink`)."""
        from .events import EventLink
        from .link import Link
        token = await self.ensure_token()
        if token is None:
            raise RuntimeError("log in first")
        return EventLink(await Link.connect(self.websocket_url("/ws"), token))

    def subscribe(self, patterns: list[str], *, filters: dict[str, Any] | None = None, since: str | None = None,
                  backoff: "Backoff | None" = None) -> "EventSubscription":
        """A subscription that reconnects and resumes after the last event it yielded (see
        :class:`EventSubscription`)."""
        from .events import EventSubscription
        return EventSubscription(self, patterns, filters=filters, since=since, backoff=backoff)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _read(response: httpx.Response) -> Any:
    if response.is_success:
        if not response.content:
            return None
        return response.json()
    try:
        error = response.json()["error"]
        raise HubApiError(error["code"], error.get("message", ""), response.status_code,
                          error.get("details") or {}, error.get("correlation_id"))
    except (ValueError, KeyError, TypeError):
        raise HubApiError(f"HTTP_{response.status_code}", response.reason_phrase or "request failed",
                          response.status_code, {}, response.headers.get("X-Correlation-Id")) from None
