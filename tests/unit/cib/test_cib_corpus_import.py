"""Every case of Pacemaker's scheduler corpus imports, round-trips and loads again."""

from __future__ import annotations

import pytest
from cib_helpers import CASES, CORPUS, needs_corpus

from reconciler.cib.exporter import export_cib
from reconciler.cib.importer import import_cib
from reconciler.model import dump_yaml, load_text
from reconciler.model.status import dump_status_yaml, load_status_text


@needs_corpus
@pytest.mark.parametrize("name", CASES)
def test_case_imports_and_round_trips(name: str) -> None:
    result = import_cib((CORPUS / f"{name}.xml").read_text(), f"{name}.xml")
    assert result.problems == (), [p.render() for p in result.problems]
    assert result.manifests.objects, "nothing imported"
    # the YAML we write loads back to the same objects and status
    manifests_yaml = dump_yaml(result.manifests.objects)
    reloaded = load_text(manifests_yaml, "manifests.yaml")
    assert dump_yaml(reloaded.objects) == manifests_yaml
    assert load_status_text(dump_status_yaml(result.status)) == result.status
    # CIB -> manifests -> CIB -> manifests is stable
    again = import_cib(export_cib(result.manifests, result.status), "exported.xml")
    assert dump_yaml(again.manifests.objects) == manifests_yaml
    assert again.status == result.status
    # the exporter reports nothing of its own output as unsupported
    assert again.warnings == ()


@needs_corpus
def test_corpus_size() -> None:
    assert len(CASES) == 89
