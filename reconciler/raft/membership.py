"""Single-server membership changes: validating a proposed change, applying a committed one."""

from __future__ import annotations

from reconciler.raft.progress import Progress, ProgressTracker
from reconciler.raft.types import ConfChange, ConfChangeType


def check_conf_change(tracker: ProgressTracker, cc: ConfChange) -> str | None:
    """Why the leader refuses ``cc`` (None: acceptable)."""
    if cc.node_id <= 0:
        return f"invalid member id {cc.node_id}"
    if cc.type == ConfChangeType.REMOVE_NODE:
        if cc.node_id not in tracker.progress:
            return f"member {cc.node_id} is not in the configuration"
        if tracker.voters == {cc.node_id}:
            return "cannot remove the last voter"
    elif cc.type == ConfChangeType.ADD_LEARNER:
        if cc.node_id in tracker.voters:
            return f"member {cc.node_id} is a voter; demotion is not supported"
    elif cc.node_id in tracker.voters:
        is_w = cc.node_id in tracker.witnesses
        if is_w != (cc.type == ConfChangeType.ADD_WITNESS):
            return f"member {cc.node_id} is already a voter of another kind"
    return None


def apply_conf_change(tracker: ProgressTracker, cc: ConfChange, next_index: int, now: int) -> None:
    """Apply a committed change to ``tracker`` (idempotent: re-applying is harmless)."""
    nid = cc.node_id
    if cc.type == ConfChangeType.REMOVE_NODE:
        tracker.voters.discard(nid)
        tracker.learners.discard(nid)
        tracker.witnesses.discard(nid)
        tracker.progress.pop(nid, None)
        return
    if cc.type == ConfChangeType.ADD_LEARNER:
        if nid in tracker.voters:
            return
        tracker.learners.add(nid)
    else:
        tracker.learners.discard(nid)
        tracker.voters.add(nid)
        if cc.type == ConfChangeType.ADD_WITNESS:
            tracker.witnesses.add(nid)
    pr = tracker.progress.get(nid)
    if pr is None:
        pr = Progress(next_index, 0, tracker.max_inflight, nid in tracker.learners)
        pr.last_active = now  # a new member counts as heard from for one election timeout
        tracker.progress[nid] = pr
    else:
        pr.is_learner = nid in tracker.learners
