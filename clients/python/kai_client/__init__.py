"""Kai Hub client: REST (:class:`HubClient`), agents (:class:`Agent`) and events (:class:`EventSubscription`).

The wire contract is docs/protocol.md in the Kai Hub repository."""

from .agent import Agent, AgentMessage, CommandContext, TaskContext
from .client import HubClient
from .errors import HubApiError, LinkClosed
from .events import Event, EventLink, EventSubscription, Gap
from .link import Frame, Link
from .policy import Action, Backoff, action_for

__all__ = [
    "Action", "Agent", "AgentMessage", "Backoff", "CommandContext", "Event", "EventLink", "EventSubscription",
    "Frame", "Gap", "HubApiError", "HubClient", "Link", "LinkClosed", "TaskContext", "action_for",
]
__version__ = "0.1.0"
