#!/usr/bin/env bash
# Build the documentation site offline, warnings as errors:
#   bash docs/build.sh                     # with python3 from PATH
#   PYTHON=.venv/bin/python bash docs/build.sh
# Needs the "docs" extra (sphinx, pydata-sphinx-theme, numpydoc, myst-parser, myst-nb,
# nbclient, ipykernel). Before reading the pages, conf.py executes the notebooks into
# docs/notebooks/ and, when src/hxmetrics changed since the last build, rebuilds the
# sample report for the gallery (docs/plot_report_gallery.py into docs/_static/gallery/);
# both folders are generated and ignored by git. About 1.5 minutes of CPU in all.
# Output: docs/_build/html/index.html (and sample-report.html beside it)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
export MPLBACKEND=Agg PYTHONHASHSEED=0
# A fresh environment each time (-E): a page added or removed is never masked by a
# stale pickle from an earlier build.
exec "$python" -m sphinx -E -W --keep-going -b html -d "$here/_build/doctrees" \
    "$here" "$here/_build/html" "$@"
