"""The HX index as a fitted model: :class:`HXIndex` (the one implementation).

``HXIndex(items, ...).fit(data, by=...)`` reduces the answers, fixes the item weights
and the scale, computes every group's index with its person-clustered bootstrap
interval and keeps the grouped result in ``result_``; :func:`~hxmetrics.measures.
index.hx_index` is that result in one call. The model follows the package's model
protocol: ``fit`` returns the model, ``params_`` holds what was fitted, ``summary()``,
``plot(ax=)``, ``_repr_html_`` and a JSON round trip (``to_dict``/``from_dict``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from hxmetrics._display import DisplayMixin
from hxmetrics.errors import ParameterError
from hxmetrics.measures._result import grouped_result
from hxmetrics.measures.index.bootstrap import _group_rngs, _resampled_sums, _summarise_reps
from hxmetrics.measures.index.consistency import check_consistency
from hxmetrics.measures.index.group_modules import _add_modules, _check_modules
from hxmetrics.measures.index.options import (
    RandomState,
    Scale,
    Weighting,
    _as_list,
    _check_common,
    _check_items,
    _seed,
)
from hxmetrics.measures.index.prepare import BOOTSTRAP_BUCKETS, _prepare
from hxmetrics.measures.index.scoring import (
    _check_point,
    _hidden,
    _index_from_sums,
    _missing_item_notes,
    _reference_index,
    _Spec,
)
from hxmetrics.measures.index.weights import _resolve_weights

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["HXIndex"]

_STATE_FORMAT = 1
#: Normalisations whose index lies on 0-100 (the others are unbounded above).
_BOUNDED = ("minmax", "pooled_minmax", "rank")


def _check_confidence(confidence: Any) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)):
        raise ParameterError(f"confidence must be a number between 0 and 1; got {confidence!r}.")
    if not 0.0 < float(confidence) < 1.0:
        raise ParameterError(f"confidence must be between 0 and 1 (e.g. 0.95); got {confidence!r}.")
    return float(confidence)


def _check_resamples(n_resamples: int) -> int:
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, (int, np.integer))
        or n_resamples < 0
    ):
        raise ParameterError(
            f"n_resamples must be a whole number >= 0 (0 skips the intervals); got {n_resamples!r}."
        )
    return int(n_resamples)


def _jsonable(value: Any) -> Any:
    """Plain JSON types: tuples -> lists, numpy scalars -> Python, NaN and NA -> None."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA:
        return None
    return value


