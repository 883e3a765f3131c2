"""The decision to fence a node before its lease expires: only a refused reconnect after a
broken connection, only with fencing enabled, only for the incarnation that refused."""

from __future__ import annotations

import pytest

from reconciler.controller.fencing import Port, PortEvent, lost_early, port_step

C, X, R, N = PortEvent.CONNECTED, PortEvent.CLOSED, PortEvent.REFUSED, PortEvent.NO_ANSWER


def run(*events: PortEvent) -> Port:
    s = Port.NEVER
    for e in events:
        s = port_step(s, e)
    return s


@pytest.mark.parametrize(
    ("events", "final"),
    [
        ((), Port.NEVER),
        ((R,), Port.NEVER),  # never connected: a node still starting proves nothing
        ((N, R, N), Port.NEVER),
        ((C,), Port.UP),
        ((C, X), Port.BROKEN),
        ((C, X, N), Port.BROKEN),  # a cut: no answer is not enough
        ((C, X, N, N, N), Port.BROKEN),
        ((C, X, R), Port.REFUSED),  # the kernel answered, nothing listens: hacd is gone
        ((C, X, N, R), Port.REFUSED),
        ((C, X, C), Port.UP),  # the connection came back: nothing happened
        ((C, X, C, X, R), Port.REFUSED),
        ((C, X, R, C), Port.REFUSED),  # final for this incarnation
        ((C, N), Port.BROKEN),
    ],
)
def test_port_states(events: tuple[PortEvent, ...], final: Port) -> None:
    assert run(*events) is final


def test_lost_early_needs_fencing_and_the_same_incarnation() -> None:
    live = {"node1": "node1|a|1|10", "node2": "node2|b|2|20", "node3": "node3|c|3|30"}
    refused = {"node2|b|2|20", "node3|c|9|99"}  # node3 restarted since its old run refused
    assert lost_early(live, refused, stonith_enabled=True) == ("node2",)
    assert lost_early(live, refused, stonith_enabled=False) == ()
    assert lost_early(live, set(), stonith_enabled=True) == ()
    assert lost_early({}, refused, stonith_enabled=True) == ()
