"""L2 pure: the Raft consensus core (etcd raft's design: Step / Tick / Ready / Advance).

No sockets, files, threads, clocks or global randomness: the shell feeds inputs and
performs the effects the core returns. Public API (stable; changes are noted below)::

    from reconciler.raft import (RaftNode, Config, MemoryStorage, Message, MsgType, Entry,
        EntryType, ConfChange, ConfChangeType, ConfState, HardState, Snapshot, SnapshotMeta,
        Ready, ReadState, SoftState, StateType, ProposalDropped, NONE)

    storage = MemoryStorage()              # rebuilt from reconciler.persist at start
    node = RaftNode(Config(id=1), storage, random.Random(seed))
    node.bootstrap([ConfChange(ConfChangeType.ADD_VOTER, i) for i in (1, 2, 3)])
                                           # founding members only, on an empty log;
                                           # a joining member starts empty, no bootstrap
    node.tick()                            # every tick (e.g. 100 ms; election = 10 ticks)
    node.step(msg)                         # a Message received from a peer
    node.propose(data)                     # opaque bytes; raises ProposalDropped (no
                                           # leader / transfer in progress): retry
    node.propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4, context=b"..."))
                                           # ADD_VOTER promotes a learner; ADD_WITNESS;
                                           # REMOVE_NODE. One at a time; refused (raises
                                           # ProposalDropped) until the leader has committed
                                           # an entry of its own term.
    node.read_index(ctx)                   # linearizable read point -> Ready.read_states;
                                           # ctx must be unique across the cluster
    node.transfer_leader(to)               # leadership transfer (MsgTimeoutNow)
    node.campaign()                        # start an election now
    if node.has_ready():
        rd = node.ready()
        # 1. persist rd.snapshot, rd.entries, rd.hard_state (fsync once: group commit), and
        #    mirror them into storage: storage.apply_snapshot(rd.snapshot),
        #    storage.append(rd.entries), storage.set_hard_state(rd.hard_state)
        # 2. send rd.messages (ONLY after step 1)
        # 3. apply rd.snapshot (restore the state machine) then rd.committed_entries;
        #    an entry of type CONF_CHANGE carries ConfChange.encode() (decode with
        #    ConfChange.decode; the core applies it to its configuration in advance());
        #    empty NORMAL entries (data == b"") are the leader's no-ops: skip them;
        #    serve rd.read_states once applied >= read_state.index
        # 4. node.advance(rd)
        # The node may be stepped/ticked/proposed to between ready() and advance() (e.g.
        # while the fsync runs in a thread): whatever happens meanwhile comes in the next
        # Ready. If persisting fails (NoSpace), do not send or apply; ready() again offers
        # the same entries and hard state (messages are handed out once: Raft resends).
    node.status()                          # term, vote, commit, applied, lead, role,
                                           # conf_state, progress (leader), lead_transferee
    node.conf_state(), node.is_witness(id) # membership as of the applied index

    # log compaction, by the application, after applying up to `index`:
    snap = storage.create_snapshot(index, node.conf_state(), data); storage.compact(index)
    # (persist the snapshot first: reconciler.persist.Snapshotter)

Proposals carry no index back: put a request id into ``data`` and match it when the
entry is applied (etcd's way). Message fields follow etcd's raftpb; ``frm`` is ``From``.
MsgSnap carries one chunk (``snap_offset``/``snap_total``/``snap_data``) plus the
snapshot's ``SnapshotMeta``; the follower acknowledges each chunk with MsgSnapResp.
Node ids are positive ints (0 is NONE).

API changes:
- Config.snapshot_window (chunks in flight per follower, default 4) added; a snapshot
  transfer keeps sending the snapshot it started with even if a newer one is made.
- check-quorum is evaluated every tick (a leader steps down within one election timeout).
- Config.max_uncommitted_bytes (default 64 MiB): a leader whose proposals are not being
  applied refuses more with ProposalDropped("too many uncommitted entries ...").
"""

from reconciler.raft.errors import (
    LogCompacted,
    LogUnavailable,
    ProposalDropped,
    SnapshotOutOfDate,
    SnapshotTemporarilyUnavailable,
)
from reconciler.raft.node import ProgressView, RaftNode, Status
from reconciler.raft.storage import MemoryStorage, Storage
from reconciler.raft.types import (
    NONE,
    ConfChange,
    ConfChangeType,
    Config,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MsgType,
    ReadState,
    Ready,
    Snapshot,
    SnapshotMeta,
    SoftState,
    StateType,
)

__all__ = [
    "NONE",
    "ConfChange",
    "ConfChangeType",
    "ConfState",
    "Config",
    "Entry",
    "EntryType",
    "HardState",
    "LogCompacted",
    "LogUnavailable",
    "MemoryStorage",
    "Message",
    "MsgType",
    "ProgressView",
    "ProposalDropped",
    "RaftNode",
    "ReadState",
    "Ready",
    "Snapshot",
    "SnapshotMeta",
    "SnapshotOutOfDate",
    "SnapshotTemporarilyUnavailable",
    "SoftState",
    "StateType",
    "Status",
    "Storage",
]
