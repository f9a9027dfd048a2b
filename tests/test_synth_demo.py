"""Studies placed on the real MIMIC-IV demo timeline."""

from __future__ import annotations

import csv
import gzip
import hashlib
from pathlib import Path

from tests.helpers import BUNDLED_DEMO

DEMO_TABLES = ("hosp/patients", "hosp/admissions", "hosp/transfers", "icu/icustays")


def rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def test_vendored_demo_matches_its_checksums_and_licence() -> None:
    sums = (BUNDLED_DEMO / "SHA256SUMS.txt").read_text().split("\n")
    checked = 0
    for line in filter(None, sums):
        digest, name = line.split()
        assert hashlib.sha256((BUNDLED_DEMO / name).read_bytes()).hexdigest() == digest
        checked += 1
    assert checked == len(DEMO_TABLES)
    assert "Open Database License" in (BUNDLED_DEMO / "LICENSE.txt").read_text()


def test_demo_tables_are_copied_unchanged(demo_sources: Path) -> None:
    for table in DEMO_TABLES:
        source = BUNDLED_DEMO / f"{table}.csv.gz"
        copy = demo_sources / "mimiciv" / f"{table}.csv.gz"
        assert copy.read_bytes() == source.read_bytes(), table
    assert len(rows(demo_sources / "mimiciv/hosp/patients.csv.gz")) == 100
    assert len(rows(demo_sources / "mimiciv/hosp/admissions.csv.gz")) == 275


def test_ed_stays_derived_from_admissions_and_ed_transfers(demo_sources: Path) -> None:
    admissions = rows(BUNDLED_DEMO / "hosp/admissions.csv.gz")
    transfers = rows(BUNDLED_DEMO / "hosp/transfers.csv.gz")
    edstays = rows(demo_sources / "mimiciv/ed/edstays.csv.gz")
    with_ed = {(a["hadm_id"], a["edregtime"], a["edouttime"]) for a in admissions if a["edregtime"]}
    ed_only = {
        (t["subject_id"], t["intime"], t["outtime"])
        for t in transfers
        if t["eventtype"] == "ED" and not t["hadm_id"]
    }
    assert {(e["hadm_id"], e["intime"], e["outtime"]) for e in edstays if e["hadm_id"]} == with_ed
    assert {
        (e["subject_id"], e["intime"], e["outtime"]) for e in edstays if not e["hadm_id"]
    } == ed_only
    stay_ids = [e["stay_id"] for e in edstays]
    assert len(set(stay_ids)) == len(stay_ids)
    used = {t["transfer_id"] for t in transfers} | {
        i["stay_id"] for i in rows(BUNDLED_DEMO / "icu/icustays.csv.gz")
    }
    assert not used & set(stay_ids)


def test_cxr_subjects_are_demo_patients_plus_held_out(demo_sources: Path) -> None:
    demo_ids = {p["subject_id"] for p in rows(BUNDLED_DEMO / "hosp/patients.csv.gz")}
    cxr_ids = {s["subject_id"] for s in rows(demo_sources / "mimic-cxr/cxr-study-list.csv.gz")}
    assert len(cxr_ids & demo_ids) > 50
    held_out = cxr_ids - demo_ids
    assert held_out
    radiology = {n["subject_id"] for n in rows(demo_sources / "mimiciv/note/radiology.csv.gz")}
    assert radiology <= demo_ids and not radiology & held_out
