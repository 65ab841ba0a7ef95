"""``python -m hxmetrics.report``: the main job, with the options of ``hxmetrics report``."""

from __future__ import annotations

import argparse
import sys

from hxmetrics.errors import HxError, InputTableError, ParameterError
from hxmetrics.report.main import add_report_arguments, report_from_args


def main(argv: list[str] | None = None) -> int:
    """Parse the options, write the report; exit codes as ``hxmetrics report``.

    1 invalid input, 2 a usage error (a bad option value, an ``--out`` that may not be
    written), 3 another failure, 130 interrupted.
    """
    parser = add_report_arguments(
        argparse.ArgumentParser(
            prog="python -m hxmetrics.report",
            description="Write the human-experience report (one self-contained HTML file).",
        )
    )
    args = parser.parse_args(argv)
    try:
        return report_from_args(args)
    except KeyboardInterrupt:
        print("hxmetrics: interrupted", file=sys.stderr)
        return 130
    except ParameterError as exc:
        print(f"hxmetrics: error: {exc}", file=sys.stderr)
        return 2
    except InputTableError as exc:
        print(f"hxmetrics: invalid input:\n{exc}", file=sys.stderr)
        return 1
    except HxError as exc:
        print(f"hxmetrics: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
