"""Internal consistency of the index's core items: one index needs items that agree.

An index adds items up as if they measured one thing. When they do not (Cronbach's
alpha of the pooled complete responses near zero), the index is a sum of unrelated
numbers: :func:`check_consistency` says so with an :class:`~hxmetrics.errors.HxWarning`
that names the alpha found and what to do.

The bar, :data:`MIN_ALPHA` = 0.5, is the "unacceptable" band of George & Mallery
(2003, p. 231: alpha < 0.5 unacceptable, 0.5-0.6 poor, 0.6-0.7 questionable, 0.7-0.8
acceptable); it sits below the 0.70 that Nunnally & Bernstein (1994, pp. 264-265) ask
of scales used to compare groups, which :func:`~hxmetrics.measures.reliability.
reliability` checks. The warning is given only when the data show alpha below the bar:
the upper end of Feldt's 95% interval (Feldt, Woodruff & Salih 1987) is below it, on
at least :data:`MIN_RESPONSES` complete responses, so a handful of answers that cannot
tell does not warn.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from hxmetrics.errors import HxWarning


@dataclass(frozen=True)
class ItemMoments:
    """Sums over the complete responses (those answering every core item).

    ``n`` responses, ``sums[j]`` = Σ x_j and ``cross[j, l]`` = Σ x_j x_l: everything
    alpha and the factor weights read, aggregated on the engine (sums of integer
    scores are exact, so the same on every engine).
    """

    n: int
    sums: np.ndarray
    cross: np.ndarray

    @classmethod
    def of(cls, matrix: np.ndarray) -> ItemMoments:
        """The moments of a (responses x items) matrix of complete responses."""
        x = np.asarray(matrix, dtype=float)
        return cls(int(x.shape[0]), x.sum(axis=0), x.T @ x)

    def covariance(self) -> np.ndarray:
        """Sample covariance matrix of the items (NaN with fewer than 2 responses)."""
        if self.n < 2:
            return np.full(self.cross.shape, np.nan)
        return (self.cross - np.outer(self.sums, self.sums) / self.n) / (self.n - 1)

    def alpha(self) -> float:
        """Cronbach's alpha: k/(k-1) (1 - Σ var_j / var(total)); NaN if undefined."""
        k = len(self.sums)
        if k < 2 or self.n < 2:
            return math.nan
        cov = self.covariance()
        total_var = float(cov.sum())
        if not total_var > 0:
            return math.nan
        return k / (k - 1) * (1.0 - float(np.trace(cov)) / total_var)


__all__ = ["MIN_ALPHA", "ItemMoments", "check_consistency", "cronbach_alpha_long"]

#: Smallest Cronbach's alpha of the pooled core items for which :func:`hx_index` builds
#: one index without an :class:`~hxmetrics.errors.HxWarning` (George & Mallery 2003:
#: below 0.5 is "unacceptable").
MIN_ALPHA = 0.5
#: Level of the Feldt interval whose upper end must fall below :data:`MIN_ALPHA`.
CHECK_CONFIDENCE = 0.95
#: Fewest complete responses on which alpha is judged: below about 30 its sampling
#: distribution is too wide and too far from Feldt's normal-theory F for a verdict
#: (Yurdugül 2008, a Monte Carlo study of the minimum sample size for alpha).
MIN_RESPONSES = 30


def cronbach_alpha_long(
    response: np.ndarray, item: np.ndarray, score: np.ndarray, n_items: int
) -> tuple[float, int]:
    """Cronbach's alpha of long answers over the responses that answer every item.

    Parameters
    ----------
    response, item : array of int
        Codes of each answer's response (any non-negative integers) and item
        (``0 .. n_items - 1``); each (response, item) pair at most once.
    score : array of float
        The answers.
    n_items : int
        Number of items.

    Returns
    -------
    (alpha, n)
        Alpha (NaN with fewer than two items or two complete responses, or no variance
        of the total) and the number of complete responses.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1, 2], [2, 3], [3, 3], [4, 5.0]])
    >>> r, i = np.divmod(np.arange(8), 2)
    >>> round(cronbach_alpha_long(r, i, x.ravel(), 2)[0], 4)
    0.96
    """
    if n_items < 2 or response.size == 0:
        return math.nan, 0
    n_resp = int(response.max()) + 1
    complete = np.bincount(response, minlength=n_resp) == n_items
    n = int(complete.sum())
    if n < 2:
        return math.nan, n
    keep = complete[response]
    r, i, x = response[keep], item[keep], score[keep]
    mean = np.bincount(i, weights=x, minlength=n_items) / n
    item_var = np.bincount(i, weights=(x - mean[i]) ** 2, minlength=n_items) / (n - 1)
    total = np.bincount(r, weights=x, minlength=n_resp)[complete]
    total_var = float(total.var(ddof=1))
    if not total_var > 0:
        return math.nan, n
    return n_items / (n_items - 1) * (1.0 - float(item_var.sum()) / total_var), n


def check_consistency(alpha: float, n: int, items: list[str], *, stacklevel: int = 2) -> str | None:
    """Warn (:class:`~hxmetrics.errors.HxWarning`) when alpha is clearly below the bar.

    Returns the warning's text (for the result's notes), or None.
    """
    k = len(items)
    if not (math.isfinite(alpha) and alpha < MIN_ALPHA and k >= 2 and n >= MIN_RESPONSES):
        return None
    from hxmetrics.measures.reliability import feldt_interval  # scipy: only when needed

    _, upper = feldt_interval(alpha, n, k, confidence=CHECK_CONFIDENCE)
    if not upper < MIN_ALPHA:
        return None
    text = (
        # No count in the text: a total of every group's responses, shown beside a
        # table with hidden groups, would give their size back by subtraction.
        f"the core items {items} hardly measure one thing: Cronbach's alpha of the "
        f"complete responses is {alpha:.4f} ({CHECK_CONFIDENCE:.0%} interval up to "
        f"{upper:.3f}), below {MIN_ALPHA} (George & Mallery 2003: unacceptable), so one "
        "index adds up unrelated numbers. Check the items with "
        "hxmetrics.measures.reliability.item_total() (reverse-keyed items, another "
        "construct, a mis-coded scale), report the items separately, or build the index "
        "on the items that belong together."
    )
    warnings.warn(text, HxWarning, stacklevel=stacklevel + 1)
    return text
