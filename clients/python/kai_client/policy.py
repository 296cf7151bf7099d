"""Reconnect policy: what each close code means for a client (docs/protocol.md, "Close codes"), and
exponential backoff with jitter."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

NORMAL = 1000
GOING_AWAY = 1001
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
GENERIC_ERROR = 4000
INVALID_SESSION = 4001
SESSION_EXPIRED = 4002
AUTHENTICATION_FAILED = 4003
RATE_LIMITED = 4004
HEARTBEAT_TIMEOUT = 4005
REPLACED = 4006
SLOW_CONSUMER = 4008


class Action(enum.Enum):
    """What to do after a link closed."""

    #: Give up: the hub refused the principal for good (4001 not permitted/deleted, 4003 bad credentials,
    #: 4006 another process took over the agent, 1009 a frame the hub will never accept).
    STOP = "stop"
    #: Get a fresh access token, then reconnect at once (4002: token expired or session revoked).
    REFRESH = "refresh"
    #: Reconnect after the backoff delay (1001 going away, 1011, 4000, 4005, 4008 slow consumer, a broken
    #: connection), with a floor for 4004 (rate limited) and 1013 (node full).
    BACKOFF = "backoff"


#: Codes after which the hub asks the client to slow down: the first retry waits at least
#: :attr:`Backoff.throttle_floor`.
THROTTLED = frozenset({RATE_LIMITED, TRY_AGAIN_LATER})


def action_for(code: int | None) -> Action:
    """The action for a close code (None: the connection broke without a close frame)."""
    if code in (INVALID_SESSION, AUTHENTICATION_FAILED, REPLACED, MESSAGE_TOO_BIG):
        return Action.STOP
    if code == SESSION_EXPIRED:
        return Action.REFRESH
    return Action.BACKOFF


@dataclass
class Backoff:
    """Exponential backoff with jitter: the n-th consecutive failure waits
    ``min(maximum, initial * 2**(n-1))`` times a random factor in ``[1 - jitter, 1 + jitter]``
    (so many clients dropped by one hub restart do not come back as one burst). Seconds."""

    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.2
    #: The least wait after 4004 (rate limited) or 1013 (node full).
    throttle_floor: float = 1.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self, code: int | None = None) -> float:
        """Counts one failure and returns the wait before the next attempt."""
        self.failures += 1
        base = min(self.maximum, self.initial * (2 ** (self.failures - 1)))
        if code in THROTTLED:
            base = max(base, min(self.maximum, self.throttle_floor))
        return base * self.rng.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        """Called after a link that lived long enough: the next failure starts from ``initial`` again."""
        self.failures = 0
