"""The actor runtime: actors, mailboxes, the bus, supervision and the clock."""

from .actor import Actor, AskError, AskRequest, AskTimeout, Reply, ask
from .bus import Bus, Subscription
from .clock import Clock
from .mailbox import (
    Mailbox,
    MailboxClosed,
    MailboxOverflow,
    MailboxStats,
    OverflowPolicy,
    WaitGraph,
    current_actor_name,
)
from .supervisor import ActorStatus, ChildSpec, Restart, Runnable, Supervisor, SupervisorEscalation

__all__ = [
    "Actor",
    "ActorStatus",
    "AskError",
    "AskRequest",
    "AskTimeout",
    "Bus",
    "ChildSpec",
    "Clock",
    "Mailbox",
    "MailboxClosed",
    "MailboxOverflow",
    "MailboxStats",
    "OverflowPolicy",
    "Reply",
    "Restart",
    "Runnable",
    "Subscription",
    "Supervisor",
    "SupervisorEscalation",
    "WaitGraph",
    "ask",
    "current_actor_name",
]
