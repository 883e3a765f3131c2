"""The partition harness itself: who reaches whom across a cut, and a clean teardown."""

from __future__ import annotations

import sys
import time

import pytest

from reconciler.testing.netns import Network, netns_names

pytestmark = pytest.mark.needs_root

LISTEN = (
    "import socket\ns=socket.socket();s.bind(('{addr}',7000));s.listen(64)\n"
    "while True:\n c,_=s.accept();c.close()"
)
PROBE = """
import socket, sys
for addr in sys.argv[1:]:
    try:
        socket.create_connection((addr, 7000), timeout=0.3).close()
        print(1, end="")
    except OSError:
        print(0, end="")
"""


def _row(net: Network, a: int) -> list[bool]:
    addrs = [h.addr for h in net.hosts]
    out = net.run(a, [sys.executable, "-c", PROBE, *addrs], timeout=10).stdout
    return [c == "1" for c in out.strip()]


def _matrix(net: Network) -> list[list[bool]]:
    return [_row(net, a) for a in range(len(net.hosts))]


def test_partition_and_heal_decide_who_reaches_whom() -> None:
    with Network(3) as net:
        for i, h in enumerate(net.hosts):
            net.spawn(i, [sys.executable, "-c", LISTEN.format(addr=h.addr)])
        deadline = time.monotonic() + 10
        while not all(_row(net, 0)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _matrix(net) == [[True] * 3] * 3
        net.isolate(0)
        assert _matrix(net) == [[True, False, False], [False, True, True], [False, True, True]]
        net.partition([[0, 1], [2]])
        assert _matrix(net) == [[True, True, False], [True, True, False], [False, False, True]]
        assert net.reachable(0, 1) and not net.reachable(1, 2)
        net.heal()
        assert _matrix(net) == [[True] * 3] * 3
        names = [h.ns for h in net.hosts] + [net.switch]
        procs = list(net.procs)
    assert not set(names) & set(netns_names()), "namespaces left behind"
    assert all(p.poll() is not None for p in procs), "processes left running"


def test_teardown_after_a_failure_inside_the_block() -> None:
    with pytest.raises(RuntimeError), Network(2) as net:
        names = [h.ns for h in net.hosts] + [net.switch]
        p = net.spawn(1, ["sleep", "60"])
        raise RuntimeError("a failing test")
    assert not set(names) & set(netns_names())
    assert p.poll() is not None


def test_bad_groups_are_refused() -> None:
    with Network(2) as net, pytest.raises(ValueError, match="distinct hosts"):
        net.partition([[0], [0, 1]])
