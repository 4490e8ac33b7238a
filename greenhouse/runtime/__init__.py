"""The actor runtime: actors, mailboxes, the bus, supervision and the clock."""

from .actor import NOT_NOW, Actor, AskError, AskRequest, AskTimeout, Reply, answer_now, ask
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
    "NOT_NOW",
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
    "answer_now",
    "ask",
    "current_actor_name",
]
