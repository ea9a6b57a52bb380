"""W3C PROV-JSON export: versions as entities, ingest runs as activities, the tool as agent.

Built with the `prov` package so the document is valid by construction; identifiers avoid
'@' and leading digits so the same document also serialises to PROV-XML.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from prov.model import PROV, PROV_TYPE, ProvDocument

from archive.export import ExportVersion, by_document, utc_timestamp

NAMESPACE_PREFIX = "pa"
NAMESPACE_URI = "urn:provenance-archive:"
TOOL_ID = "pa:provenance-archive"


def doc_id(document_id: int) -> str:
    return f"pa:doc-{document_id}"


def version_id(v: ExportVersion) -> str:
    return f"pa:doc-{v.document_id}.v{v.seq}"


def run_id(run: int) -> str:
    return f"pa:run-{run:04d}"


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(utc_timestamp(value)) if value else None


def prov_document(
    versions: Sequence[ExportVersion], runs: Sequence[Mapping], tool_version: str
) -> ProvDocument:
    """The PROV document, records added in a fixed order (tool, runs, documents, versions)."""
    doc = ProvDocument()
    doc.add_namespace(NAMESPACE_PREFIX, NAMESPACE_URI)
    tool = doc.agent(TOOL_ID, {PROV_TYPE: PROV["SoftwareAgent"], "pa:version": str(tool_version)})
    run_ids = set()
    for run in sorted(runs, key=lambda r: r["id"]):
        if run["id"] in run_ids:
            raise ValueError(f"run {run['id']} given twice")
        run_ids.add(run["id"])
        activity = doc.activity(
            run_id(run["id"]),
            _time(run.get("started_at")),
            _time(run.get("finished_at")),
            {"pa:command": str(run.get("command") or "")},
        )
        doc.wasAssociatedWith(activity, tool)
    for document_id, vs in by_document(versions).items():
        last = vs[-1]
        doc.entity(
            doc_id(document_id),
            {"pa:path": last.document_path, "pa:source": last.source},
        )
        previous = None
        for v in vs:
            if v.run_id not in run_ids:
                raise ValueError(f"version {v.version_id} refers to unknown run {v.run_id}")
            attrs: dict = {"pa:path": v.path, "pa:kind": v.kind, "pa:seq": v.seq}
            if v.blake3:
                attrs["pa:blake3"] = v.blake3
            if v.sha256:
                attrs["pa:sha256"] = v.sha256
            entity = doc.entity(version_id(v), attrs)
            doc.wasGeneratedBy(entity, run_id(v.run_id), _time(v.observed_at))
            doc.specializationOf(entity, doc_id(document_id))
            if previous is not None:
                doc.wasRevisionOf(entity, previous)
            previous = entity
    return doc


def export_prov(
    versions: Sequence[ExportVersion], runs: Sequence[Mapping], tool_version: str
) -> str:
    """PROV-JSON text; re-serialised with sorted keys so it is byte-stable."""
    doc = prov_document(versions, runs, tool_version)
    data = json.loads(doc.serialize(format="json"))
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
