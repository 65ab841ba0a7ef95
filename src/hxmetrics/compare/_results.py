"""The result types of :mod:`hxmetrics.compare`: a siloed-vs-unified comparison and a
pooled-vs-stratified check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from hxmetrics._compat import warn_renamed
from hxmetrics._display import DisplayMixin
from hxmetrics.compare._axes import keyword_ax

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["SiloComparison", "SimpsonCheck"]


@dataclass(frozen=True, eq=False, repr=False)
class SiloComparison(DisplayMixin):
    """Siloed vs unified estimates of one measure, their gap and its decomposition.

    Attributes
    ----------
    measure : str
        What was measured.
    role : str
        For whom: ``"all"`` or a role (``customer``, ``worker``, ``partner``). The
        old name ``group`` still reads it, with a :class:`DeprecationWarning`.
    estimates : pandas.DataFrame
        One row per estimator of :data:`ESTIMATORS`: ``estimator``, ``description``,
        ``n_responses``, ``n_units`` (silo records for ``siloed``, persons
        otherwise), ``n_persons`` (resolved persons behind them), ``estimate``,
        ``se`` (person-clustered), ``ci_low``, ``ci_high`` and, with a bootstrap,
        ``se_bootstrap``.
    difference : pandas.DataFrame
        One row: ``siloed``, ``unified``, ``difference`` (siloed - unified), ``se``
        (person-clustered, accounting for the same people in both), ``ci_low``,
        ``ci_high``, ``z``, ``p_value``, ``se_independent`` (what treating the two
        as independent samples would give) and, with a bootstrap, ``se_bootstrap``.
    decomposition : pandas.DataFrame
        ``component`` (:data:`COMPONENTS`, then ``total``), ``from_estimator``,
        ``to_estimator``, ``contribution`` (from - to: how much this step moves the
        siloed figure away from the unified one), ``se``, ``ci_low``, ``ci_high``,
        ``share_of_gap`` and, with a bootstrap, ``se_bootstrap``. The
        contributions add up exactly to the total gap.
    strata : pandas.DataFrame
        The pooled comparison next to the stratified one: ``level`` (``pooled`` or
        ``stratum``), ``roles`` (held at response time, ``unattributed`` for rows
        the registry cannot place), ``hybrid_type``, ``n_siloed`` and ``n_unified``
        (responses), ``siloed``, ``unified``, ``difference``, ``se``, ``ci_low``,
        ``ci_high``, ``opposite_sign``.
    simpson : dict
        ``kind`` (``none``, ``majority``, ``all``) and ``share_opposite``: whether the
        pooled gap points the other way from the strata (see
        :func:`pooled_vs_stratified`).
    overlap : pandas.DataFrame
        Silo x silo counts of respondents (resolved persons; ids the registry cannot
        link count as their own person): the diagonal is the persons who answered in
        that silo, off-diagonal those who answered in both.
    exclusions : pandas.DataFrame
        ``reason``, ``n`` (response rows), ``excluded_from`` (the estimators that do
        not use them): nothing is dropped silently.
    confidence : float
        Interval level.
    """

    measure: str
    role: str
    estimates: pd.DataFrame
    difference: pd.DataFrame
    decomposition: pd.DataFrame
    strata: pd.DataFrame
    simpson: Mapping[str, Any]
    overlap: pd.DataFrame
    exclusions: pd.DataFrame
    confidence: float
    unit: str = ""

    def summary(self) -> pd.DataFrame:
        """The four estimates and the gap components in one table."""
        est = self.estimates[["estimator", "estimate", "se", "ci_low", "ci_high"]].rename(
            columns={"estimator": "row"}
        )
        dec = self.decomposition[["component", "contribution", "se", "ci_low", "ci_high"]]
        dec = dec.rename(columns={"component": "row", "contribution": "estimate"})
        out = pd.concat([est, dec], ignore_index=True)
        out["row"] = out["row"].astype("str")
        return out

    @property
    def group(self) -> str:
        """Deprecated name of :attr:`role`."""
        warn_renamed("SiloComparison", "group", "role")
        return self.role

    @keyword_ax
    def plot(self, *, ax: Axes | None = None) -> Axes:
        """Waterfall from the siloed to the unified estimate (see :func:`plot_decomposition`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (keyword only); a new figure if omitted.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from hxmetrics.compare._plots import plot_decomposition

        return plot_decomposition(self, ax=ax)

    def _display_title(self) -> str:
        return f"Siloed vs unified {self.measure} (role {self.role!r})"

    def _display_notes(self) -> Sequence[str]:
        d = self.difference.iloc[0]
        notes = [
            f"gap siloed - unified = {d['difference']:.2f} (se {d['se']:.2f}, "
            f"p = {d['p_value']:.3g}; same persons in both, clustered by person)"
        ]
        if self.simpson.get("kind", "none") != "none":
            notes.append(
                "Simpson check: the pooled gap points the other way from "
                f"{self.simpson['kind']} strata; read the stratified table"
            )
        excluded = self.exclusions[self.exclusions["n"] > 0]
        for row in excluded.itertuples(index=False):
            notes.append(f"{row.n} response(s) {row.reason}: not in {row.excluded_from}")
        return notes


@dataclass(frozen=True, eq=False, repr=False)
class SimpsonCheck(DisplayMixin):
    """A comparison shown pooled and within strata, with a Simpson's-paradox flag.

    Attributes
    ----------
    table : pandas.DataFrame
        ``level`` (``"pooled"``, ``"standardised"`` or ``"stratum"``), the strata
        columns, ``n_a``, ``n_b``, ``estimate_a``, ``estimate_b``, ``difference``
        (a - b), ``se``, ``ci_low``, ``ci_high``, ``opposite_sign`` (the stratum's
        difference has the sign opposite to the pooled one).
    pooled : float
        The pooled difference a - b.
    standardised : float
        The strata differences averaged with the strata's shares of all rows
        (direct standardisation): the comparison with the composition held fixed.
    share_opposite : float
        Share of rows (in strata with both sides) whose stratum difference has the
        opposite sign to the pooled one.
    kind : {"none", "majority", "all"}
        ``"all"``: every stratum with a non-zero difference disagrees in sign with
        the pooled difference (a full reversal); ``"majority"``: strata holding more
        than half of the rows disagree; ``"none"`` otherwise.
    """

    table: pd.DataFrame
    pooled: float
    standardised: float
    share_opposite: float
    kind: str
    levels: tuple[Any, Any] = field(default=("a", "b"))

    @property
    def reversal(self) -> bool:
        """True when the pooled comparison points the other way from most strata."""
        return self.kind != "none"

    def summary(self) -> pd.DataFrame:
        """The table (pooled, standardised, then one row per stratum)."""
        return self.table

    def _display_title(self) -> str:
        a, b = self.levels
        return f"Pooled vs stratified: {a} - {b} ({len(self.table) - 2} strata)"

    def _display_notes(self) -> Sequence[str]:
        verdict = {
            "none": "no Simpson reversal",
            "majority": "Simpson reversal: most strata point the other way",
            "all": "Simpson reversal: every stratum points the other way",
        }[self.kind]
        notes = [f"{verdict} (share of rows in opposite-sign strata {self.share_opposite:.2f})"]
        meta = self.table.attrs.get("hxmetrics", {})
        missing = meta.get("excluded", {}).get("missing", 0)
        if missing:
            notes.append(f"{missing} row(s) without a value in {meta['value']!r} left out")
        return notes
