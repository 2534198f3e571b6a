"""The contract negotiation state machine of DSP 2025-1, as data.

A move is (state, message, sender) → next state. ``sender`` is the role that sent the message:
a provider receives the consumer's messages and sends its own, and the same table serves both
ends. Anything not in the table is illegal: it raises ``IllegalTransition`` and changes nothing.
A message that would move the process to the state it is already in, and that the table allows
from the state before it, is a repeat (the same message delivered twice): it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connector.errors import IllegalTransition


class State(StrEnum):
    REQUESTED = "REQUESTED"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    AGREED = "AGREED"
    VERIFIED = "VERIFIED"
    FINALIZED = "FINALIZED"
    TERMINATED = "TERMINATED"


class Message(StrEnum):
    REQUEST = "ContractRequestMessage"
    OFFER = "ContractOfferMessage"
    ACCEPTED = "ContractNegotiationEventMessage:ACCEPTED"
    AGREEMENT = "ContractAgreementMessage"
    VERIFICATION = "ContractAgreementVerificationMessage"
    FINALIZED = "ContractNegotiationEventMessage:FINALIZED"
    TERMINATION = "ContractNegotiationTerminationMessage"


PROVIDER = "provider"
CONSUMER = "consumer"
FINAL = frozenset({State.FINALIZED, State.TERMINATED})
_LIVE = (State.REQUESTED, State.OFFERED, State.ACCEPTED, State.AGREED, State.VERIFIED)

# (from state or None for a new process, message, sender) → to state
TRANSITIONS: dict[tuple[State | None, Message, str], State] = {
    (None, Message.REQUEST, CONSUMER): State.REQUESTED,
    (State.OFFERED, Message.REQUEST, CONSUMER): State.REQUESTED,
    (None, Message.OFFER, PROVIDER): State.OFFERED,
    (State.REQUESTED, Message.OFFER, PROVIDER): State.OFFERED,
    (State.OFFERED, Message.ACCEPTED, CONSUMER): State.ACCEPTED,
    (State.REQUESTED, Message.AGREEMENT, PROVIDER): State.AGREED,
    (State.ACCEPTED, Message.AGREEMENT, PROVIDER): State.AGREED,
    (State.AGREED, Message.VERIFICATION, CONSUMER): State.VERIFIED,
    (State.VERIFIED, Message.FINALIZED, PROVIDER): State.FINALIZED,
    **{(state, Message.TERMINATION, sender): State.TERMINATED
       for state in _LIVE for sender in (PROVIDER, CONSUMER)},
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
    """Apply ``message`` from ``sender`` to a process in ``state``; raise if illegal."""
    target = allowed(state, message, sender)
    if target is not None:
        return Move(target, changed=True)
    if state is not None and _is_repeat(state, message, sender):
        return Move(state, changed=False)
    where = "a new negotiation" if state is None else f"state {state}"
    raise IllegalTransition(f"{message.value} from the {sender} is not allowed in {where}",
                            state=None if state is None else state.value)


def _is_repeat(state: State, message: Message, sender: str) -> bool:
    # A counter-request (REQUESTED after OFFERED) repeated while still REQUESTED is *not* a
    # repeat by this rule alone: DSP makes a second request in REQUESTED illegal (TCK CN_03_04).
    if message is Message.REQUEST:
        return False
    return any(to == state and msg is message and who == sender
               for (_, msg, who), to in TRANSITIONS.items())


#: Messages a negotiation sees at most once. One of them arriving again after the process moved
#: on is a duplicate delivery (answered as before, changing nothing), recognised from the
#: history. Requests and offers recur (counter-offers), so a second one in the wrong state stays
#: illegal (TCK CN_03_04, CN_C_03_05).
ONCE = frozenset({Message.ACCEPTED, Message.AGREEMENT, Message.VERIFICATION, Message.FINALIZED,
                  Message.TERMINATION})


def other(role: str) -> str:
    """The role of the other end: who sends the messages a ``role`` process receives."""
    return CONSUMER if role == PROVIDER else PROVIDER
