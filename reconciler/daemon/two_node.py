"""The two-node guard: Corosync's two_node + wait_for_all for a cluster of two store voters.

Runs inside hacd beside the node's builtin store member when ``twoNode:`` is configured.
Two voters cannot commit once one is gone, so by itself such a cluster stops at the first
loss. The guard turns a loss into exactly one survivor:

1. **wait_for_all / armed.** The guard acts only once it has seen, in this run of the
   process, the pair working with this node as a voter: it led the current term, or it
   voted for the peer's leadership and holds a committed entry of that term. Then this
   node's configuration is the cluster's and its log holds every committed entry (the
   precondition of ``raft.force``). A node restarted alone waits for its peer, as
   Corosync's wait_for_all does (``twoNode.waitForAll: false`` is the operator's override).
2. **Loss.** No store leader (Raft already waited its election timeout) for
   ``lossTimeout`` more seconds.
3. **Fence, with the delay.** The peer is fenced through the cluster's FencingDevices as
   last applied here (else the node configuration's agent), level by level, run by this
   node's own runner; before that the guard waits ``fenceDelay[peer]`` (and each device's
   own delay applies). In a real split the node whose fencing is delayed is shot by the
   other before its own delay is over: one survivor.
4. **Force, only after a success.** ``raft.force.force_config`` with the fence proof: this
   member becomes the only voter and leads; then the fencing is recorded in the store
   (history, ``/hactl/fencing/<peer>``, the peer's observed state and liveness dropped),
   so the coordinator recovers the peer's resources at once. A failed fencing moves
   nothing: the guard retries with a growing back-off and says why (log and
   ``<stateDir>/<node>/two-node.json``).
5. **Rejoin.** Alone, the survivor re-adds the peer under its old member id as a learner;
   the fenced node, back with its old data, cannot win an election (its log is behind the
   forced term) and takes the survivor's log. Once caught up and heard from it is
   promoted to voter, and leadership is handed to it once, so that both nodes are armed
   again: the pair is two_node again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from reconciler.base.errors import HactlError, StoreError
from reconciler.controller import fence_plan
from reconciler.controller.dispatch import Action, Outcome
from reconciler.daemon import keys
from reconciler.daemon.store_peers import PeerInfo
from reconciler.daemon.store_raft import RaftEngine
from reconciler.kv.types import RangeRequest
from reconciler.raft.force import FenceProof, ForceRefused, force_config
from reconciler.raft.node import RaftNode
from reconciler.raft.types import ConfChange, ConfChangeType, StateType
from reconciler.statestore.etcd import Delete, Kv, Put, prefix_end

log = logging.getLogger("hacd.two_node")

POLL_S = 0.1
MAX_BACKOFF_S = 10.0


class Runner(Protocol):
    async def run(self, action: Action) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class FenceOutcome:
    ok: bool
    device: str = ""  # the devices of the level that succeeded
    reason: str = ""


def arms(node: RaftNode, peer: int) -> bool:
    """Whether ``node`` now sees the pair working with itself as a voter (see "armed").

    True when both are voters in its configuration and it leads the current term, or it
    follows ``peer``, voted for it in this term and holds a committed entry of this term
    (the leader's first entry: committed with this node's acknowledgement, so its log
    holds everything committed before). A leader elected alone (after a force) that
    promoted the peer since is armed too: the current leader holds every committed entry.
    """
    st = node.status()
    if set(st.conf_state.voters) != {node.id, peer}:
        return False
    if st.role == StateType.LEADER:
        return True
    return st.lead == peer and st.vote == peer and node.log.zero_term(st.commit) == st.term


class TwoNodeGuard:
    def __init__(
        self,
        engine: RaftEngine,
        *,
        node: str,
        peer: str,
        runner: Runner,
        kv: Kv,
        fence_agent: str,
        fence_params: Mapping[str, str],
        fence_delay: float,
        loss_timeout: float,
        wait_for_all: bool = True,
        status_file: Path | None = None,
        confirm_file: Path | None = None,
    ) -> None:
        self.engine = engine
        self.node = node
        self.peer = peer
        self.runner = runner
        self.kv = kv
        self.fence_agent = fence_agent
        self.fence_params = dict(fence_params)
        self.fence_delay = fence_delay
        self.loss_timeout = loss_timeout
        self.armed = not wait_for_all
        self.status_file = status_file
        # an operator's "the peer is off" (``hactl cluster two-node-confirm``): honoured only
        # while a fencing is failing; one left from before this run is void
        self.confirm_file = confirm_file
        self._void_confirmation()
        self.me = engine.member.member_id
        info = next((p for p in engine.peers.values() if p.name == peer), None)
        if info is None:
            raise HactlError(f"two-node: the store does not know the peer {peer!r}")
        self.peer_info: PeerInfo = info
        self.pid = info.id
        self.state = ""
        self.reason = ""
        self.fenced = 0  # successful fencings by this guard (tests, status)
        self._handoff = False
        self._rng = random.Random()
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ status
    def _set(self, state: str, reason: str = "") -> None:
        if (state, reason) == (self.state, self.reason):
            return
        self.state, self.reason = state, reason
        (log.warning if reason else log.info)(
            "two-node: %s%s", state, f": {reason}" if reason else ""
        )
        if self.status_file is not None:
            doc = {"state": state, "reason": reason, "peer": self.peer, "since": time.time()}
            with contextlib.suppress(OSError):
                tmp = self.status_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(doc) + "\n")
                tmp.replace(self.status_file)

    # ------------------------------------------------------------------ the loop
    async def run(self) -> None:
        """The guard's loop; an unexpected error is logged and the loop goes on."""
        while True:
            try:
                await self._run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("two-node guard: unexpected error; starting over")
                await asyncio.sleep(1.0)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        lost_since: float | None = None
        while True:
            await asyncio.sleep(POLL_S)
            st = self.engine.node.status()
            voters = set(st.conf_state.voters)
            if voters == {self.me}:
                lost_since = None
                await self._alone(st.conf_state.learners)
                continue
            if voters != {self.me, self.pid}:
                lost_since = None
                self._set("not a voter of the pair (rejoining)")
                continue
            self._arm()
            if st.lead != 0:
                lost_since = None
                self._set("pair" if self.armed else "pair (not armed yet)")
                if self._handoff and st.role == StateType.LEADER:
                    await self._hand_off()
                continue
            if not self.armed:
                self._set(
                    "waiting for the peer",
                    f"wait_for_all: {self.peer} has not been seen since this node started",
                )
                continue
            now = loop.time()
            if lost_since is None:
                lost_since = now
            if now - lost_since < self.loss_timeout:
                continue
            try:
                await self._fence_and_force()
            finally:
                self._void_confirmation()  # a confirmation is for this loss only
            lost_since = None

    async def leave(self) -> None:
        """A clean stop: take this member out of the pair (an ordinary membership change,
        committed by both), so the peer goes on alone without fencing this node. When the
        node starts again it is not a voter; the peer re-adds it as for a fenced node."""
        st = self.engine.node.status()
        if set(st.conf_state.voters) != {self.me, self.pid} or st.lead == 0:
            return
        try:
            await asyncio.wait_for(self.engine.member_remove(self.me), 5)
            log.info("two-node: left the pair cleanly; %s goes on alone", self.peer)
        except (HactlError, TimeoutError) as e:
            log.warning(
                "two-node: could not leave the pair (%s); %s may fence this node", e, self.peer
            )

    def _arm(self) -> None:
        if not self.armed and arms(self.engine.node, self.pid):
            self.armed = True
            log.info("two-node: armed (the pair works with this node as a voter)")

    # ------------------------------------------------------------------ loss
    async def _fence_and_force(self) -> None:
        if self.fence_delay > 0:
            self._set("peer lost", f"fencing {self.peer} after a {self.fence_delay:g} s delay")
            await asyncio.sleep(self.fence_delay)
        backoff = 1.0
        while True:
            if self.engine.node.status().lead != 0:
                self._set("pair", "")
                return  # the peer answered meanwhile: nothing was fenced, nothing moves
            self._set("fencing", f"{self.peer} is lost")
            res = await self.fence()
            if res.ok:
                break
            self._set(
                "fencing failed",
                f"{self.peer} is not fenced ({res.reason}); nothing moves; retry in {backoff:g} s",
            )
            res = await self._wait_confirm(backoff)
            if res.ok:
                break
            backoff = min(MAX_BACKOFF_S, backoff * 2)
        proof = FenceProof((self.pid,), by=self.node, device=res.device, at=time.time())
        for _ in range(50):  # the peer is off: retry while the core refuses (a snapshot lands)
            try:
                force_config(self.engine.node, proof)
                break
            except ForceRefused as e:
                self._set("fenced, not forced yet", str(e))
                await asyncio.sleep(0.2)
        else:
            return  # still refused: the loop looks again (and fences again if still lost)
        self.engine._wake.set()
        self.fenced += 1
        self._set("alone", f"{self.peer} fenced via {res.device}; this node continues alone")
        task = asyncio.get_running_loop().create_task(self._record(res))
        self._tasks.add(task)  # a reference, or the loop may drop it half-way
        task.add_done_callback(self._tasks.discard)

    def _void_confirmation(self) -> None:
        if self.confirm_file is not None:
            with contextlib.suppress(OSError):
                self.confirm_file.unlink()

    async def _wait_confirm(self, seconds: float) -> FenceOutcome:
        """Sleep ``seconds`` before the next attempt, unless an operator confirms first."""
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            if self._confirmed():
                return FenceOutcome(True, device="manual")
            await asyncio.sleep(POLL_S)
        return FenceOutcome(False)

    def _confirmed(self) -> bool:
        """The operator confirmed the peer is off (consumed once)."""
        if self.confirm_file is None:
            return False
        try:
            named = self.confirm_file.read_text().strip()
            self.confirm_file.unlink()
        except OSError:
            return False
        if named != self.peer:
            log.error("two-node: ignoring a confirmation for %r (the peer is %s)", named, self.peer)
            return False
        log.warning("two-node: an operator confirmed %s is off", self.peer)
        return True

    def _devices(self) -> tuple[list[fence_plan.Device], list[fence_plan.Topology]]:
        """FencingDevices and topologies as last applied by this member (the store has no
        quorum now: the local state is a committed prefix)."""
        kv = self.engine.member.kv

        def docs(kind: str) -> list[dict[str, Any]]:
            start = keys.desired_kind(kind).encode()
            resp = kv.range(RangeRequest(key=start, range_end=prefix_end(start)))
            out = []
            for item in sorted(resp.kvs, key=lambda k: k.key):
                with contextlib.suppress(ValueError):
                    out.append(dict(json.loads(item.value)))
            return out

        devices = []
        for d in docs("FencingDevice"):
            with contextlib.suppress(Exception):
                devices.append(fence_plan.device_from_doc(d))
        topologies = []
        for d in docs("FencingTopology"):
            with contextlib.suppress(Exception):
                topologies.append(fence_plan.topology_from_doc(d))
        if not devices and self.fence_agent:
            devices = [fence_plan.config_device(self.fence_agent, self.fence_params)]
        return devices, topologies

    async def fence(self) -> FenceOutcome:
        """Fence the peer with this node's runner: levels in order, all devices of a level."""
        devices, topologies = self._devices()
        plan = fence_plan.plan_fencing(self.peer, devices, topologies, {}, rng=self._rng)
        if not plan.levels:
            why = "; ".join(plan.problems) or "no fence device can fence it"
            return FenceOutcome(False, reason=why)
        failed = []
        for level in plan.levels:
            ok = True
            for a in level:
                act = Action(
                    token=0,
                    action_id=f"fence_{self.peer}_{a.level}_{a.device}",
                    resource="",
                    operation="off",
                    agent=a.agent,
                    timeout_ms=a.timeout_ms,
                    params=dict(a.params),
                    target=self.peer,
                    coordinator=self.node,
                )
                log.info("two-node: fencing %s: level %d device %s", self.peer, a.level, a.device)
                try:
                    o = await self.runner.run(act)
                except Exception as e:
                    o = Outcome(rc=1, op_status=4, reason=str(e))
                if o.rc != 0 or o.op_status != 0 or o.refused:
                    failed.append(f"{a.device}: {_why(o)}")
                    ok = False
                    break
            if ok:
                return FenceOutcome(True, device=",".join(a.device for a in level))
        return FenceOutcome(False, reason="; ".join(failed))

    async def _record(self, res: FenceOutcome) -> None:
        """Write the fencing into the store once this member leads alone."""
        rec = {
            "at": time.time(),
            "by": "human" if res.device == "manual" else self.node,
            "device": res.device,
            "rc": 0,
            "ok": True,
            "reason": "confirmed by an operator (two-node)"
            if res.device == "manual"
            else "fenced by the two-node guard (peer lost)",
            "kind": "result",
            "action": "off",
        }
        body = json.dumps(rec).encode()
        for _ in range(60):
            try:
                live = await self.kv.get(keys.live(self.peer))
                if live is not None and live.lease:
                    with contextlib.suppress(StoreError):
                        await self.kv.revoke(live.lease)  # also frees its election key
                await self.kv.txn(
                    [],
                    [
                        Put(keys.fencing_history(self.peer, int(time.time() * 1000)), body),
                        Put(keys.fencing(self.peer), body),
                        Delete(keys.observed_node(self.peer), prefix=True),
                        Delete(keys.live(self.peer)),
                        Delete(keys.node_attribute(self.peer, "fence-requested")),
                    ],
                )
                return
            except (StoreError, TimeoutError) as e:
                log.warning("two-node: cannot record the fencing yet: %s", e)
                await asyncio.sleep(0.5)
            except Exception:
                log.exception("two-node: recording the fencing failed")
                return

    # ------------------------------------------------------------------ alone, rejoin
    async def _alone(self, learners: tuple[int, ...]) -> None:
        self._set("alone", self.reason if self.state == "alone" else "")
        st = self.engine.node.status()
        if st.role != StateType.LEADER:
            return
        try:
            if self.pid not in learners:
                cc = ConfChange(ConfChangeType.ADD_LEARNER, self.pid, self.peer_info.encode())
                await self.engine._conf_change(cc)
                log.info("two-node: %s re-added as a learner", self.peer)
                return
            pr = next((p for p in st.progress if p.id == self.pid), None)
            if pr is None or not pr.recent_active or pr.match < self.engine.node.log.last_index():
                return
            await self.engine.member_promote(self.pid)
            self._handoff = True
            log.info("two-node: %s caught up and promoted to voter", self.peer)
        except (HactlError, TimeoutError) as e:
            log.debug("two-node: rejoin step not done yet: %s", e)
            await asyncio.sleep(0.5)

    async def _hand_off(self) -> None:
        """Let the peer win an election with our vote: then both nodes are armed."""
        st = self.engine.node.status()
        pr = next((p for p in st.progress if p.id == self.pid), None)
        if pr is None or not pr.recent_active or pr.match < self.engine.node.log.last_index():
            return
        try:
            await self.engine.move_leader(self.pid)
            self._handoff = False
            log.info("two-node: leadership handed to %s; the pair is two_node again", self.peer)
        except (HactlError, TimeoutError) as e:
            log.debug("two-node: hand-off not done yet: %s", e)


def _why(o: Outcome) -> str:
    """A failed attempt in one line: the reason, else the exit code and the agent's last
    line of output."""
    if o.reason:
        return o.reason
    lines = [ln.strip() for ln in o.output.splitlines() if ln.strip()]
    return f"rc {o.rc}" + (f": {lines[-1][:160]}" if lines else "")
