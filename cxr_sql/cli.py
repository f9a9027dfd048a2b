"""The `cxr-sql` command."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from cxr_sql import __version__

DEMO_RELEASE = "2.2"


def _synth_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "synth",
        help="generate MIMIC-shaped sources (demo, tests, benchmarks)",
        description=(
            "Write synthetic MIMIC-CXR, MIMIC-CXR-JPG and MIMIC-IV sources in the layouts "
            "PhysioNet distributes: DIR/mimic-cxr, DIR/mimic-cxr-jpg, DIR/mimiciv. "
            "The same seed and options always give the same bytes."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (0)")
    parser.add_argument(
        "--scale",
        default="small",
        metavar="SCALE",
        help="tiny (12 subjects), small (300), full (65,379 as MIMIC-CXR) or a number of "
        "subjects (default: small)",
    )
    parser.add_argument(
        "--mimiciv-demo",
        type=Path,
        metavar="DIR",
        help="place the studies on the real timeline of the MIMIC-IV demo in DIR "
        "(e.g. cxr_sql/data/mimic-iv-demo-2.2); its hosp/ and icu/ tables are copied",
    )
    parser.add_argument(
        "--mimiciv-version",
        choices=("3.1", "2.2"),
        help="MIMIC-IV release to imitate (default 3.1; the demo is 2.2)",
    )
    parser.add_argument("--dicom", action="store_true", help="write one small DICOM per image")
    parser.add_argument("--dicom-gz", action="store_true", help="write the DICOMs as .dcm.gz")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, metavar="N", help="worker processes"
    )
    parser.add_argument("--force", action="store_true", help="replace earlier output in DIR")
    parser.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from cxr_sql.synth.generate import OutputNotEmpty, SynthOptions, generate
    from cxr_sql.synth.scale import parse_scale

    try:
        scale = parse_scale(args.scale)
    except ValueError as error:
        return _fail(str(error))
    version = args.mimiciv_version
    if args.mimiciv_demo is not None:
        if version not in (None, DEMO_RELEASE):
            return _fail(f"--mimiciv-version {version}: the MIMIC-IV demo is release 2.2")
        if not args.mimiciv_demo.is_dir():
            return _fail(f"--mimiciv-demo {args.mimiciv_demo}: no such folder")
    options = SynthOptions(
        out=args.out,
        scale=scale,
        seed=args.seed,
        mimiciv_version=version or (DEMO_RELEASE if args.mimiciv_demo else "3.1"),
        mimiciv_demo=args.mimiciv_demo,
        dicom=args.dicom,
        dicom_gz=args.dicom_gz,
        jobs=max(args.jobs, 1),
        force=args.force,
    )
    started = time.monotonic()
    try:
        manifest = generate(options)
    except (OutputNotEmpty, FileNotFoundError) as error:
        return _fail(str(error))
    seconds = time.monotonic() - started
    print(f"wrote synthetic sources to {args.out} in {seconds:.1f} s")
    for path, rows in manifest["counts"].items():
        print(f"  {path:50} {rows:>10,} rows")
    situations = ", ".join(f"{k} {v:,}" for k, v in manifest["situations"].items())
    print(f"  studies by situation: {situations}")
    return 0


def _build_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "build",
        help="build or update the warehouse from PhysioNet files",
        description=(
            "Bring the warehouse up to date with its sources: stages whose inputs did not "
            "change do no work, and the result is published at the end with one rename. "
            "Settings come from the flags, then cxr-sql.toml, then the environment, then "
            "the warehouse's build.json (the last build's settings: with no source flag, "
            "the build reruns them). "
            "Exit codes: 0 built or nothing to do, 1 failed, 2 usage error, 3 bad input "
            "(a source could not be read; the rest was built), 4 another build is running."
        ),
    )
    parser.add_argument(
        "--warehouse", type=Path, metavar="DIR", help="warehouse folder (default: ./warehouse)"
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="settings file (default: ./cxr-sql.toml)"
    )
    sources = parser.add_argument_group(
        "sources", "folders as PhysioNet distributes them; each also read from its variable"
    )
    for flag, variable, what in (
        ("--mimic-cxr", "MIMIC_CXR_DIR", "MIMIC-CXR: record and study lists, files/ or the zip"),
        ("--mimic-cxr-jpg", "MIMIC_CXR_JPG_DIR", "MIMIC-CXR-JPG: metadata, chexpert, ..."),
        ("--mimiciv", "MIMICIV_DIR", "MIMIC-IV: hosp/ and icu/ (and ed/, note/ if there)"),
        ("--mimiciv-ed", "MIMICIV_ED_DIR", "MIMIC-IV-ED: ed/"),
        ("--mimiciv-note", "MIMICIV_NOTE_DIR", "MIMIC-IV-Note: note/"),
        (
            "--concepts",
            "MIMIC_CODE_DIR",
            "a mimic-code checkout (or its mimic-iv/concepts): its concepts become mimiciv_derived",
        ),
    ):
        sources.add_argument(flag, type=Path, metavar="DIR", help=f"{what} (${variable})")
    parser.add_argument(
        "--mimiciv-version",
        choices=("2.2", "3.0", "3.1"),
        help="release of the MIMIC-IV files (default: from the folder name, else the files)",
    )
    parser.add_argument(
        "--tables",
        metavar="LIST",
        help="more MIMIC-IV tables beyond those the linking needs, e.g. "
        "diagnoses_icd,labevents (or hosp.labevents); added to those of earlier builds",
    )
    parser.add_argument(
        "--all", action="store_const", const=True, help="every MIMIC-IV table present"
    )
    parser.add_argument(
        "--drop-tables",
        metavar="LIST",
        help="MIMIC-IV tables to drop from the warehouse and leave out from now on, e.g. "
        "hosp.diagnoses_icd (the only way a table leaves: settings are kept in build.json)",
    )
    parser.add_argument(
        "--link-window-hours",
        type=int,
        metavar="H",
        help="how far from a study mimic_cxr_derived.study_link_candidates looks for "
        "admissions and stays (default 24, kept between builds)",
    )
    parser.add_argument(
        "--dicom",
        choices=("auto", "yes", "no"),
        help="read the DICOM headers under --mimic-cxr's files/ (auto: when images are there)",
    )
    parser.add_argument(
        "--dicom-all-tags",
        action="store_const",
        const=True,
        help="also keep every header element as JSON (mimic_cxr.dicom_metadata.tags)",
    )
    parser.add_argument(
        "--reports-from",
        choices=("auto", "tree", "zip"),
        help="read reports from the files/ tree or the zip (auto: the tree when it has them)",
    )
    parser.add_argument("--jobs", type=int, metavar="N", help="worker processes (all cores)")
    parser.add_argument(
        "--wait", action="store_true", help="wait for a running build instead of refusing"
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(run=_run_build)


def _warehouse_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=Path("warehouse"),
        metavar="DIR",
        help="warehouse folder, or its mimic.duckdb (default: ./warehouse)",
    )


def _run_build(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from cxr_sql import crash
    from cxr_sql.bigquery.concept_files import ConceptError, concepts_folder
    from cxr_sql.build import EXIT_BUSY, EXIT_FAILED, EXIT_USAGE, BuildFailed, run_build
    from cxr_sql.config import ConfigError, build_options, load_config, remembered_line
    from cxr_sql.publish import BuildBusy
    from cxr_sql.source_layout import folder_problem
    from cxr_sql.table_choice import TableChoiceError

    try:
        options = build_options(args, load_config(args.config))
    except ConfigError as error:
        _fail(str(error))
        return EXIT_USAGE
    given = {
        "--mimic-cxr": options.mimic_cxr,
        "--mimic-cxr-jpg": options.mimic_cxr_jpg,
        "--mimiciv": options.mimiciv,
        "--mimiciv-ed": options.mimiciv_ed,
        "--mimiciv-note": options.mimiciv_note,
        "--concepts": options.concepts,
    }
    if not any(given.values()):
        _fail("nothing to build: give at least one source folder, e.g. --mimic-cxr DIR")
        return EXIT_USAGE
    for flag, folder in given.items():
        if folder is not None and not folder.is_dir():
            remembered = flag[2:].replace("-", "_") in options.remembered
            _fail(f"{flag} {folder}{' (from build.json)' if remembered else ''}: no such folder")
            return EXIT_USAGE
        if folder is not None and (problem := folder_problem(flag, folder)):
            return _fail(problem)
    if options.concepts is not None:
        try:
            concepts_folder(options.concepts)
        except ConceptError as error:
            _fail(f"--concepts {error}")
            return EXIT_USAGE
    if options.remembered and not (args.quiet or args.json):
        print(f"settings from {options.warehouse / 'build.json'}: {remembered_line(options)}")
    try:
        report = run_build(options)
    except BuildBusy as busy:
        _fail(str(busy))
        return EXIT_BUSY
    except BuildFailed as failed:
        crash.report(str(failed), failed)
        return EXIT_FAILED
    except TableChoiceError as error:
        _fail(str(error))
        return EXIT_USAGE
    if args.json:
        print(json.dumps([asdict(stage) for stage in report.stages], indent=2))
    elif not args.quiet:
        for stage in report.stages:
            print(stage.line())
        if report.published is None:
            print(f"nothing to do: {options.warehouse} is up to date with its sources")
        else:
            print(f"published {report.published}: {options.warehouse / 'mimic.duckdb'}")
    for stage in report.stages:
        if stage.error and (args.quiet or args.json):
            print(f"cxr-sql: error: {stage.name}: {stage.error}", file=sys.stderr)
    quiet = args.quiet or args.json
    for warning in report.warnings:
        print(warning, file=sys.stderr if quiet else sys.stdout)
    return report.exit_code


def _query_parser(commands: argparse._SubParsersAction) -> None:
    from cxr_sql.query import DEFAULT_MAX_ROWS, FORMATS

    parser = commands.add_parser(
        "query",
        help="run SQL against the warehouse; print a table or write CSV, JSON, Parquet",
        description=(
            "Run SQL against the warehouse catalog (read-only; a moved warehouse is relinked "
            "first, as cxr_sql.connect() does). Several statements separated by ';' run in "
            "order: --format table shows each result; csv, json and parquet hold one result "
            "and refuse SQL where more than one statement returns rows. Tables are printed "
            "whole in width (no column or value is cut: lines may be wider than the "
            "terminal); rows beyond --max-rows are left out and a line says how many."
        ),
    )
    _warehouse_argument(parser)
    parser.add_argument("sql", nargs="?", help="the SQL to run; '-' reads it from standard input")
    parser.add_argument(
        "--file", type=Path, metavar="FILE", help="read the SQL from FILE (default: none)"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        dest="output_format",
        help="table (box drawing), csv (with header), json (one array of row objects) "
        "or parquet (default: table)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write to FILE, owner-only (mode 600), replacing it only when the query "
        "succeeds (default: standard output)",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=DEFAULT_MAX_ROWS,
        metavar="N",
        help=f"rows shown per table; the others are counted, not shown; csv, json and "
        f"parquet hold every row (default: {DEFAULT_MAX_ROWS})",
    )
    parser.set_defaults(run=_run_query)


def _run_query(args: argparse.Namespace) -> int:
    import duckdb

    from cxr_sql.query import QueryError, QueryOptions, first_line, read_sql, run_query
    from cxr_sql.warehouse import connect

    try:
        sql = read_sql(args.sql, args.file, sys.stdin)
        con = connect(args.warehouse)
    except QueryError as error:
        return _fail(str(error))
    except FileNotFoundError as error:
        return _fail(str(error))
    except (duckdb.Error, OSError) as error:
        _fail(f"{args.warehouse}: cannot open the warehouse: {first_line(error)}")
        return 1
    options = QueryOptions(sql, args.output_format, args.out, args.max_rows)
    with con:
        try:
            run_query(con, options, sys.stdout)
        except QueryError as error:
            _fail(str(error))
            return error.exit_code
        except BrokenPipeError:
            raise  # main's handler: the reader went away (| head)
        except OSError as error:
            _fail(f"--out {args.out}: {error.strerror}")
            return 1
    return 0


def _export_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="write a file other tools expect (sectioned-csv: mimic-code's sectioned CSV)",
        description=(
            "sectioned-csv: mimic_cxr.sectioned_mimic_code as mimic-code's "
            "mimic_cxr_sectioned.csv, byte for byte as its create_section_files.py writes it."
        ),
    )
    parser.add_argument("what", choices=["sectioned-csv"], help="the file to write")
    _warehouse_argument(parser)
    parser.add_argument("--out", type=Path, metavar="FILE", required=True, help="file to write")
    parser.set_defaults(run=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    import duckdb

    from cxr_sql.export import write_sectioned_csv
    from cxr_sql.warehouse import connect

    if not args.out.parent.is_dir():
        return _fail(f"--out {args.out}: no folder {args.out.parent}")
    try:
        con = connect(args.warehouse)
    except FileNotFoundError as error:
        return _fail(str(error))
    with con:
        try:
            n_rows = write_sectioned_csv(con, args.out)
        except duckdb.CatalogException:
            return _fail(f"{args.warehouse}: no mimic_cxr.sectioned_mimic_code; build MIMIC-CXR")
    print(f"{n_rows:,} studies written to {args.out}")
    return 0


def _check_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "check",
        help="QA report: row counts, identifiers, coverage, ambiguities, rejects",
        description="Print a short QA report of a built warehouse.",
    )
    _warehouse_argument(parser)
    parser.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write the report with charts of the linking to FILE: one page that "
        "opens offline, readable by its owner only",
    )
    parser.set_defaults(run=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    from cxr_sql.check import render, report
    from cxr_sql.warehouse import connect

    if args.html is not None and not args.html.parent.is_dir():
        return _fail(f"--html {args.html}: no folder {args.html.parent}")
    try:
        con = connect(args.warehouse)
    except FileNotFoundError as error:
        return _fail(str(error))
    with con:
        con.execute("SET enable_progress_bar = false")  # DuckDB's bar would go to stdout
        findings = report(con)
        print(render(findings))
        if args.html is not None:
            return _write_check_page(args.html, findings, con, args.warehouse)
    return 0


def _write_check_page(path: Path, findings: list, con, warehouse: Path) -> int:
    from cxr_sql import owner_only
    from cxr_sql.qa_charts import charts
    from cxr_sql.qa_page import page

    drawn = charts(con)
    try:
        owner_only.write_text(path, page(findings, drawn, warehouse))
    except OSError as error:
        return _fail(f"--html {path}: {error.strerror}")
    print(f"wrote {path}")
    failed = [chart for chart in drawn if chart.failed]
    for chart in failed:
        print(f"cxr-sql: error: --html: {chart.title}: {chart.missing}", file=sys.stderr)
    return 1 if failed else 0


def _docs_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "docs",
        help="write the data dictionary (Markdown and HTML) of a warehouse",
        description="Every schema, view and column of the warehouse with its type and meaning.",
    )
    _warehouse_argument(parser)
    parser.add_argument(
        "--out", type=Path, default=Path("docs"), metavar="DIR", help="output folder (docs)"
    )
    parser.set_defaults(run=_run_docs)


def _run_docs(args: argparse.Namespace) -> int:
    from cxr_sql.dictionary import collect, html_page, markdown
    from cxr_sql.warehouse import connect

    try:
        con = connect(args.warehouse)
    except FileNotFoundError as error:
        return _fail(str(error))
    with con:
        views = collect(con)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dictionary.md").write_text(markdown(views))
    (args.out / "dictionary.html").write_text(html_page(views))
    print(f"wrote {args.out / 'dictionary.md'} and dictionary.html: {len(views)} views and tables")
    return 0


def _render_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "render",
        help="write the derived views as SQL for another engine (BigQuery)",
        description=(
            "Render the linking and QA views of mimic_cxr_derived from the same templates, "
            "in BigQuery SQL over physionet-data, as CREATE VIEW statements for your own "
            "dataset: one file per view."
        ),
    )
    parser.add_argument("--dialect", choices=("bigquery",), default="bigquery")
    parser.add_argument(
        "--dataset",
        required=True,
        metavar="PROJECT.DATASET",
        help="your BigQuery dataset that will hold the views",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bigquery"), metavar="DIR", help="output folder"
    )
    parser.add_argument("--link-window-hours", type=int, default=24, metavar="H")
    parser.set_defaults(run=_run_render)


def _run_render(args: argparse.Namespace) -> int:
    from cxr_sql.bigquery.render import DEPLOY_SCRIPT, deploy_script, render_bigquery

    try:
        statements = render_bigquery(
            args.dataset, settings={"link_window_hours": args.link_window_hours}
        )
    except ValueError as error:
        return _fail(str(error))
    args.out.mkdir(parents=True, exist_ok=True)
    for view, statement in statements.items():
        (args.out / f"{view}.sql").write_text(statement)
    (args.out / DEPLOY_SCRIPT).write_text(deploy_script(statements, args.dataset))
    print(
        f"wrote {len(statements)} views for {args.dataset} to {args.out}, and "
        f"{args.out / DEPLOY_SCRIPT} creating them in dependency order"
    )
    return 0


def _relink_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "relink",
        help="re-point a moved or copied warehouse",
        description=(
            "Write the catalog again so its views point into the warehouse folder where it "
            "is now. Reads no source; cxr_sql.connect() does this by itself."
        ),
    )
    _warehouse_argument(parser)
    parser.set_defaults(run=_run_relink)


def _run_relink(args: argparse.Namespace) -> int:
    from cxr_sql.warehouse import relink

    try:
        moved = relink(args.warehouse)
    except FileNotFoundError as error:
        return _fail(str(error))
    where = args.warehouse.resolve()
    print(f"relinked to {where}" if moved else f"already points at {where}")
    return 0


def _translate_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "translate",
        help="rewrite BigQuery SQL for physionet-data as DuckDB SQL for this warehouse",
        description=(
            "Read a query written for BigQuery (`physionet-data.mimiciv_hosp.admissions`, "
            "...) and print it in DuckDB's dialect against this catalog's schemas."
        ),
    )
    parser.add_argument("file", type=Path, help="the .sql file ('-' for standard input)")
    parser.add_argument(
        "--dataset-map",
        action="append",
        default=[],
        metavar="PROJECT.DATASET=SCHEMA",
        help=(
            "read your own BigQuery dataset as a schema here (repeatable); views that "
            "`cxr-sql render` wrote map to mimic_cxr_derived without it"
        ),
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        metavar="DIR",
        help=(
            "refuse datasets and tables this warehouse does not hold (default: check the "
            "datasets against those a warehouse can hold, not the tables)"
        ),
    )
    parser.set_defaults(run=_run_translate)


def _run_translate(args: argparse.Namespace) -> int:
    import sqlglot

    from cxr_sql.bigquery.names import DATASETS, warehouse_tables
    from cxr_sql.bigquery.translate import Refused, translate
    from cxr_sql.warehouse import catalog_path

    datasets, tables = DATASETS, None
    if args.warehouse is not None:
        try:
            tables = warehouse_tables(catalog_path(args.warehouse))
        except FileNotFoundError as error:
            return _fail(str(error))
        datasets = tuple(sorted({name.split(".")[0] for name in tables}))
    dataset_map = {}
    for entry in args.dataset_map:
        dataset, _, schema = entry.partition("=")
        if not schema or dataset.count(".") != 1 or not all(dataset.split(".")):
            return _fail(f"--dataset-map {entry}: expected PROJECT.DATASET=SCHEMA")
        dataset_map[dataset] = schema
    try:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text()
        print(translate(text, dataset_map, datasets, tables), end="")
    except OSError as error:
        return _fail(f"{args.file}: {error.strerror}")
    except sqlglot.errors.SqlglotError as error:
        return _fail(f"{args.file}: not BigQuery SQL sqlglot can read: {error}")
    except Refused as refused:
        return _fail(f"{args.file}: refused, {refused}")
    return 0


def _fail(message: str) -> int:
    print(f"cxr-sql: error: {message}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxr-sql",
        description=(
            "Turn MIMIC-CXR, MIMIC-CXR-JPG and MIMIC-IV files into one local DuckDB "
            "warehouse with PhysioNet's BigQuery names."
        ),
    )
    parser.add_argument("--version", action="version", version=f"cxr-sql {__version__}")
    commands = parser.add_subparsers(
        title="commands", metavar="COMMAND", dest="command", required=True
    )
    _synth_parser(commands)
    _build_parser(commands)
    _query_parser(commands)
    _check_parser(commands)
    _export_parser(commands)
    _docs_parser(commands)
    _render_parser(commands)
    _relink_parser(commands)
    _translate_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. Whatever it raises ends in one line on stderr (and exit 1),
    with the traceback in a log file (crash.py), never as a raw traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("cxr-sql: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (| head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as error:  # the last resort: a bug, or an error no command expected
        from cxr_sql import crash
        from cxr_sql.build import describe

        crash.report(f"{args.command}: {describe(error)}", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
