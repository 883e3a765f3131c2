"""L4: the store port — the one way everything above reads, writes and watches state.

``reconciler.statestore.etcd`` implements it once over etcd's v3 gRPC API
(``EtcdKv``: range, put, delete, txn with compares, watch, leases, keepalive),
whichever backend serves that API: the builtin store inside hacd or an etcd
cluster. Nothing above this port knows which one runs.
"""
