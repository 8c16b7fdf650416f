"""``jetstream.delivery_run.DeliveryRun``: the ordered consumer's run of queued deliveries, checked
at once (first and last consumer sequence) or, when that check fails, one by one. Sans-I/O: the
"queue" is a deque of Msg built here."""

from __future__ import annotations

from collections import deque

import pytest

from jetstream import InvalidAckSubjectError
from jetstream.delivery_run import DeliveryRun
from protocol import Msg, SlowConsumerError

PREFIX = "$JS.ACK.S.C."


def _msg(cseq: int, pending: int, sseq: int = 0, prefix: str = PREFIX, data: bytes = b"x") -> Msg:
    return Msg("s.x", 1, f"{prefix}1.{sseq or cseq + 100}.{cseq}.1733500000000000000.{pending}", data)


def _queue(*msgs: Msg):
    q = deque(msgs)
    return lambda: q.popleft() if q else None, q


def test_a_clean_run_is_taken_whole() -> None:
    take, q = _queue(*(_msg(c, 10 - c) for c in range(1, 11)))
    run = DeliveryRun()
    assert run.take(take, PREFIX, 1) == 10
    assert [m.metadata.consumer_seq for m in run.ready] == list(range(1, 11))
    assert [m.seq for m in run.ready] == list(range(101, 111))  # parsed when asked
    assert run.pending == "0" and run.last_reply.endswith(".10.1733500000000000000.0")
    assert run.zero_left == 0 and not run.held and not q


def test_the_run_ends_at_a_message_of_another_kind_which_is_held() -> None:
    fc = Msg("s.x", 1, "$JS.FC.S.abc.1", b"")
    other = _msg(4, 0, prefix="$JS.ACK.S.OTHER.")
    take, q = _queue(_msg(1, 5), _msg(2, 4), fc, _msg(3, 3))
    run = DeliveryRun()
    assert run.take(take, PREFIX, 1) == 2
    assert list(run.held) == [fc] and len(q) == 1
    run.ready.clear()
    run.held.clear()
    take, _ = _queue(other)
    assert run.take(take, PREFIX, 3) == 0 and list(run.held) == [other]


@pytest.mark.parametrize("bad_at", [0, 1, 4, 9])
def test_a_gap_inside_a_run_hands_out_the_valid_prefix_and_holds_the_rest(bad_at: int) -> None:
    msgs = [_msg(c, 50 - c) for c in range(1, 11)]
    msgs = msgs[:bad_at] + msgs[bad_at + 1 :]  # consumer sequence bad_at + 1 is lost
    take, _ = _queue(*msgs)
    run = DeliveryRun()
    assert run.take(take, PREFIX, 1) == bad_at
    assert [m.metadata.consumer_seq for m in run.ready] == list(range(1, bad_at + 1))
    assert [int(m.reply.split(".")[6]) for m in run.held] == [c for c in range(bad_at + 2, 11)]
    if bad_at:
        assert run.pending == str(50 - bad_at)


def test_only_the_ends_of_a_run_are_parsed() -> None:
    # One consumer's deliveries take strictly increasing consumer sequences (no redelivery with
    # ack none and max_deliver 1), so the run is trusted when its ends fit: a reply in the middle
    # is parsed only when its metadata is asked for (then InvalidAckSubjectError).
    odd = Msg("s.x", 1, PREFIX + "1.2.2.ts.x", b"x")
    take, _ = _queue(_msg(1, 2), odd, _msg(3, 0))
    run = DeliveryRun()
    assert run.take(take, PREFIX, 1) == 3
    with pytest.raises(InvalidAckSubjectError):
        run.ready[1].metadata


@pytest.mark.parametrize("where", ["first", "last"])
def test_an_odd_reply_at_an_end_of_the_run_is_left_to_the_full_path(where: str) -> None:
    odd = Msg("s.x", 1, PREFIX + "1.2.2.ts.x", b"x")
    msgs = [_msg(1, 2), _msg(2, 1), odd] if where == "last" else [odd, _msg(1, 2)]
    take, _ = _queue(*msgs)
    run = DeliveryRun()
    assert run.take(take, PREFIX, 1) == (2 if where == "last" else 0)
    assert run.held[0] is odd


def test_zero_pending_inside_a_run_is_remembered() -> None:
    take, _ = _queue(_msg(1, 1), _msg(2, 0), _msg(3, 2), _msg(4, 1))
    run = DeliveryRun()
    assert run.take(take, PREFIX, 1) == 4
    assert run.zero_left == 2  # two remain in ready when the caught-up message is handed out
    take, _ = _queue(_msg(5, 3), _msg(6, 2))
    run.ready.clear()
    assert run.take(take, PREFIX, 5) == 2 and run.zero_left == -1


def test_a_slow_consumer_report_ends_the_run_or_propagates() -> None:
    q = deque([_msg(1, 2), _msg(2, 1), "slow"])

    def take():
        if not q:
            return None
        item = q.popleft()
        if item == "slow":
            raise SlowConsumerError("dropped")
        return item

    run = DeliveryRun()
    assert run.take(take, PREFIX, 1) == 2 and run.slow
    run.clear()
    q.extend(["slow", _msg(3, 0)])
    with pytest.raises(SlowConsumerError):
        run.take(take, PREFIX, 3)


def test_the_run_is_bounded() -> None:
    take, q = _queue(*(_msg(c, 2000 - c) for c in range(1, 2001)))
    run = DeliveryRun()
    assert run.take(take, PREFIX, 1, limit=100) == 100 and len(q) == 1900


class _QueuedSub:
    """Stands in for a subscription's queue only (``next_nowait``): the consumer's hot path is
    fed messages as if they had arrived in one read. No server is faked: nothing is requested."""

    def __init__(self, msgs: list) -> None:
        self.q = deque(msgs)

    def next_nowait(self):
        return self.q.popleft() if self.q else None


async def test_the_consumer_hands_out_a_run_with_caught_up_and_num_pending_per_message() -> None:
    import asyncio

    from jetstream import OrderedConsumer

    class _Js:  # the consumer only keeps these until it creates a consumer (never, here)
        connection = None
        prefix = "$JS.API"

    oc = OrderedConsumer(_Js(), "S", watch_deletion=False)  # type: ignore[arg-type]
    oc._started = True
    oc._ack_prefix = PREFIX
    # Pending counts as the server wrote them while new messages kept arriving: 2, 1, 0 (caught
    # up at the third), then 1, 0 for two messages stored meanwhile.
    oc._sub = _QueuedSub([_msg(1, 2), _msg(2, 1), _msg(3, 0), _msg(4, 1), _msg(5, 0)])
    seen = []
    for _ in range(5):
        m = await asyncio.wait_for(oc.__anext__(), 1)
        seen.append((m.metadata.consumer_seq, oc.caught_up, oc.num_pending))
    assert seen == [(1, False, 4), (2, False, 3), (3, True, 2), (4, True, 1), (5, True, 0)]
    assert oc._expected_cseq == 6 and oc._resume_seq() == 105
