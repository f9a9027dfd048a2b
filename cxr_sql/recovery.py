"""Bring a warehouse back to one consistent state after a build was killed or failed.

The catalog names its generation in every schema's `_metadata`; build.json names
the published generation too. They can disagree only if a build died between
the catalog rename (the commit) and the build.json rename: then the pending
record `.build.next.json` names the catalog's generation and becomes build.json
(the publish is completed). Any other disagreement (a catalog left empty by a
full disk before this check existed, a catalog of a killed older build) is
repaired by writing the catalog again for build.json's generation.

Run by every build under its lock, and by `cxr_sql.connect()` when no build is
running. Builds also remove what dead processes left (publish.remove_leftovers).
"""

from __future__ import annotations

from pathlib import Path

from cxr_sql.catalog import catalog_generation, write_catalog
from cxr_sql.publish import (
    CATALOG,
    PARQUET,
    PENDING,
    complete_publish,
    read_build_record,
    read_pending_record,
)


def reconcile(warehouse: Path) -> str | None:
    """Make the catalog and build.json name the same generation; returns what was done
    (None when they already agreed)."""
    record = read_build_record(warehouse)
    published = catalog_generation(warehouse / CATALOG)
    pending = read_pending_record(warehouse)
    named = record.get("generation")
    if pending is not None and pending.get("generation") == published != named:
        complete_publish(warehouse)
        return f"completed the publishing of {published} (build.json named {named})"
    (warehouse / PENDING).unlink(missing_ok=True)
    generation = named
    if generation is None or generation == published:
        return None
    if not (warehouse / PARQUET / generation).is_dir():
        return None  # nothing to repair from: the next build rebuilds what it needs
    write_catalog(warehouse, warehouse / PARQUET / generation)
    return f"wrote the catalog again for {generation} (it named {published or 'no generation'})"
