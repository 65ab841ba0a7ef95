"""Evaluation of identity resolution against the true persons: pairwise precision and recall."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hxmetrics.errors import check_columns
from hxmetrics.stakeholders._rosters import row_error

__all__ = ["exact_matches", "resolution_scores"]


def _align(crosswalk: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    check_columns(crosswalk.columns, ["silo", "source_id", "person_id"], table="crosswalk")
    check_columns(truth.columns, ["silo", "source_id", "person_id"], table="truth")
    found = crosswalk[["silo", "source_id", "person_id"]].astype("str")
    true = truth[["silo", "source_id", "person_id"]].drop_duplicates().astype("str")
    dup = true.duplicated(["silo", "source_id"], keep=False)
    if bool(dup.any()):
        raise row_error(
            "truth",
            "person_id",
            "one_person_per_record",
            true.loc[dup, "source_id"],
            "Each (silo, source_id) must belong to one true person.",
        )
    return found.merge(true, on=["silo", "source_id"], how="inner", suffixes=("_found", "_true"))


def _pairs(counts: np.ndarray) -> float:
    c = counts.astype(float)
    return float(np.sum(c * (c - 1) / 2))


def resolution_scores(crosswalk: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Pairwise precision and recall of a crosswalk against the true persons.

    A pair of records is *found* if the crosswalk puts them in one person and
    *true* if the truth does. Precision = correct found pairs / found pairs;
    recall = correct found pairs / true pairs (both 1.0 when there are no pairs).
    Records missing from either table are counted, not scored.

    Parameters
    ----------
    crosswalk, truth : pandas.DataFrame
        Each with ``silo``, ``source_id``, ``person_id``.

    Returns
    -------
    pandas.DataFrame
        One row: ``n_records`` (scored), ``n_unmatched`` (records in only one
        table), ``n_persons_true``, ``n_persons_found``, ``true_pairs``,
        ``found_pairs``, ``correct_pairs``, ``precision``, ``recall``, ``f1``,
        ``exact_persons`` (share of true persons whose records are exactly one
        found person).

    References
    ----------
    Christen (2012), *Data Matching*, Springer, ch. 7 (pairwise precision/recall).

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import resolution_scores
    >>> truth = pd.DataFrame({"silo": ["workers"] * 3, "source_id": ["a", "b", "c"],
    ...                       "person_id": ["x", "x", "y"]})
    >>> found = truth.assign(person_id=["p", "q", "q"])
    >>> resolution_scores(found, truth)[["true_pairs", "found_pairs", "precision", "recall"]]
       true_pairs  found_pairs  precision  recall
    0         1.0          1.0        0.0     0.0
    """
    both = _align(crosswalk, truth)
    n_unmatched = (
        len(crosswalk) + len(truth[["silo", "source_id"]].drop_duplicates()) - 2 * len(both)
    )
    f = pd.factorize(both["person_id_found"])[0]
    t = pd.factorize(both["person_id_true"])[0]
    cell = np.unique(f.astype(np.int64) * (t.max() + 1 if t.size else 1) + t, return_counts=True)[1]
    found_sizes = np.bincount(f) if f.size else np.zeros(0, int)
    true_sizes = np.bincount(t) if t.size else np.zeros(0, int)
    correct, found_p, true_p = _pairs(cell), _pairs(found_sizes), _pairs(true_sizes)
    precision = correct / found_p if found_p else 1.0
    recall = correct / true_p if true_p else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    exact = exact_matches(crosswalk, truth)
    return pd.DataFrame(
        {
            "n_records": [len(both)],
            "n_unmatched": [int(n_unmatched)],
            "n_persons_true": [int(true_sizes.size)],
            "n_persons_found": [int(found_sizes.size)],
            "true_pairs": [true_p],
            "found_pairs": [found_p],
            "correct_pairs": [correct],
            "precision": [precision],
            "recall": [recall],
            "f1": [f1],
            "exact_persons": [len(exact) / true_sizes.size if true_sizes.size else 1.0],
        }
    )


def exact_matches(crosswalk: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """True persons whose records resolve to exactly one found person and nothing else.

    Parameters
    ----------
    crosswalk, truth : pandas.DataFrame
        Each with ``silo``, ``source_id``, ``person_id``.

    Returns
    -------
    pandas.DataFrame
        ``person_id_true``, ``person_id_found``: one row per exactly recovered person.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.stakeholders import exact_matches
    >>> truth = pd.DataFrame({"silo": ["workers"] * 3, "source_id": ["a", "b", "c"],
    ...                       "person_id": ["x", "x", "y"]})
    >>> exact_matches(truth.assign(person_id=["p", "p", "q"]), truth)
      person_id_true person_id_found
    0              x               p
    1              y               q
    """
    both = _align(crosswalk, truth)
    # Counted on the ids as text, as _align compares them (cluster numbers are ids too).
    n_found = crosswalk["person_id"].astype("str").value_counts().rename("n_found")
    true = truth[["silo", "source_id", "person_id"]].drop_duplicates().astype("str")
    n_true = true["person_id"].value_counts()
    cells = both.groupby(["person_id_true", "person_id_found"]).size().rename("n").reset_index()
    cells = cells.merge(n_found.astype("int64"), left_on="person_id_found", right_index=True)
    cells = cells.merge(n_true.rename("n_true"), left_on="person_id_true", right_index=True)
    keep = (cells["n"] == cells["n_found"]) & (cells["n"] == cells["n_true"])
    out = cells.loc[keep, ["person_id_true", "person_id_found"]]
    return out.sort_values("person_id_true").reset_index(drop=True)
