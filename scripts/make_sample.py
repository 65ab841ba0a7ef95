"""Regenerate the committed sample organisation in data/samples/.

    python scripts/make_sample.py            # rewrite data/samples/
    python scripts/make_sample.py OUTDIR     # write elsewhere (e.g. to compare)

The sample is ``simulate_organisation(**SAMPLE_SETTINGS)``; the test
``tests/datasets/test_sample.py`` fails when the files and the generator differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hxmetrics.datasets import SAMPLE_SETTINGS, simulate_organisation, write_organisation

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "data" / "samples"
    org = simulate_organisation(**SAMPLE_SETTINGS)
    paths = write_organisation(org, out)
    total = sum(p.stat().st_size for p in paths)
    print(f"wrote {len(paths)} files, {total / 1e6:.2f} MB, to {out}")
    print(org)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
