"""Carrying out a fencing plan: level by level through a healthy node's agent, every
attempt recorded in the fencing history.

The coordinator hands over a :class:`~reconciler.controller.fence_plan.FencePlan`
and the node that runs the fence actions (never the target). Within a level
the devices run one after the other and all must succeed; the first level
that succeeds ends the fencing. Each attempt carries the coordinator's
fencing token (a deposed coordinator's attempt is refused by the agent) and
is written to ``/hactl-fencing-history/<node>/`` guarded by the election key;
a success also writes ``/hactl/fencing/<node>`` and forgets the node's
observed state and liveness, which lets the planner recover its resources.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from reconciler.controller.dispatch import Action, Outcome
from reconciler.controller.fence_plan import Attempt, FencePlan
from reconciler.daemon import keys
from reconciler.statestore.etcd import Cmp, Delete, Kv, Put

log = logging.getLogger("hacd.fencing")

Execute = Callable[[str, Action, float], Awaitable[Outcome]]
OUTPUT_TAIL = 500
HISTORY_KEEP = 100  # records kept per node (the oldest go first)


@dataclass(frozen=True, slots=True)
class FenceResult:
    target: str
    ok: bool
    device: str = ""  # the device (or devices, comma separated) of the level that succeeded
    failed: tuple[str, ...] = ()  # devices whose attempt failed, in order
    deposed: bool = False


class HistorySeq:
    """Strictly increasing history sequence numbers (milliseconds, bumped on collision)."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last = max(self.last + 1, int(time.time() * 1000))
        return self.last


def attempt_record(
    a: Attempt, executor: str, o: Outcome, token: int, *, action: str, at: float
) -> dict[str, object]:
    ok = o.rc == 0 and o.op_status == 0 and not o.refused
    if o.op_status == 2:
        reason = f"timed out after {a.timeout_ms / 1000:g}s"
    else:
        reason = o.reason or ("" if ok else f"rc {o.rc}")
    return {
        "at": at,
        "by": executor,
        "device": a.device,
        "agent": a.agent,
        "level": a.level,
        "action": action,
        "rc": o.rc,
        "ok": ok,
        "reason": reason,
        "output": o.output[-OUTPUT_TAIL:],
        "duration": round(o.duration_s, 3),
        "delay": a.delay_s,
        "token": token,
        "kind": "attempt",
    }


async def run_plan(
    kv: Kv,
    execute: Execute,
    plan: FencePlan,
    *,
    executor: str,
    address: str,
    token: int,
    coordinator: str,
    seq: HistorySeq,
    action: str | None = None,
    cause: str = "",
) -> FenceResult:
    """Run the plan (:func:`attempt_plan`), then trim the node's history to its newest records."""
    res = await attempt_plan(
        kv,
        execute,
        plan,
        executor=executor,
        address=address,
        token=token,
        coordinator=coordinator,
        seq=seq,
        action=action,
        cause=cause,
    )
    if not res.deposed:
        entries, _ = await kv.range(f"{keys.FENCING_HISTORY}{plan.target}/")
        old = sorted(e.key for e in entries)[:-HISTORY_KEEP]
        if old:
            await _write(kv, token, [Delete(k) for k in old])
    return res


async def attempt_plan(
    kv: Kv,
    execute: Execute,
    plan: FencePlan,
    *,
    executor: str,
    address: str,
    token: int,
    coordinator: str,
    seq: HistorySeq,
    action: str | None = None,
    cause: str = "",
) -> FenceResult:
    """Try the plan's levels in order; record every attempt; stop at the first success.

    Each attempt runs its own action (``off`` or ``reboot``; ``action`` overrides them
    all). A level of several devices that reboots turns them all off, then on again
    (``plan.power_on``): a failed "on" is recorded but the node is fenced all the same.
    ``cause`` (why the node is fenced, when known) is recorded in every record."""
    failed: list[str] = []
    why = {"cause": cause} if cause else {}

    async def attempt(a: Attempt) -> dict[str, object] | None:
        """Run and record one attempt; None when this coordinator was deposed."""
        op = action or a.action
        act = Action(
            token=token,
            action_id=f"fence_{plan.target}_{a.level}_{a.device}_{op}",
            resource="",
            operation=op,
            agent=a.agent,
            timeout_ms=a.timeout_ms,
            params=dict(a.params),
            target=plan.target,
            coordinator=coordinator,
        )
        log.info(
            "fencing %s: level %d device %s %s via %s",
            plan.target, a.level, a.device, op, executor,
        )  # fmt: skip
        started = time.time()
        try:
            o = await execute(address, act, a.timeout_ms / 1000 + a.delay_s + 10)
        except Exception as e:  # the executing node went away mid-attempt
            o = Outcome(rc=1, op_status=4, reason=f"{executor} did not answer: {e}")
        if o.refused and "stale fencing token" in o.reason:
            return None
        rec = attempt_record(a, executor, o, token, action=op, at=started) | why
        if not await _write(kv, token, [_history(plan.target, seq, rec)]):
            return None
        return rec

    for i, level in enumerate(plan.levels):
        level_ok = True
        for a in level:
            rec = await attempt(a)
            if rec is None:
                return FenceResult(plan.target, False, deposed=True)
            if not rec["ok"]:
                failed.append(a.device)
                level_ok = False
                break  # the level has failed: the next level is tried
        if level_ok and level and action is None and i < len(plan.power_on):
            for a in plan.power_on[i]:  # every device has the node off: power it on again
                if await attempt(a) is None:
                    return FenceResult(plan.target, False, deposed=True)
        if level_ok and level:
            devices = ",".join(a.device for a in level)
            done = {
                "at": time.time(),
                "by": executor,
                "device": devices,
                "level": level[0].level,
                "rc": 0,
                "ok": True,
                "reason": "fenced",
                "kind": "result",
                "token": token,
                "action": action or plan.action(level[0].level),
                **why,
            }
            ops: list[Put | Delete] = [
                _history(plan.target, seq, done),
                Put(keys.fencing(plan.target), json.dumps(done).encode()),
                Delete(keys.observed_node(plan.target), prefix=True),
                Delete(keys.live(plan.target)),
                Delete(keys.node_attribute(plan.target, "fence-requested")),
            ]
            if not await _write(kv, token, ops):
                return FenceResult(plan.target, False, deposed=True)
            log.info("fenced %s via %s (%s)", plan.target, executor, devices)
            return FenceResult(plan.target, True, device=devices, failed=tuple(failed))
    reason = (
        f"every device failed ({', '.join(failed)})"
        if failed
        else "no FencingDevice can fence it"
        + (f" ({'; '.join(plan.problems)})" if plan.problems else "")
    )
    summary = {
        "at": time.time(),
        "by": executor,
        "device": ",".join(failed) or "none",
        "rc": 1,
        "ok": False,
        "reason": reason,
        "kind": "result",
        "token": token,
        **why,
    }
    if not await _write(kv, token, [_history(plan.target, seq, summary)]):
        return FenceResult(plan.target, False, deposed=True)
    return FenceResult(plan.target, False, failed=tuple(failed))


def _history(target: str, seq: HistorySeq, rec: dict[str, object]) -> Put:
    return Put(keys.fencing_history(target, seq.next()), json.dumps(rec, sort_keys=True).encode())


async def _write(kv: Kv, token: int, ops: list[Put | Delete]) -> bool:
    done, _ = await kv.txn([Cmp(keys.ELECTION, "create", "==", token)], ops)
    return bool(done)
