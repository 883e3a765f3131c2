"""Validate a snapshot through the models' load path and turn it into desired objects.

This runs exactly the functions ``hactl validate`` / ``hactl apply`` run
(:func:`reconciler.model.loader.load_paths` = decode -> parse each document ->
validate each document -> cross-object checks), but on the bytes of the snapshot,
so what is validated is exactly what the revision digests. Files are named by
their path relative to the watched directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pydantic

from reconciler.base.errors import Problem
from reconciler.base.limits import MAX_MANIFEST_DOCUMENTS
from reconciler.gitops.keys import ObjectKey
from reconciler.gitops.objects import DesiredObject, LiveObject
from reconciler.gitops.snapshot import Snapshot
from reconciler.model.base import Manifest
from reconciler.model.dump import to_data
from reconciler.model.kinds import KINDS
from reconciler.model.loader import check, parse_documents
from reconciler.model.manifestset import ManifestSet, Source
from reconciler.model.validation import validate_set
from reconciler.model.yamlsource import Document, decode, parse_text


def load_snapshot(snap: Snapshot) -> Sequence[DesiredObject]:
    """Every object of the snapshot, or :class:`ValidationError` with every problem."""
    return _objects(_valid_set(snap))


def _valid_set(snap: Snapshot) -> ManifestSet:
    documents: list[Document] = []
    problems: list[Problem] = []
    for f in snap.files:
        text, problem = decode(f.content, f.relpath)
        if problem is not None:
            problems.append(problem)
            continue
        assert text is not None
        docs, probs = parse_text(text, f.relpath)
        documents.extend(docs)
        problems.extend(probs)
    if len(documents) > MAX_MANIFEST_DOCUMENTS:
        problems.append(Problem(f"more than {MAX_MANIFEST_DOCUMENTS} documents in one set"))
        documents = documents[:MAX_MANIFEST_DOCUMENTS]
    mset, more = parse_documents(documents)
    return check(mset, [*problems, *more])


def _objects(valid: ManifestSet) -> Sequence[DesiredObject]:
    out = []
    for obj in valid.objects:
        src = valid.source(obj)
        out.append(
            DesiredObject(
                key=ObjectKey(obj.kind, obj.name),
                body=to_data(obj),
                file=src.file if src else None,
                line=src.line if src else None,
            )
        )
    return sorted(out, key=lambda d: d.key)


class SnapshotLoader:
    """:func:`load_snapshot` that remembers the last valid set, so that the set can also be
    checked together with the objects the cluster holds outside the directory (what
    ``hactl apply`` checks on the server: a Group ``web`` applied by hand and a Resource
    ``web`` in the directory cannot both exist)."""

    def __init__(self) -> None:
        self._last: tuple[str, ManifestSet] | None = None

    def __call__(self, snap: Snapshot) -> Sequence[DesiredObject]:
        mset = _valid_set(snap)
        self._last = (snap.revision, mset)
        return _objects(mset)

    def cluster_problems(self, revision: str, others: Sequence[LiveObject]) -> list[Problem]:
        """Problems that the directory's set *adds* to the cluster's other objects."""
        if self._last is None or self._last[0] != revision or not others:
            return []
        extra: list[tuple[Manifest, Source | None]] = []
        for o in sorted(others, key=lambda o: o.key):
            cls = KINDS.get(o.key.kind)
            if cls is None:
                continue
            try:
                extra.append((cls.model_validate(dict(o.body)), None))
            except pydantic.ValidationError:
                continue  # not ours to judge: the cluster's own problem
        before = set(validate_set(ManifestSet(extra)))
        merged = validate_set(self._last[1].with_objects(extra))
        return [p if p.file else replace(p, file="<cluster>") for p in merged if p not in before]
