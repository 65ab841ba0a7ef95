"""``python -m hxmetrics.report``: the main job, with the options of ``hxmetrics report``."""

from __future__ import annotations

import argparse
import sys

from hxmetrics.errors import HxError, InputTableError
from hxmetrics.report.main import add_report_arguments, report_from_args


def main(argv: list[str] | None = None) -> int:
    """Parse the options, write the report; exit 1 on invalid input, 3 on other errors."""
    parser = add_report_arguments(
        argparse.ArgumentParser(
            prog="python -m hxmetrics.report",
            description="Write the human-experience report (one self-contained HTML file).",
        )
    )
    args = parser.parse_args(argv)
    try:
        return report_from_args(args)
    except InputTableError as exc:
        print(f"hxmetrics: invalid input:\n{exc}", file=sys.stderr)
        return 1
    except HxError as exc:
        print(f"hxmetrics: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
