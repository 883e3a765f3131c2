"""L4 adapter: keep the cluster's desired state equal to a directory of manifests (GitOps).

The watcher is a pure-ish core with thin I/O around it:

- :mod:`.snapshot`  reads the directory (``*.yaml``/``*.yml``, recursive, hidden and editor
  temporary files skipped) and digests it into a revision;
- :mod:`.debounce`  quiet period + maximum wait, on an injected clock (pure);
- :mod:`.backoff`   exponential backoff for a revision that keeps failing (pure);
- :mod:`.loader`    validates through the models' load path (the one ``hactl validate`` and
  ``hactl apply`` use) and turns the manifests into :class:`.objects.DesiredObject` values;
- :mod:`.plan`      desired objects + live objects + inventory -> what to create, configure,
  leave, prune (pure);
- :mod:`.applier`   the :class:`.applier.Applier` port and its implementation over the store:
  one transaction per reconcile, resourceVersion (mod revision) checks, the inventory,
  the status record and an event in the same transaction;
- :mod:`.reconcile` one reconcile pass; :mod:`.watcher` the async loop
  (:func:`.watcher.run_watcher`) that ``hactl sync`` and ``hacd`` run.

Store key layout (documented in docs/gitops.md) lives in :mod:`.keys`.
"""
