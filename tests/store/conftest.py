"""Store clusters for the contract suite: a real 3-member etcd and a 3-member builtin store.

Both are started once per session with ``hactl store up`` (real OS processes on
127.0.0.1, ports 23100-23299) and stopped at the end.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from storekit import Store, hactl, start_store


@pytest.fixture(scope="session", params=["etcd", "builtin"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    backend = request.param
    if backend == "etcd" and shutil.which("etcd") is None:
        pytest.skip("Debian's etcd-server is not installed (`etcd` not on PATH)")
    directory = tmp_path_factory.mktemp(f"store-{backend}")
    s = start_store(backend, directory)
    yield s
    for ch in s.channels:
        ch.close()
    hactl("store", "down", "--dir", str(directory), "--grace", "1")
