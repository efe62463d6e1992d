"""The console script: a bare ``--version`` is answered here, anything else runs the typer app.

The app imports typer and every command's option declarations; the version needs none of it,
so it is printed before they are imported (the whole process in a few tens of milliseconds).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        from awsideman import __version__
        from awsideman.render import raw_line

        raw_line(f"awsideman {__version__}")
        sys.exit(0)
    from awsideman.cli.app import main as run_app

    run_app(args)
