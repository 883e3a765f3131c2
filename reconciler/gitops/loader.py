"""Validate a snapshot through the models' load path and turn it into desired objects.

This runs exactly the functions ``hactl validate`` / ``hactl apply`` run
(:func:`reconciler.model.loader.load_paths` = decode -> parse each document ->
validate each document -> cross-object checks), but on the bytes of the snapshot,
so what is validated is exactly what the revision digests. Files are named by
their path relative to the watched directory.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.base.errors import Problem
from reconciler.base.limits import MAX_MANIFEST_DOCUMENTS
from reconciler.gitops.keys import ObjectKey
from reconciler.gitops.objects import DesiredObject
from reconciler.gitops.snapshot import Snapshot
from reconciler.model.dump import to_data
from reconciler.model.loader import check, parse_documents
from reconciler.model.yamlsource import Document, decode, parse_text


def load_snapshot(snap: Snapshot) -> Sequence[DesiredObject]:
    """Every object of the snapshot, or :class:`ValidationError` with every problem."""
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
    valid = check(mset, [*problems, *more])
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
