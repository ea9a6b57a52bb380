"""The versions an export takes: store rows with the provenance their ledger leaves hold."""

from __future__ import annotations

from archive.export import ExportVersion
from archive.ledger.checkpoints import provenance
from archive.store import Store


def export_versions(store: Store, source: str | None = None) -> list[ExportVersion]:
    """Every version (of one source, or all) as the exporters take them."""
    return [
        ExportVersion(
            version_id=r["version_id"],
            document_id=r["document_id"],
            document_path=r["document_path"],
            seq=r["seq"],
            kind=r["kind"],
            path=r["path"],
            blake3=r["blake3"],
            sha256=r["sha256"],
            size=r["size"],
            observed_at=r["observed_at"],
            run_id=r["run_id"],
            source=r["source"],
            provenance=provenance(r),
        )
        for r in store.export_rows(source)
    ]
