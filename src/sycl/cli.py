"""The ``sycl`` command: one entry point, one module per subcommand in ``sycl.commands``.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments and returning an exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sycl import __version__
from sycl.io.errors import UserError
from sycl.log import setup_logging

# Order is the order of the pipeline; each entry is a module in sycl.commands.
COMMANDS = [
    "validate",
    "mine",
    "generate",
    "evaluate",
    "train",
    "report",
    "compare",
    "push",
    "run",
    "quickstart",
    "info",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sycl",
        description="SyCL: synthetic multi-level ranking contexts and list-wise training of dense retrievers.",
    )
    parser.add_argument("--version", action="version", version=f"sycl {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors; no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"sycl.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.quiet)
    try:
        return int(args.func(args) or 0)
    except UserError as err:  # bad input, settings or setup (a DataError, an unavailable backend, ...)
        print(f"sycl {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sycl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
