"""``xlr8``: the universal query language for humans.

    xlr8 translate --to salesforce,sap_sf "employee where hire_date >= 2024-01-01 limit 10"
    xlr8 translate --from successfactors --to ukg_pro "User where hireDate >= 2024-01-01"
    xlr8 gather --project P "How many active employees were hired in 2024?"   (from xlr8-gatherer)
    xlr8 batches clean --older-than 2d .meltano/batches      (BATCH files killed runs left)

Exit codes: 0 done, 1 the work failed (a product refused, a connection failed), 2 bad input (the message names
the product, entity, field or setting at fault).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from xlr8_kit.query import QueryError, QuerySyntaxError, Translation, format_filter, translate
from xlr8_kit.vocabulary import VocabularyError, all_products

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    products = ", ".join(p.id for p in all_products())
    parser = argparse.ArgumentParser(prog="xlr8", description="Ask every product the same question.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tr = commands.add_parser(
        "translate",
        help="show what a universal query becomes in each product's own dialect",
        description=f"Products: {products} (aliases such as sap_sf, ukg_wfm, tap names accepted).",
    )
    tr.add_argument("query", help='e.g. "employee where hire_date >= 2024-01-01 fields employee_id limit 10"')
    tr.add_argument("--to", required=True, help="target product id(s), comma-separated")
    tr.add_argument("--from", dest="source", help="product whose own entity/field names the query uses")
    tr.add_argument("--strict", action="store_true", help="refuse instead of filtering after fetching")
    tr.add_argument("--json", action="store_true", help="one JSON object per target product")

    batches = commands.add_parser("batches", help="BATCH files taps wrote: remove those ended runs left")
    actions = batches.add_subparsers(dest="batches_command", required=True, metavar="ACTION")
    clean = actions.add_parser(
        "clean",
        help="remove the kit's BATCH files of ended runs older than --older-than",
        description="Removes, in each FOLDER and the folders right under it, the BATCH files the kit's writer named "
        "(complete and .partial), this user's, last written before --older-than, whose writing tap and its parent "
        "run (meltano run, shell pipeline) are gone and that no process has open at that moment. A folder a running "
        "target or mapper holds (it locks each of its batch_locations while it runs) is skipped, and the command "
        "then exits 1, as when a file could not be removed. A complete file of a tap that ended may still be sent "
        "to a target not started yet (tap > out.jsonl, then target < out.jsonl; another container sharing the "
        "folder): choose an age no such run waits that long.",
    )
    clean.add_argument("folders", nargs="+", metavar="FOLDER", help="a batch folder, e.g. .meltano/batches")
    clean.add_argument("--older-than", required=True, help="an age such as 90m, 36h or 2d")
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    clean.set_defaults(handler=_clean_batches)
    _add_plugin_commands(commands)
    return parser


def _age_seconds(text: str) -> float:
    """``90m``, ``36h``, ``2d`` in seconds; a unit is required, so ``--older-than 2`` is not taken as hours."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([mhd])", text.strip())
    if match is None:
        raise ValueError(f"--older-than {text!r}: give an age with a unit: minutes, hours or days (90m, 36h, 2d)")
    return float(match[1]) * {"m": 60, "h": 3600, "d": 86400}[match[2]]


def _clean_batches(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``xlr8 batches clean``: each file removed on its own line, then what was kept and why."""
    from pathlib import Path

    from xlr8_kit.batch_files import clean_ended_runs

    try:
        age = _age_seconds(args.older_than)
    except ValueError as exc:
        print(f"xlr8: error: {exc}", file=err)
        return EXIT_USAGE
    folders = [Path(f).expanduser() for f in args.folders]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        print(f"xlr8: error: not a folder: {', '.join(missing)}; nothing was removed", file=err)
        return EXIT_USAGE
    found = clean_ended_runs(folders, age, dry_run=args.dry_run)
    for path in found.removed:
        print(f"{'would remove' if args.dry_run else 'removed'} {path}", file=out)
    for folder in found.held:
        print(f"skipped {folder}: a running target or mapper reads BATCH files there; run again when it has ended",
              file=err)  # fmt: skip
    for failure in found.failed:
        print(f"failed {failure}", file=err)
    print(
        f"{len(found.removed)} file(s) {'would be ' if args.dry_run else ''}removed; kept: {found.live} of runs "
        f"still going, {found.open} open in a process, {found.recent} newer than {args.older_than}"
        + (f"; {len(found.held)} folder(s) skipped (a reader running)" if found.held else "")
        + (f"; {len(found.failed)} file(s) or folder(s) failed" if found.failed else ""),
        file=out,
    )
    return 1 if found.held or found.failed else EXIT_OK


def _add_plugin_commands(commands: Any) -> None:
    """Commands other installed packages add (``xlr8.commands`` entry points), e.g. ``truths`` from the target and
    ``gather`` from xlr8-gatherer, so the kit never imports the packages built on it."""
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group="xlr8.commands"), key=lambda e: e.name):
        entry.load()(commands)


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        if args.command == "translate":
            return _translate(args, out, err)
        return int(args.handler(args, out, err))
    except (QueryError, VocabularyError) as exc:
        print(f"xlr8: error: {exc}", file=err)
        return EXIT_USAGE


def describe(result: Translation) -> dict[str, Any]:
    return {
        "product": result.product,
        "dialect": result.dialect,
        "entity": result.entity,
        "stream": result.stream,
        "params": result.params,
        "query": result.query,
        "pushed_down": format_filter(result.pushed) if result.pushed is not None else None,
        "post_fetch": format_filter(result.residual) if result.residual is not None else None,
        "select": list(result.select),
        "limit": result.limit,
        "limit_pushed": result.limit_pushed,
        "nothing_to_fetch": result.empty,
        "notes": list(result.notes),
    }


def _translate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Every target that can be translated is printed; each one that cannot says why (exit 1 when any failed)."""
    targets = [t.strip() for t in args.to.split(",") if t.strip()]
    if not targets:
        raise VocabularyError("--to needs at least one product id")
    failed = 0
    for target in targets:
        try:
            result = translate(args.query, args.source, target, allow_post_filter=not args.strict)
        except (QueryError, VocabularyError) as exc:
            if isinstance(exc, QuerySyntaxError):
                raise  # the query itself is wrong: the same for every target
            failed += 1
            if args.json:
                print(json.dumps({"product": target, "error": str(exc)}, sort_keys=True), file=out)
            else:
                print(f"xlr8: error: {target}: cannot translate: {exc}", file=err)
            continue
        info = describe(result)
        if args.json:
            print(json.dumps(info, sort_keys=True), file=out)
            continue
        print(f"{result.product} ({result.dialect}) stream {result.stream}:", file=out)
        if result.empty:
            print("  nothing to fetch: the filter can never match", file=out)
        if result.query:
            print(f"  request: {result.query}", file=out)
        for key, value in result.params.items():
            print(f"    {key} = {value}", file=out)
        print(f"  pushed down: {info['pushed_down'] or 'nothing'}", file=out)
        print(f"  after fetching: {info['post_fetch'] or 'nothing'}", file=out)
        if result.limit is not None:
            where = "by the product" if result.limit_pushed else "after fetching"
            print(f"  limit {result.limit} applied {where}", file=out)
    if failed == len(targets):
        return EXIT_USAGE
    return EXIT_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
