"""Forcing a smaller configuration after fencing: the survivor of a two-voter cluster.

Two voters cannot commit once one of them is gone. When the other voters have been
*fenced* — powered off by a fence device, so they can neither write nor answer — the
survivor may rewrite its configuration to itself alone, as etcd's ``--force-new-cluster``
does by hand. :func:`force_config` does it inside the core, and only when handed a
:class:`FenceProof` naming every other voter.

Why this keeps Raft's guarantees (the shell must also meet the two conditions below):

* **No entry committed so far is lost.** With voters {A, B}, every commit needed both
  acknowledgements, so every committed entry is in the survivor's log — provided the
  survivor's configuration *is* the cluster's current one. The shell guarantees that by
  forcing only after it saw, in this run of the process, the pair working with itself as
  a voter: it led the current term, or it voted for the leader and holds a committed
  entry of the leader's term (see ``daemon/two_node.py``, "armed").
* **No second writer.** The fenced voters are off. A fenced voter that comes back still
  believes in the old configuration, in which it needs the survivor's vote; the survivor
  never grants it: the forced entries carry a term above any term the fenced voter can have
  appended entries in (it could lead a term only with the survivor's vote, so the
  survivor's term is at least that), which makes the survivor's log strictly more up to
  date. Entries the fenced voter holds beyond the survivor's log were never committed (they
  lacked the survivor's acknowledgement) and are overwritten when it rejoins.

The forced change is a ``REMOVE_NODE`` per fenced voter, appended at a new term, applied to
the configuration at once (not on commit: there is no quorum to commit it otherwise), and
followed by the survivor becoming leader of that term; as the only voter it commits the
whole log. The proof travels in each entry's context, so the log records why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from reconciler.base.errors import HactlError
from reconciler.raft.membership import apply_conf_change
from reconciler.raft.node import RaftNode
from reconciler.raft.types import NONE, ConfChange, ConfChangeType, Entry, EntryType, StateType


class ForceRefused(HactlError):
    """A forced configuration change was asked for without a valid fence proof."""


@dataclass(frozen=True, slots=True)
class FenceProof:
    """A fence device's success: these member ids are powered off.

    Made by the shell from a fencing result (the core cannot check a device; it checks
    that the proof is there and names exactly the voters that would be dropped)."""

    fenced: tuple[int, ...]
    by: str  # the node whose agent ran the device
    device: str  # the device(s) of the level that succeeded
    at: float = 0.0  # wall-clock seconds, as recorded by the shell

    def encode(self) -> bytes:
        return json.dumps(
            {"fenced": list(self.fenced), "by": self.by, "device": self.device, "at": self.at},
            sort_keys=True,
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> FenceProof:
        d = json.loads(data)
        return cls(tuple(int(x) for x in d["fenced"]), str(d["by"]), str(d["device"]), d["at"])


def check_force(node: RaftNode, proof: FenceProof | None) -> str | None:
    """Why ``node`` may not force ``proof`` (None: it may)."""
    if not isinstance(proof, FenceProof):
        return "no fence proof: a configuration is forced only after a successful fencing"
    voters = set(node.tracker.voters)
    if node.id not in voters:
        return f"member {node.id:x} is not a voter"
    others = voters - {node.id}
    if not others:
        return "already the only voter"
    fenced = set(proof.fenced)
    if node.id in fenced:
        return "the proof names this member as fenced"
    missing = sorted(others - fenced)
    if missing:
        return "voters not fenced: " + ", ".join(f"{i:x}" for i in missing)
    strangers = sorted(fenced - others)
    if strangers:
        return "the proof names members that are not voters: " + ", ".join(
            f"{i:x}" for i in strangers
        )
    if not proof.device:
        return "the proof names no fence device"
    if node.log.unstable.snapshot is not None:
        return "a snapshot is being installed"
    return None


def force_config(node: RaftNode, proof: FenceProof | None) -> int:
    """Drop the fenced voters and lead alone; returns the index of the last forced entry.

    Raises :class:`ForceRefused` (and changes nothing) unless ``proof`` names every other
    voter. Afterwards the node is leader of a new term and, as the only voter, commits its
    whole log with the next ``ready()``/``advance()``.
    """
    why = check_force(node, proof)
    if why is not None:
        raise ForceRefused(f"refusing to force the configuration: {why}")
    assert proof is not None
    if node.role == StateType.LEADER:
        node._become_follower(node.term, NONE)
    node._become_candidate()  # a new term, our own vote
    term = node.term
    last = node.log.last_index()
    changes = [
        ConfChange(ConfChangeType.REMOVE_NODE, nid, proof.encode()) for nid in sorted(proof.fenced)
    ]
    ents = [
        Entry(term=term, index=last + 1 + i, type=EntryType.CONF_CHANGE, data=cc.encode())
        for i, cc in enumerate(changes)
    ]
    node.log.append(ents)
    for cc in changes:
        apply_conf_change(node.tracker, cc, node.log.last_index() + 1, node.ticks)
    node.tracker.record_vote(node.id, True)
    node._become_leader()  # appends an empty entry of the term; a quorum of one commits it
    return ents[-1].index
