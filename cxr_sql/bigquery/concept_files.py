"""mimic-code's concepts as files: where they are, what each reads, in which order.

A concept is one BigQuery SELECT in a `.sql` file under `mimic-iv/concepts`
(any subfolder); the table it makes is named after the file (`sofa.sql` makes
`mimiciv_derived.sofa`). What a concept reads is taken from its SQL by sqlglot:
`physionet-data.mimiciv_derived.<name>` is another concept, any other
`dataset.table` a source table. The build order follows from that alone, with
no hand-kept list; a cycle, a concept read but not there, or two files making
the same table stop the build with one error.
"""

from __future__ import annotations

import graphlib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

from cxr_sql.bigquery.names import RENAMED_DATASETS

CHECKOUT_CONCEPTS = Path("mimic-iv") / "concepts"
DERIVED_DATASET = re.compile(r"mimiciv(_\d+_\d+)?_derived")
TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # _metadata, _concepts, ... are the schema's


class ConceptError(Exception):
    """A concepts folder that cannot be built as a whole: not there, a cycle, a concept
    read but missing, two files for one table."""


@dataclass(frozen=True)
class Concept:
    name: str  # the table it makes in mimiciv_derived
    relative: str  # its file under the concepts folder, for messages: "score/sofa.sql"
    sql: str  # as written, BigQuery dialect
    digest: str  # of the text
    concepts_read: frozenset[str] = frozenset()
    sources_read: frozenset[str] = frozenset()  # "mimiciv_icu.chartevents", as named here
    problem: str | None = None  # why its SQL could not be read (it then fails alone)


def concepts_folder(given: Path) -> Path:
    """The concepts folder of a mimic-code checkout, or the folder itself if it holds
    concept files."""
    for candidate in (given / CHECKOUT_CONCEPTS, given):
        if candidate.is_dir() and any(candidate.rglob("*.sql")):
            return candidate
    raise ConceptError(
        f"{given}: neither a mimic-code checkout (no {CHECKOUT_CONCEPTS}/) nor a folder "
        "of concept .sql files"
    )


def _tables_read(statements: list[exp.Expression]) -> tuple[set[str], set[str]]:
    """(concepts, source tables) named in the statements; CTE names are not tables."""
    concepts: set[str] = set()
    sources: set[str] = set()
    for statement in statements:
        ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            dataset = table.db
            if not dataset:
                if table.name not in ctes:
                    sources.add(table.name)
                continue
            if DERIVED_DATASET.fullmatch(dataset):
                concepts.add(table.name)
            else:
                sources.add(f"{RENAMED_DATASETS.get(dataset, dataset)}.{table.name}")
    return concepts, sources


def read_concept(folder: Path, path: Path) -> Concept:
    text = path.read_text(encoding="utf-8", errors="replace")
    name, relative = path.stem, path.relative_to(folder).as_posix()
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    if not TABLE_NAME.fullmatch(name):
        problem = "its file name is not a table name (letters, digits, _; not starting with _)"
        return Concept(name, relative, text, digest, problem=problem)
    try:
        statements = [s for s in sqlglot.parse(text, read="bigquery") if s is not None]
    except sqlglot.errors.SqlglotError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return Concept(name, relative, text, digest, problem=f"not BigQuery SQL: {first}")
    concepts, sources = _tables_read(statements)
    return Concept(name, relative, text, digest, frozenset(concepts), frozenset(sources))


def read_concepts(folder: Path) -> dict[str, Concept]:
    """Every concept under the folder, by table name."""
    found: dict[str, Concept] = {}
    for path in sorted(folder.rglob("*.sql")):
        concept = read_concept(folder, path)
        if concept.name in found:
            raise ConceptError(
                f"{folder}: {found[concept.name].relative} and {concept.relative} both make "
                f"mimiciv_derived.{concept.name}"
            )
        found[concept.name] = concept
    return found


def build_order(concepts: dict[str, Concept]) -> list[str]:
    """Concept names, each after every concept it reads."""
    for concept in concepts.values():
        missing = sorted(concept.concepts_read - set(concepts))
        if missing:
            raise ConceptError(
                f"{concept.relative} reads mimiciv_derived.{missing[0]}, but there is no "
                f"concept {missing[0]}.sql in the concepts folder"
            )
    sorter = graphlib.TopologicalSorter(
        {name: sorted(concept.concepts_read) for name, concept in sorted(concepts.items())}
    )
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as error:
        cycle = error.args[1]
        files = " -> ".join(concepts[name].relative for name in reversed(cycle))
        message = f"concepts read each other in a cycle (each reads the next): {files}"
        raise ConceptError(message) from None


def folder_digest(folder: Path) -> str:
    """Changes when any concept file is added, removed, moved or edited (cheap: no parsing)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.sql")):
        digest.update(f"{path.relative_to(folder).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]
