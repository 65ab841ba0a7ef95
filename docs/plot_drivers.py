"""Draw docs/_static/drivers_quadrant.png and print the page's table.

    python docs/plot_drivers.py

On the bundled sample (:func:`hxmetrics.datasets.load_sample`): the workers' and
partners' and customers' likelihood to recommend (``nps``/``ltr``) explained by the six
``hx_core`` items, one Shapley (LMG) decomposition per silo with 1,000 bootstrap
resamples; the figure is the importance x performance chart of the workers.
Everything drawn is computed by hxmetrics.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from hxmetrics.datasets import load_sample
from hxmetrics.measures.drivers import driver_table, key_drivers, plot_key_drivers

OUT = Path(__file__).resolve().parent / "_static" / "drivers_quadrant.png"
ITEMS = ["hx1", "hx2", "hx3", "hx4", "hx5", "hx6"]


def main() -> None:
    sample = load_sample()
    wide = driver_table(sample.responses, ("nps", "ltr"), "hx_core", by="silo", weights="weight")
    result = key_drivers(
        wide,
        "ltr",
        ITEMS,
        method="shapley",
        by="silo",
        weights="weight",
        n_resamples=1000,
        random_state=1,
        min_n=10,
    )
    columns = [
        "silo",
        "driver",
        "n",
        "estimate",
        "ci_low",
        "ci_high",
        "pct_of_r2",
        "rank",
        "rank_low",
        "rank_high",
        "r2",
    ]
    table = result[columns].round(3).astype(str)
    print("| " + " | ".join(columns) + " |")
    print("| " + " | ".join("---" for _ in columns) + " |")
    for row in table.itertuples(index=False):
        print("| " + " | ".join(row) + " |")
    fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    plot_key_drivers(result, group="workers", ax=ax)
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
