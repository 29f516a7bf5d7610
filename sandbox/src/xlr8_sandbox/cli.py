"""``xlr8-sandbox``: serve the vendor emulators on 127.0.0.1 until Ctrl-C or SIGTERM.

Prints each product's URL and the test credentials it accepts, so a consultant can point a tap (or curl) at it.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from types import FrameType

from xlr8_sandbox.platform.faults import PROFILES
from xlr8_sandbox.platform.server import DEFAULT_PORTS, Sandbox, run_sandbox, tune_collector_for_serving


def build_parser() -> argparse.ArgumentParser:
    from xlr8_sandbox.products import EMULATORS

    parser = argparse.ArgumentParser(
        prog="xlr8-sandbox",
        description="Serve vendor API emulators on 127.0.0.1 (default: every registered product on its fixed port).",
        epilog="Admin API on every product port under /__sandbox/ (faults, latency, clock, tokens, reset); "
        f"registered products: {', '.join(sorted(EMULATORS)) or 'none yet'}.",
    )
    parser.add_argument("products", nargs="*", help="product ids to serve (default: all registered)")
    parser.add_argument("--seed", type=int, default=42, help="fictional company seed (default 42)")
    parser.add_argument("--scale", type=positive_int, default=100, help="employees at sandbox start (default 100)")
    parser.add_argument("--latency-ms", type=non_negative_float, default=0.0, help="delay added to every request")
    parser.add_argument("--faults", choices=sorted(PROFILES), default=None, help="named fault profile")
    parser.add_argument("--ephemeral", action="store_true", help="free ports instead of the fixed sandbox ports")
    parser.add_argument("--json", action="store_true", help="print one JSON line with URLs and credentials")
    parser.add_argument("--quiet", action="store_true", help="do not log each request to stderr")
    return parser


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def non_negative_float(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return number


def describe(sandbox: Sandbox) -> dict[str, dict[str, object]]:
    return {
        product_id: {
            "title": running.emulator.title or product_id,
            "url": running.url,
            "credentials": running.emulator.test_credentials(),
        }
        for product_id, running in sandbox.products.items()
    }


def print_banner(sandbox: Sandbox, args: argparse.Namespace) -> None:
    company = sandbox.ctx.company
    print(f"xlr8 sandbox: seed {company.seed}, {company.scale:,} employees, sandbox time {sandbox.ctx.clock.now()}")
    if args.latency_ms or args.faults:
        print(f"  latency {args.latency_ms:g} ms per request; fault profile: {args.faults or 'none'}")
    for product_id, info in describe(sandbox).items():
        print(f"\n  {info['title']} ({product_id})")
        print(f"    url:   {info['url']}")
        for key, value in dict(info["credentials"]).items():  # type: ignore[call-overload]
            shown = value if "\n" not in str(value) else f"<{len(str(value))} characters, multi-line: see --json>"
            print(f"    {key}: {shown}")
    print("\nAdmin API on each port: /__sandbox/faults, /latency, /clock/advance, /tokens/revoke, /reset")
    print("Stop with Ctrl-C (or SIGTERM).", flush=True)


def main(argv: list[str] | None = None) -> int:
    from xlr8_sandbox.products import EMULATORS

    args = build_parser().parse_args(argv)
    products = args.products or sorted(EMULATORS)
    if not products:
        print("xlr8-sandbox: no product emulators are registered yet", file=sys.stderr)
        return 1
    unknown = [p for p in products if p not in EMULATORS]
    if unknown:
        print(
            f"xlr8-sandbox: unknown product(s) {', '.join(unknown)}; available: {', '.join(sorted(EMULATORS))}",
            file=sys.stderr,
        )
        return 2
    if not args.quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        requests_log = logging.getLogger("xlr8_sandbox.requests")
        requests_log.addHandler(handler)
        requests_log.setLevel(logging.INFO)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with run_sandbox(
            products,
            seed=args.seed,
            scale=args.scale,
            fixed_ports=not args.ephemeral,
            latency_ms=args.latency_ms,
            faults=args.faults,
        ) as sandbox:
            tune_collector_for_serving()
            if args.json:
                print(json.dumps(describe(sandbox)), flush=True)
            else:
                print_banner(sandbox, args)
            while not stop.wait(0.5):
                pass
    except OSError as exc:
        print(f"xlr8-sandbox: {exc}", file=sys.stderr)
        return 1
    print("xlr8 sandbox stopped.", file=sys.stderr)
    return 0


__all__ = ["DEFAULT_PORTS", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
