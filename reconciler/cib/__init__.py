"""L2 pure: Pacemaker CIB XML import/export. No file I/O: callers pass and receive text.

``importer.import_cib(text, source) -> CibImport`` (manifests, observed status, the warnings
naming everything not carried over, cross-object problems) and
``exporter.export_cib(manifests, status) -> str`` (a CIB that crm_simulate 2.1.5 accepts).
``digest.op_digest`` computes Pacemaker's operation digests.
"""
