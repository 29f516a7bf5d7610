"""``xlr8 gather``: registered on the kit's ``xlr8`` command through the ``xlr8.commands`` entry point group.

Exit codes: 0 every row read landed; 1 nothing could be gathered, or rows were dead-lettered (the output says how
many, per product and entity); 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import typing as t

from xlr8_gather import gather as gathering
from xlr8_kit.connectors.base import ConnectorError
from xlr8_kit.redaction import Redactor


def register(commands: t.Any) -> None:
    ga = commands.add_parser(
        "gather",
        help="answer a question with live data from the project's products, landed as truths",
        description="Finds the entities and products the question is about (rule-based), reads each product with "
        "the project's credentials, lands the rows through target-xlr8-truths, prints the answer computed from the "
        "landed rows, then the truths per product (rows read, landed, dead-lettered).",
    )
    ga.add_argument("question")
    ga.add_argument(
        "--project",
        required=True,
        help="engine project id (UUID) or project name (a name maps to uuid5(XLR8_PROJECT_NAMESPACE, name))",
    )
    ga.add_argument("--products", help="only these product ids or aliases (comma-separated)")
    ga.add_argument("--store", help="credential store location (default: $XLR8_CREDENTIALS_STORE or .xlr8/...)")
    ga.add_argument("--duckdb", default=".xlr8/truths.duckdb", help="truths store file (default %(default)s)")
    ga.add_argument("--sandbox", action="store_true", help="use the running xlr8-sandbox (fixed ports) instead")
    ga.add_argument("--json", action="store_true", help="print the truths as JSON")
    ga.set_defaults(handler=run_gather_cli)


def run_gather_cli(args: argparse.Namespace, out: t.TextIO, err: t.TextIO) -> int:
    """Progress on stderr; the answer, then a table of truths per product, on stdout."""
    sources = gathering.sandbox_sources() if args.sandbox else None
    products = [p.strip() for p in (args.products or "").split(",") if p.strip()]
    report = gathering.GatherReport()
    try:
        gathering.gather(
            args.question,
            project=args.project,
            sources=sources,
            store=args.store,
            duckdb_path=args.duckdb,
            products=products or None,
            progress=lambda message: print(message, file=err, flush=True),
            report=report,
            target_settings=gathering.CLI_TARGET_SETTINGS,
        )
    except (ConnectorError, ValueError) as exc:
        print(f"xlr8: error: {Redactor.default().redact(str(exc))}", file=err)
        return 2
    if args.json:
        print(json.dumps([gathering.truth_json(tr) for tr in report.truths], default=str, indent=2), file=out)
    else:
        print(gathering.render(report), file=out)
    if report.dead_lettered or report.unaccounted:
        print(
            f"xlr8: {report.dead_lettered} row(s) dead-lettered, {report.unaccounted} unaccounted for; "
            "see the table above and the store's dead-letter table",
            file=err,
        )
        return 1
    if report.failed:
        failed = ", ".join(f"{product} {entity}" for product, entity in report.failed)
        print(f"xlr8: the read of {failed} failed; see the table above", file=err)
        return 1
    return 0 if report.truths else 1
