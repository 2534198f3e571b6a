"""The transfer table: the DSP paths work, the TCK's illegal moves raise, repeats are no-ops."""

from __future__ import annotations

import itertools

import pytest

from connector.errors import IllegalTransition
from connector.transfer.machine import CONSUMER, PROVIDER, TRANSITIONS, Message, State, move

S, M = State, Message


def test_request_start_suspend_resume_complete() -> None:
    state: State | None = None
    for message, sender, expected in [
        (M.REQUEST, CONSUMER, S.REQUESTED), (M.START, PROVIDER, S.STARTED),
        (M.SUSPENSION, CONSUMER, S.SUSPENDED), (M.START, CONSUMER, S.STARTED),
        (M.SUSPENSION, PROVIDER, S.SUSPENDED), (M.START, PROVIDER, S.STARTED),
        (M.COMPLETION, CONSUMER, S.COMPLETED),
    ]:
        result = move(state, message, sender)
        assert result.to is expected and result.changed
        state = result.to


@pytest.mark.parametrize(("state", "message", "sender"), [
    (S.REQUESTED, M.COMPLETION, CONSUMER),   # TP_03_01
    (S.REQUESTED, M.SUSPENSION, CONSUMER),   # TP_03_02
    (S.SUSPENDED, M.COMPLETION, CONSUMER),   # TP_03_03
    (S.TERMINATED, M.START, CONSUMER),       # TP_03_04
    (S.TERMINATED, M.SUSPENSION, CONSUMER),  # TP_03_05
    (S.TERMINATED, M.COMPLETION, CONSUMER),  # TP_03_06
    (S.REQUESTED, M.START, CONSUMER),        # only the provider starts
    (S.COMPLETED, M.TERMINATION, PROVIDER),
])
def test_illegal_moves_raise(state: State, message: Message, sender: str) -> None:
    with pytest.raises(IllegalTransition):
        move(state, message, sender)


def test_repeats_change_nothing() -> None:
    assert not move(S.COMPLETED, M.COMPLETION, CONSUMER).changed
    assert not move(S.TERMINATED, M.TERMINATION, PROVIDER).changed
    assert not move(S.STARTED, M.START, PROVIDER).changed


def test_every_pair_is_either_in_the_table_a_repeat_or_refused() -> None:
    for state, message, sender in itertools.product([None, *S], M, (PROVIDER, CONSUMER)):
        try:
            result = move(state, message, sender)
        except IllegalTransition:
            assert (state, message, sender) not in TRANSITIONS
            continue
        assert result.changed == ((state, message, sender) in TRANSITIONS)
