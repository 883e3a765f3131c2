"""Fault tests run real processes in network namespaces: they need root and ``ip netns``.

Every test module here skips, with the reason, when namespaces cannot be made (not root,
no iproute2, no veth/bridge support in the kernel or container).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

_reason: list[str | None] = []


def _netns_reason() -> str | None:
    if not _reason:
        from reconciler.testing.netns import available

        _reason.append(available())
    return _reason[0]


@pytest.fixture(autouse=True)
def _needs_netns() -> None:
    reason = _netns_reason()
    if reason is not None:
        pytest.skip(reason)
