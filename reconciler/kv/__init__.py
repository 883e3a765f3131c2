"""L2 pure: the key/value state machine with etcd v3 semantics.

* :class:`~reconciler.kv.store.KVStore` -- revisions, Range/Put/DeleteRange/Txn/Compact,
  the replicated half of leases; ``apply(command) -> Applied(response, error, events)``.
* :class:`~reconciler.kv.lessor.Lessor` -- the leader-local lease deadlines.
* :mod:`~reconciler.kv.watch` -- which events a watcher sees.
* :mod:`~reconciler.kv.snapshot` -- a checksummed image of the whole store.
* :mod:`~reconciler.kv.errors` -- etcd's errors, same code and text.
"""
