"""The negotiation table: the DSP paths work, the TCK's illegal moves raise, repeats are no-ops."""

from __future__ import annotations

import itertools

import pytest

from connector.errors import IllegalTransition
from connector.negotiation.machine import (
    CONSUMER,
    ONCE,
    PROVIDER,
    TRANSITIONS,
    Message,
    State,
    move,
    other,
)

S, M = State, Message


@pytest.mark.parametrize("path", [
    [(M.REQUEST, CONSUMER, S.REQUESTED), (M.AGREEMENT, PROVIDER, S.AGREED),
     (M.VERIFICATION, CONSUMER, S.VERIFIED), (M.FINALIZED, PROVIDER, S.FINALIZED)],
    [(M.REQUEST, CONSUMER, S.REQUESTED), (M.OFFER, PROVIDER, S.OFFERED),
     (M.ACCEPTED, CONSUMER, S.ACCEPTED), (M.AGREEMENT, PROVIDER, S.AGREED),
     (M.VERIFICATION, CONSUMER, S.VERIFIED), (M.FINALIZED, PROVIDER, S.FINALIZED)],
    [(M.OFFER, PROVIDER, S.OFFERED), (M.REQUEST, CONSUMER, S.REQUESTED),
     (M.TERMINATION, PROVIDER, S.TERMINATED)],
])
def test_spec_paths(path: list[tuple[Message, str, State]]) -> None:
    state: State | None = None
    for message, sender, expected in path:
        result = move(state, message, sender)
        assert result.to is expected and result.changed
        state = result.to


@pytest.mark.parametrize(("state", "message", "sender"), [
    (S.FINALIZED, M.TERMINATION, CONSUMER),      # CN_03_01
    (S.OFFERED, M.VERIFICATION, CONSUMER),       # CN_03_02
    (S.ACCEPTED, M.VERIFICATION, CONSUMER),      # CN_03_03
    (S.REQUESTED, M.REQUEST, CONSUMER),          # CN_03_04
    (S.REQUESTED, M.FINALIZED, PROVIDER),        # CN_C_03_01
    (S.OFFERED, M.AGREEMENT, PROVIDER),          # CN_C_03_02
    (S.OFFERED, M.FINALIZED, PROVIDER),          # CN_C_03_03
    (S.ACCEPTED, M.FINALIZED, PROVIDER),         # CN_C_03_04
    (S.ACCEPTED, M.OFFER, PROVIDER),             # CN_C_03_05
    (S.AGREED, M.FINALIZED, PROVIDER),           # CN_C_03_06
    (S.REQUESTED, M.AGREEMENT, CONSUMER),        # wrong sender
    (None, M.AGREEMENT, PROVIDER),               # nothing to agree on
])
def test_illegal_moves_raise(state: State | None, message: Message, sender: str) -> None:
    with pytest.raises(IllegalTransition):
        move(state, message, sender)


@pytest.mark.parametrize(("state", "message", "sender"), [
    (S.TERMINATED, M.TERMINATION, PROVIDER),
    (S.ACCEPTED, M.ACCEPTED, CONSUMER),
    (S.AGREED, M.AGREEMENT, PROVIDER),
    (S.FINALIZED, M.FINALIZED, PROVIDER),
])
def test_a_repeated_message_changes_nothing(state: State, message: Message, sender: str) -> None:
    result = move(state, message, sender)
    assert result.to is state and not result.changed


def test_final_states_have_no_way_out() -> None:
    for (state, message, sender), to in TRANSITIONS.items():
        assert state not in (S.FINALIZED, S.TERMINATED), (state, message, sender, to)


def test_every_pair_is_either_in_the_table_a_repeat_or_refused() -> None:
    for state, message, sender in itertools.product([None, *S], M, (PROVIDER, CONSUMER)):
        try:
            result = move(state, message, sender)
        except IllegalTransition:
            assert (state, message, sender) not in TRANSITIONS
            continue
        assert result.changed == ((state, message, sender) in TRANSITIONS)


def test_once_messages_happen_at_most_once_on_every_path() -> None:
    """What makes a repeat of a ``ONCE`` message recognisable from the history: once it moved
    a negotiation, no state reachable afterwards takes it again."""
    assert Message.REQUEST not in ONCE and Message.OFFER not in ONCE
    for message in ONCE:
        sources = {frm for (frm, msg, _), _ in TRANSITIONS.items() if msg is message}
        reached = {to for (_, msg, _), to in TRANSITIONS.items() if msg is message}
        frontier = set(reached)
        while frontier:
            frontier = {to for (frm, _, _), to in TRANSITIONS.items() if frm in frontier} - reached
            reached |= frontier
        assert not (reached & sources), (message, reached & sources)
    assert other(PROVIDER) == CONSUMER and other(CONSUMER) == PROVIDER
