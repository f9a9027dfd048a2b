"""mimic-code's concepts built into the warehouse as `mimiciv_derived`.

Each concept file (BigQuery dialect, see concept_files.py) is translated to
DuckDB's dialect by `translate` and run once, in dependency order, by one
DuckDB connection whose schemas `mimiciv_hosp`, `mimiciv_icu`, ... are views
over the generation's Parquet; its result is written as Parquet into
`mimiciv/derived/<release>/<concept>/`, so the catalog publishes it as
`mimiciv_<release>_derived.<concept>`, with `mimiciv_derived` pointing at the
newest release built, as for the other modules.

Incremental: every concept has a fingerprint of its SQL text, of the code that
translates and runs it, of the Parquet files of every source table it reads and
of the fingerprints of the concepts it reads. A concept whose fingerprint is
the one recorded for its output in the previous generation is reused, not run.

Honest: a concept reading a table the warehouse does not hold is skipped with
the table's name, and so is every concept that reads it; a concept whose SQL
fails is recorded with its file and the first line of the engine's message,
its dependents are skipped, and the others are built. Output of a concept not
built or reused in this build is removed: a table is never older than its SQL
or its inputs. `mimiciv_derived._concepts` records what happened to each.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import sqlglot

from cxr_sql.bigquery.concept_files import Concept, build_order, folder_digest, read_concepts
from cxr_sql.bigquery.translate import translate
from cxr_sql.fingerprint import files_fingerprint, text_fingerprint

DERIVED_MODULE = "derived"  # parquet/gNNNNNN/mimiciv/derived/<release>/<concept>/
RECORD = "_concepts"  # what happened to each concept, a table of the schema
METADATA_JSON = "_metadata.json"
BUILT, REUSED, SKIPPED, FAILED = "built", "reused", "skipped", "failed"
PRESENT = (BUILT, REUSED)
NOT_HERE = "(not in the warehouse)"
CODE = Path(__file__).resolve().parent  # the translator and this runner shape every concept


@dataclass
class Outcome:
    concept: str
    file: str
    status: str  # built, reused, skipped or failed
    reason: str = ""  # why skipped or failed
    cause: str = ""  # what stopped it at the root: the absent table, or the concept that failed
    rows: int | None = None
    seconds: float = 0.0
    fingerprint: str = ""


@dataclass
class ConceptsResult:
    outcomes: list[Outcome]
    commit: str | None  # of the mimic-code checkout, when it is one

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def problems(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    def lines(self) -> list[str]:
        """One line per cause of skipping (the concepts it stopped), one per failure."""
        by_cause: dict[str, list[str]] = {}
        for outcome in self.problems(SKIPPED):
            by_cause.setdefault(outcome.cause, []).append(outcome.concept)
        skipped = [
            f"skipped {len(names)}, needing {cause}: {', '.join(sorted(names))}"
            for cause, names in sorted(by_cause.items())
        ]
        return skipped + [f"failed {o.file}: {o.reason}" for o in self.problems(FAILED)]


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parquet_folders(folder: Path) -> dict[str, Path]:
    """Table name -> its folder, for every table with Parquet files."""
    if not folder.is_dir():
        return {}
    return {d.name: d for d in sorted(folder.iterdir()) if d.is_dir() and any(d.glob("*.parquet"))}


def code_digest() -> str:
    """Changes when the translator, this runner or DuckDB change."""
    digest = hashlib.sha256(duckdb.__version__.encode())
    for path in sorted(CODE.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def mimic_code_commit(folder: Path) -> str | None:
    """The commit of the checkout holding `folder` (`+modified` when its concepts
    differ from it), or None when git cannot tell."""
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+modified" if changes else head


def _first_line(error: Exception) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


class _Run:
    """One build of the concepts into `out`, reading the source schemas given."""

    def __init__(self, out: Path, sources: dict[str, Path], threads: int) -> None:
        self.out = out
        self.con = duckdb.connect()
        self.scratch = out.parent / f".{out.name}.tmp"
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.con.execute(f"SET threads = {max(threads, 1)}")
        self.con.execute(f"SET temp_directory = {_sql_string(str(self.scratch))}")
        self.tables: dict[str, str] = {}  # "mimiciv_icu.chartevents" -> fingerprint
        for schema, folder in sorted(sources.items()):
            self.con.execute(f"CREATE SCHEMA {schema}")
            for table, table_folder in _parquet_folders(folder).items():
                self._view(schema, table, table_folder)
                parts = sorted(table_folder.glob("*.parquet"))
                self.tables[f"{schema}.{table}"] = files_fingerprint(parts, ctime=False)
        self.con.execute("CREATE SCHEMA mimiciv_derived")
        self.outcomes: dict[str, Outcome] = {}

    def _view(self, schema: str, table: str, folder: Path) -> None:
        location = _sql_string(str(folder.resolve() / "*.parquet"))
        self.con.execute(f"CREATE VIEW {schema}.{table} AS SELECT * FROM read_parquet({location})")

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def blocked(self, concept: Concept) -> tuple[str, str] | None:
        """(why, root cause) when the concept cannot run here: a table it reads is absent,
        or a concept it reads was not built."""
        absent = sorted(concept.sources_read - set(self.tables))
        if absent:
            cause = f"{', '.join(absent)} {NOT_HERE}"
            return f"reads {cause}", cause
        for name in sorted(concept.concepts_read):
            if self.outcomes[name].status not in PRESENT:
                cause = self.outcomes[name].cause
                through = f" through mimiciv_derived.{name}" if name not in cause else ""
                return f"needs {cause}{through}", cause
        return None

    def fingerprint(self, concept: Concept, code: str) -> str:
        tables = [f"{t}={self.tables[t]}" for t in sorted(concept.sources_read)]
        concepts = [f"{c}={self.outcomes[c].fingerprint}" for c in sorted(concept.concepts_read)]
        return text_fingerprint(code, concept.digest, *tables, *concepts)

    def run(self, concept: Concept, previous: dict[str, str], code: str) -> Outcome:
        outcome = Outcome(concept.name, concept.relative, BUILT)
        blocked = self.blocked(concept)
        if concept.problem or blocked:
            return self._not_built(outcome, concept.problem, blocked)
        outcome.fingerprint = self.fingerprint(concept, code)
        folder = self.out / concept.name
        reusable = concept.name in _parquet_folders(self.out)
        if reusable and previous.get(concept.name) == outcome.fingerprint:
            self._view("mimiciv_derived", concept.name, folder)
            outcome.status = REUSED
            outcome.rows = self.con.execute(
                f"SELECT count(*) FROM mimiciv_derived.{concept.name}"
            ).fetchone()[0]
            return outcome
        started = time.monotonic()
        shutil.rmtree(folder, ignore_errors=True)  # its files are shared with the last generation
        try:
            select = translate(concept.sql).strip().rstrip(";")
            folder.mkdir(parents=True)
            target = _sql_string(str(folder / "part-0.parquet"))
            (outcome.rows,) = self.con.execute(
                f"COPY ({select}) TO {target} (FORMAT parquet, COMPRESSION zstd)"
            ).fetchone()
        except (duckdb.Error, sqlglot.errors.SqlglotError, ValueError) as error:
            shutil.rmtree(folder, ignore_errors=True)
            return self._not_built(outcome, _first_line(error), None)
        self._view("mimiciv_derived", concept.name, folder)
        outcome.seconds = round(time.monotonic() - started, 3)
        return outcome

    @staticmethod
    def _not_built(outcome: Outcome, failure: str | None, blocked: tuple | None) -> Outcome:
        """Failed (its SQL could not be read or run), else skipped (blocked)."""
        if failure:
            outcome.status, outcome.reason = FAILED, failure
            outcome.cause = f"mimiciv_derived.{outcome.concept} (failed)"
        else:
            assert blocked is not None
            outcome.status, (outcome.reason, outcome.cause) = SKIPPED, blocked
        return outcome


def _previous_fingerprints(out: Path) -> dict[str, str]:
    """Concept -> fingerprint of its output, as the last generation recorded them."""
    record = out / RECORD
    if not any(record.glob("*.parquet")):
        return {}
    frame = pl.read_parquet(record / "*.parquet")
    present = frame.filter(pl.col("status").is_in(PRESENT))
    return dict(zip(present["concept"], present["fingerprint"], strict=True))


def build_concepts(
    folder: Path, out: Path, sources: dict[str, Path], threads: int = 2
) -> ConceptsResult:
    """Build every concept under `folder` into `out` (a release folder of the derived
    module), reading the schemas in `sources` (schema name -> Parquet release folder).

    Raises ConceptError when the folder cannot be built as a whole (see concept_files).
    """
    concepts = read_concepts(folder)
    order = build_order(concepts)
    previous = _previous_fingerprints(out)
    code = code_digest()
    out.mkdir(parents=True, exist_ok=True)
    runner = _Run(out, sources, threads)
    try:
        for name in order:
            runner.outcomes[name] = runner.run(concepts[name], previous, code)
    finally:
        runner.close()
    outcomes = [runner.outcomes[name] for name in order]
    kept = {o.concept for o in outcomes if o.status in PRESENT}
    for stale in out.iterdir():
        if stale.is_dir() and stale.name not in kept:
            shutil.rmtree(stale)
    result = ConceptsResult(outcomes, mimic_code_commit(folder))
    _write_record(out, result, folder)
    return result


def _write_record(out: Path, result: ConceptsResult, folder: Path) -> None:
    """`_concepts` (one row per concept) and `_metadata.json` of the schema."""
    (out / RECORD).mkdir()
    frame = pl.DataFrame(
        [asdict(o) for o in result.outcomes],
        schema={
            "concept": pl.String,
            "file": pl.String,
            "status": pl.String,
            "reason": pl.String,
            "cause": pl.String,
            "rows": pl.Int64,
            "seconds": pl.Float64,
            "fingerprint": pl.String,
        },
    )
    frame.write_parquet(out / RECORD / "part-0.parquet")
    metadata = {
        "dataset": "mimic-code concepts (mimiciv_derived)",
        "version": out.name,
        "source": str(folder.resolve()),
        "source_fingerprint": folder_digest(folder),
        "mimic_code_commit": result.commit or "unknown (not a git checkout)",
        "build_time": datetime.now(UTC).isoformat(timespec="seconds"),
        **{f"concepts_{status}": str(result.count(status)) for status in (*PRESENT, SKIPPED)},
        "concepts_failed": str(result.count(FAILED)),
    }
    (out / METADATA_JSON).write_text(json.dumps(metadata, indent=2) + "\n")
