"""The transfer process state machine of DSP 2025-1, as data (see negotiation.machine)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connector.errors import IllegalTransition


class State(StrEnum):
    REQUESTED = "REQUESTED"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


class Message(StrEnum):
    REQUEST = "TransferRequestMessage"
    START = "TransferStartMessage"
    SUSPENSION = "TransferSuspensionMessage"
    COMPLETION = "TransferCompletionMessage"
    TERMINATION = "TransferTerminationMessage"


PROVIDER = "provider"
CONSUMER = "consumer"
BOTH = (PROVIDER, CONSUMER)
FINAL = frozenset({State.COMPLETED, State.TERMINATED})

TRANSITIONS: dict[tuple[State | None, Message, str], State] = {
    (None, Message.REQUEST, CONSUMER): State.REQUESTED,
    (State.REQUESTED, Message.START, PROVIDER): State.STARTED,
    # Resuming: either side may restart a suspended transfer.
    **{(State.SUSPENDED, Message.START, who): State.STARTED for who in BOTH},
    **{(State.STARTED, Message.SUSPENSION, who): State.SUSPENDED for who in BOTH},
    **{(State.STARTED, Message.COMPLETION, who): State.COMPLETED for who in BOTH},
    **{(state, Message.TERMINATION, who): State.TERMINATED
       for state in (State.REQUESTED, State.STARTED, State.SUSPENDED) for who in BOTH},
}


@dataclass(frozen=True)
class Move:
    """The outcome of a legal message: where the process goes and whether that is a change."""

    to: State
    changed: bool


def allowed(state: State | None, message: Message, sender: str) -> State | None:
    """The next state if the table allows the move, else None."""
    return TRANSITIONS.get((state, message, sender))


def move(state: State | None, message: Message, sender: str) -> Move:
    """Apply ``message`` from ``sender`` to a transfer in ``state``; raise if illegal.

    The same message delivered twice (e.g. a second completion while COMPLETED) is accepted and
    changes nothing; a start while STARTED is a repeat too.
    """
    target = allowed(state, message, sender)
    if target is not None:
        return Move(target, changed=True)
    if state is not None and message is not Message.REQUEST and any(
            to == state and msg is message and who == sender
            for (_, msg, who), to in TRANSITIONS.items()):
        return Move(state, changed=False)
    where = "a new transfer" if state is None else f"state {state}"
    raise IllegalTransition(f"{message.value} from the {sender} is not allowed in {where}",
                            state=None if state is None else state.value)
