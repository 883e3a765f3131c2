"""A store client run inside a test namespace (``ip netns exec NS python kvclient.py ...``).

``run``: until the stop file appears (or ``--max-seconds``/``--max-ops``), do random
put / get / compare-and-swap on a few shared keys, and puts of unique keys under ``/u/``,
through one endpoint; every operation is appended to ``--out`` as JSON lines as it
happens: a write logs ``call`` before it is sent and ``ok`` or ``fail`` after, so a write
whose answer never came is known as sent (it may or may not have happened); a get is
logged once answered. Times are ``time.monotonic()``: one clock for every namespace.

``final``: one linearizable read of every shared key and a keys-only range of ``/u/``,
printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from aetcd.rpc import rpc_pb2 as R
from aetcd.rpc import rpc_pb2_grpc as G


def _value(r: Any) -> str | None:
    return r.kvs[0].value.decode() if r.kvs else None


def _cas(kv: Any, key: str, expected: str | None, value: str, timeout: float) -> bool:
    if expected is None:
        cmp = R.Compare(key=key.encode(), target=R.Compare.VERSION, result=R.Compare.EQUAL)
    else:
        cmp = R.Compare(
            key=key.encode(),
            target=R.Compare.VALUE,
            result=R.Compare.EQUAL,
            value=expected.encode(),
        )
    put = R.RequestOp(request_put=R.PutRequest(key=key.encode(), value=value.encode()))
    t = kv.Txn(R.TxnRequest(compare=[cmp], success=[put]), timeout=timeout)
    return bool(t.succeeded)


def run(a: argparse.Namespace) -> None:
    rng = random.Random(a.seed)
    keys = a.keys.split(",")
    out = Path(a.out).open("a", buffering=1)  # noqa: SIM115 (open for the whole run)
    stop = Path(a.stop_file)
    ch = grpc.insecure_channel(a.endpoint)
    kv = G.KVStub(ch)
    deadline = time.monotonic() + a.max_seconds
    n = 0

    def log(**rec: Any) -> None:
        out.write(json.dumps(rec) + "\n")

    while n < a.max_ops and time.monotonic() < deadline and not stop.exists():
        n += 1
        kind = rng.choices(["put", "get", "cas", "uput"], [3, 3, 2, 2])[0]
        key = f"/u/c{a.client}/{n}" if kind == "uput" else rng.choice(keys)
        value = f"c{a.client}-{n}"
        try:
            if kind == "get":
                call = time.monotonic()
                got = _value(kv.Range(R.RangeRequest(key=key.encode()), timeout=a.timeout))
                log(ev="get", id=n, key=key, t=call, r=time.monotonic(), out=got)
            else:
                expected = None
                if kind == "cas":
                    cur = kv.Range(R.RangeRequest(key=key.encode()), timeout=a.timeout)
                    expected = _value(cur)
                log(ev="call", id=n, kind=kind, key=key, value=value, expected=expected,
                    t=time.monotonic())  # fmt: skip
                if kind == "cas":
                    res: Any = _cas(kv, key, expected, value, a.timeout)
                else:
                    kv.Put(R.PutRequest(key=key.encode(), value=value.encode()), timeout=a.timeout)
                    res = None
                log(ev="ok", id=n, t=time.monotonic(), out=res)
        except grpc.RpcError as exc:
            log(ev="fail", id=n, t=time.monotonic(), err=str(exc.code()))
            time.sleep(0.1)
            continue
        time.sleep(a.pause)
    log(ev="end", t=time.monotonic(), ops=n)
    ch.close()


def final(a: argparse.Namespace) -> None:
    with grpc.insecure_channel(a.endpoint) as ch:
        kv = G.KVStub(ch)
        reads = []
        for key in a.keys.split(","):
            call = time.monotonic()
            got = _value(kv.Range(R.RangeRequest(key=key.encode()), timeout=a.timeout))
            reads.append({"key": key, "t": call, "r": time.monotonic(), "out": got})
        u = kv.Range(
            R.RangeRequest(key=b"/u/", range_end=b"/u0", keys_only=True), timeout=a.timeout
        )
        print(json.dumps({"reads": reads, "unique": sorted(k.key.decode() for k in u.kvs)}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["run", "final"])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--keys", default="k0,k1,k2")
    p.add_argument("--client", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="/dev/stdout")
    p.add_argument("--stop-file", default="/nonexistent")
    p.add_argument("--max-seconds", type=float, default=90.0)
    p.add_argument("--max-ops", type=int, default=4000)
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--pause", type=float, default=0.01)
    a = p.parse_args()
    (run if a.mode == "run" else final)(a)


if __name__ == "__main__":
    sys.exit(main())