class HXIndex(DisplayMixin):
    """Cross-group HX index on a fixed 0-100 scale, as a fitted model.

    Parameters
    ----------
    items : list of str
        The common core items every group answers (e.g. ``hx1`` .. ``hx6``).
    weighting, normalise, aggregate, scale, shift, reference, modules, module_share
        The index's construction; see :func:`~hxmetrics.measures.index.hx_index`.
    n_resamples : int, default 1000
        Bootstrap replicates (persons resampled within groups; buckets of persons in
        groups of more than 4096 persons, see :func:`~hxmetrics.measures.index.
        hx_index`); 0 skips intervals.
    confidence : float, default 0.95
        Level of the percentile intervals.
    min_n : int or None, default 10
        Groups with fewer persons (and their complements) are suppressed and take no
        part in pooled normalisations.
    random_state : int, Generator or None
        Seed of the bootstrap.

    Attributes
    ----------
    params_ : dict
        What was fitted: ``weights`` (item -> weight, summing to 1), ``loadings``
        (factor weighting, else None), ``scale`` (item -> [low, high], the min-max
        constants), ``normalise``, ``aggregate``, ``shift``, ``reference``, ``alpha``
        (Cronbach's alpha of the pooled core items) and ``n_alpha``.
    result_ : pandas.DataFrame
        The grouped result (the protocol of :func:`~hxmetrics.measures._result.
        grouped_result`: ``estimate`` is the index).
    notes_ : list of str
        What the reader should know (rescaled budget, missing items, low alpha, ...).
    by_ : list of str
        The group columns of the fit.

    Examples
    --------
    >>> import pandas as pd
    >>> from hxmetrics.measures.index import HXIndex
    >>> wide = pd.DataFrame({"team": ["a", "a", "b", "b"],
    ...                      "hx1": [5, 4, 2, 3], "hx2": [4, 4, 3, 1]})
    >>> model = HXIndex(["hx1", "hx2"], min_n=1, n_resamples=0).fit(wide, by="team")
    >>> model.params_["weights"]
    {'hx1': 0.5, 'hx2': 0.5}
    >>> model.summary()[["team", "n", "estimate"]]
      team  n  estimate
    0    a  2     81.25
    1    b  2     31.25
    """

    def __init__(
        self,
        items: Sequence[str],
        *,
        weighting: Weighting = "equal",
        normalise: str = "minmax",
        aggregate: Literal["linear", "geometric"] = "linear",
        scale: Scale = (1, 5),
        shift: float = 1.0,
        reference: Hashable | None = None,
        modules: Mapping[Hashable, Sequence[str]] | None = None,
        module_share: float | None = None,
        n_resamples: int = 1000,
        confidence: float = 0.95,
        min_n: int | None = 10,
        random_state: RandomState = None,
    ) -> None:
        self.items = items
        self.weighting = weighting
        self.normalise = normalise
        self.aggregate = aggregate
        self.scale = scale
        self.shift = shift
        self.reference = reference
        self.modules = modules
        self.module_share = module_share
        self.n_resamples = n_resamples
        self.confidence = confidence
        self.min_n = min_n
        self.random_state = random_state
        self.params_: dict[str, Any] | None = None
        self.result_: pd.DataFrame | None = None
        self.notes_: list[str] = []
        self.by_: list[str] = []

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        data: Any,
        *,
        by: str | Sequence[str],
        person: str | None = None,
        weights: str | None = None,
        response: str = "response_id",
    ) -> HXIndex:
        """Compute every group's index and interval; return the fitted model.

        Parameters
        ----------
        data : DataFrame
            Long answers (``item`` and ``score`` columns, one row per response x
            item) or wide (one column per item); any frame narwhals accepts.
        by : str or list of str
            Column(s) naming each answer's group.
        person : str, optional
            The person column the bootstrap resamples (all of a person's answers
            together); None: each response is its own person.
        weights : str, optional
            Column of positive survey weights per answer.
        response : str, default "response_id"
            Response id column (optional for wide data).

        Returns
        -------
        HXIndex
            ``self``, fitted.

        Warns
        -----
        HxWarning
            When the core items hardly measure one thing (Cronbach's alpha clearly
            below :data:`~hxmetrics.measures.index.MIN_ALPHA`).
        """
        return self._fit(data, by=by, person=person, weights=weights, response=response)

    def _fit(
        self,
        data: Any,
        *,
        by: str | Sequence[str],
        person: str | None,
        weights: str | None,
        response: str,
        stacklevel: int = 3,
        buckets: int = BOOTSTRAP_BUCKETS,
    ) -> HXIndex:
        items = _check_items(self.items)
        group_cols = _as_list(by)
        normalise, aggregate, shift, min_n = self.normalise, self.aggregate, self.shift, self.min_n
        _check_common(normalise, aggregate, shift, min_n)
        n_rep = _check_resamples(self.n_resamples)
        confidence = _check_confidence(self.confidence)
        module_map = _check_modules(self.modules, items)
        module_items = list(dict.fromkeys(i for its in module_map.values() for i in its))
        weighting = self.weighting
        d = _prepare(
            data,
            items,
            group_cols=group_cols,
            person=person,
            weights=weights,
            response=response,
            scale=self.scale,
            module_items=module_items,
            need_matrix=isinstance(weighting, str) and weighting == "factor",
            # Without resamples only each group's sums are needed: one unit per group.
            buckets=buckets if n_rep > 0 else 1,
        )
        item_w, _, loadings, notes = _resolve_weights(weighting, items, d.matrix)
        reference = self.reference
        spec = _Spec(normalise, aggregate, float(shift), _reference_index(reference, d))
        active = ~_hidden(d, min_n)
        if spec.reference is not None and not active[spec.reference]:
            raise ParameterError(
                f"reference group {reference!r} is suppressed: it has fewer than "
                f"min_n={min_n} persons, or hiding a smaller group required hiding it too."
            )
        low_alpha = check_consistency(d.alpha, d.n_alpha, items, stacklevel=stacklevel)
        if low_alpha is not None:
            notes.append(low_alpha)
        notes = notes + _missing_item_notes(d, active)

        sums = d.group_sums()
        point = _index_from_sums(*sums, data=d, active=active, spec=spec, weights=item_w)
        _check_point(point, d, active, spec)

        g_count = d.n_groups
        se = lo = hi = np.full(g_count, np.nan)
        reps = reps_sums = None
        if n_rep > 0:
            n_large = int((d.n_persons > buckets).sum())
            if n_large:
                notes.append(
                    f"{n_large} group(s) have more than {buckets} persons: their bootstrap "
                    f"resamples {buckets} random groups of whole persons (buckets) instead "
                    "of single persons."
                )
            rngs = _group_rngs(_seed(self.random_state), d.key_tuples())
            reps_sums = _resampled_sums(d, rngs, n_rep)
            reps = _index_from_sums(*reps_sums, data=d, active=active, spec=spec, weights=item_w)
            se, lo, hi = _summarise_reps(reps, confidence)
            failed = int(
                (~np.isfinite(reps[:, active])).sum() - n_rep * (~np.isfinite(point[active])).sum()
            )
            if failed > 0:
                notes.append(
                    f"{failed} bootstrap replicate(s) gave an undefined index and were left out."
                )
        extra: dict[str, Any] = {"n_responses": d.n_responses}
        if module_map:
            extra.update(
                _add_modules(
                    point,
                    d,
                    module_map,
                    self.module_share,
                    spec,
                    reps_sums,
                    reps,
                    confidence,
                    notes,
                )
            )
        weights_map = {i: float(v) for i, v in zip(items, item_w, strict=True)}
        scale_map = {
            i: [float(a), float(b)] for i, a, b in zip(d.items, d.low, d.high, strict=True)
        }
        params = {
            "weights": weights_map,
            "loadings": None
            if loadings is None
            else {i: float(v) for i, v in zip(items, loadings, strict=True)},
            "scale": scale_map,
            "normalise": normalise,
            "aggregate": aggregate,
            "shift": float(shift),
            "reference": reference,
            "alpha": None if not math.isfinite(d.alpha) else float(d.alpha),
            "n_alpha": int(d.n_alpha),
        }
        result = grouped_result(
            d.keys,
            measure="hx_index",
            n=d.n_persons,
            estimate=point,
            se=se,
            ci_low=lo,
            ci_high=hi,
            confidence=confidence,
            method="person_bootstrap_percentile" if n_rep > 0 else "none",
            min_n=min_n,
            extra=extra,
            excluded=d.excluded_by_group,
            meta={
                "items": items,
                "weights": weights_map,
                "normalise": normalise,
                "aggregate": aggregate,
                "shift": float(shift),
                "scale": scale_map,
                "n_resamples": n_rep,
                "bounds": (0.0, 100.0)
                if normalise in ("minmax", "pooled_minmax", "rank")
                else None,
                "alpha": params["alpha"],
                "notes": notes,
            },
        )
        # Rows without a group belong to no row of the result: counted here only.
        meta = result.attrs["hxmetrics"]
        meta["excluded"] = {**meta["excluded"], "missing_group": d.excluded["missing_group"]}
        self.params_ = params
        self.result_ = result
        self.notes_ = notes
        self.by_ = group_cols
        return self

    # --------------------------------------------------------------- the protocol

    def _fitted(self) -> pd.DataFrame:
        if self.result_ is None or self.params_ is None:
            raise ParameterError(
                "HXIndex is not fitted yet: call fit(data, by=...) first, or from_dict(...) "
                "to restore a fitted model."
            )
        return self.result_

    def summary(self) -> pd.DataFrame:
        """The grouped result: one row per group, ``estimate`` the index (a copy)."""
        return self._fitted().copy()

    def plot(self, *, ax: Axes | None = None) -> Axes:
        """Each group's index and interval (a dot-and-interval plot); returns the Axes."""
        from hxmetrics.plotting import plot_estimates

        return plot_estimates(self._fitted(), by=self.by_, xlabel="HX index (0 to 100)", ax=ax)

    def _display_title(self) -> str:
        if self.result_ is None or self.params_ is None:
            return "HXIndex (not fitted)"
        p = self.params_
        return (
            f"HXIndex: {len(self.result_)} groups by {', '.join(self.by_)}; "
            f"{p['normalise']}, {self.weighting if isinstance(self.weighting, str) else 'budget'}"
            f" weights, {p['aggregate']} aggregation"
        )

    def _display_frame(self) -> pd.DataFrame | None:
        return None if self.result_ is None else self.summary()

    def _display_notes(self) -> Sequence[str]:
        return list(self.notes_)

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as plain JSON types; :meth:`from_dict` restores it.

        A ``random_state`` that is a numpy Generator is saved as None.
        """
        result = self._fitted()
        options = {
            "items": list(self.items),
            "weighting": self.weighting
            if isinstance(self.weighting, str)
            else dict(self.weighting),
            "normalise": self.normalise,
            "aggregate": self.aggregate,
            "scale": self.scale if not isinstance(self.scale, Mapping) else dict(self.scale),
            "shift": self.shift,
            "reference": self.reference,
            "modules": None
            if self.modules is None
            else [[label, list(its)] for label, its in self.modules.items()],
            "module_share": self.module_share,
            "n_resamples": self.n_resamples,
            "confidence": self.confidence,
            "min_n": self.min_n,
            "random_state": self.random_state
            if isinstance(self.random_state, (int, np.integer))
            else None,
        }
        frame = json.loads(result.to_json(orient="split", index=False))
        return _jsonable(
            {
                "model": "HXIndex",
                "format": _STATE_FORMAT,
                "options": options,
                "by": list(self.by_),
                "params": self.params_,
                "notes": list(self.notes_),
                "result": {"columns": frame["columns"], "data": frame["data"]},
                "meta": result.attrs.get("hxmetrics", {}),
            }
        )

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> HXIndex:
        """Restore a model saved with :meth:`to_dict` (after a JSON round trip too)."""
        if state.get("model") != "HXIndex":
            raise ParameterError(
                f"cannot restore a {state.get('model')!r} state with HXIndex.from_dict."
            )
        missing = [k for k in ("options", "by", "params", "result") if k not in state]
        if missing:
            raise ParameterError(f"HXIndex state lacks {missing}.")
        options = dict(state["options"])
        ref = options.get("reference")
        options["reference"] = tuple(ref) if isinstance(ref, list) else ref
        scale = options.get("scale")
        options["scale"] = (
            tuple(scale)
            if isinstance(scale, list)
            else {k: tuple(v) for k, v in dict(scale or {}).items()}
        )
        mods = options.get("modules")
        options["modules"] = (
            None
            if mods is None
            else {(tuple(lab) if isinstance(lab, list) else lab): its for lab, its in mods}
        )
        items = options.pop("items")
        model = cls(items, **options)
        by = [str(c) for c in state["by"]]
        table = state["result"]
        frame = pd.DataFrame(table["data"], columns=table["columns"])
        for column in frame.columns:
            if column == "measure":
                frame[column] = frame[column].astype("string")
            elif column == "suppressed":
                frame[column] = frame[column].astype(bool)
            elif column == "n" or column.startswith("n_"):
                frame[column] = frame[column].astype("Int64")
            elif column not in by:
                frame[column] = pd.to_numeric(frame[column]).astype(np.float64)
        frame.attrs["hxmetrics"] = dict(state.get("meta") or {})
        model.params_ = dict(state["params"])
        model.result_ = frame
        model.notes_ = list(state.get("notes") or [])
        model.by_ = by
        return model
