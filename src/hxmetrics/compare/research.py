"""Research harness: bias and coverage of siloed and unified estimators, with known truth.

The study conditions on a simulated organisation: who the persons are, their role
episodes, and when each answered which silo's survey (the *design*) come from
:func:`hxmetrics.datasets.simulate_organisation`; the answers are then redrawn many
times from the simulator's own experience model (latent experience = cell mean +
person effect + occasion effect, cut into 0-10 by the ``ltr`` thresholds). Given
the design every estimator of :mod:`hxmetrics.compare` is a fixed weighted average
of the answers, so its expectation is the same average of the *true* cell NPS of
each answer (``truth.experience.nps``): that is the truth, computed exactly, and
the bias of the siloed estimator is implied analytically by the truth.

Identity resolution is kept out of the loop (the registry is built from the true
crosswalk), so the study measures the estimators and not the matching; the tests
check separately that the full pipeline with resolution gives the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from hxmetrics._compat import renamed
from hxmetrics.compare._axes import keyword_ax
from hxmetrics.compare._design import prepare_silos
from hxmetrics.compare._inference import cluster_totals
from hxmetrics.compare._names import as_role
from hxmetrics.errors import HxError, ParameterError, check_choice
from hxmetrics.measures._inference import (
    check_confidence,
    check_random_state,
    wilson_interval,
    z_critical,
)
from hxmetrics.tables import ROLE_OF_SILO

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from hxmetrics.datasets import Organisation
    from hxmetrics.stakeholders import StakeholderRegistry

__all__ = ["RESULT_COLUMNS", "plot_silo_bias", "simulate_silo_bias"]

#: Columns of :func:`simulate_silo_bias`, in order.
RESULT_COLUMNS = [
    "setting",
    "hybrid_share",
    "hybrid_effect",
    "role",
    "estimator",
    "n_replications",
    "n_organisations",
    "mean_persons",
    "truth",
    "target",
    "implied_bias",
    "bias",
    "bias_mcse",
    "rmse",
    "coverage",
    "coverage_low",
    "coverage_high",
    "mean_se",
    "sd_estimate",
]
_STUDIED = ("siloed", "unified", "difference")


# --------------------------------------------------------------------------- the model


class _LtrModel:
    """The simulator's likelihood-to-recommend model, read from ``truth.experience.params``.

    ``ltr = #{k: tau_k < a * eta + e}`` with ``e ~ N(0, 1)`` and the thresholds
    ``tau = Phi^-1(cumsum(baseline)) sqrt(a^2 + 1)`` that give the baseline
    distribution when the latent mean is 0.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self.loading = float(params["ltr_loading"])
        self.person_sd = float(params["person_sd"])
        baseline = np.asarray(params["ltr_baseline"], dtype=float)
        self.scale = math.sqrt(self.loading**2 + 1.0)
        self.thresholds = ndtri(np.cumsum(baseline)[:-1]) * self.scale

    def pmf(self, mu: np.ndarray) -> np.ndarray:
        """P(ltr = 0..10) for latent cell means ``mu`` (rows)."""
        cut = np.concatenate([[-np.inf], self.thresholds, [np.inf]])
        cdf = ndtr(
            (cut[None, :] - self.loading * np.asarray(mu, dtype=float)[:, None]) / self.scale
        )
        out: np.ndarray = np.diff(cdf, axis=1)
        return out

    def expected_nps(self, mu: np.ndarray) -> np.ndarray:
        """E[+100 promoter / -100 detractor] for each latent cell mean."""
        p = self.pmf(mu)
        out: np.ndarray = 100.0 * (p[:, 9:].sum(axis=1) - p[:, :7].sum(axis=1))
        return out

    def draw(
        self, rng: np.random.Generator, mu: np.ndarray, person: np.ndarray, n: int
    ) -> np.ndarray:
        """``n`` independent redraws of every answer's NPS value (answers x n)."""
        n_persons = int(person.max()) + 1 if person.size else 0
        effect = self.person_sd * rng.standard_normal((n_persons, n))
        occasion = math.sqrt(1.0 - self.person_sd**2) * rng.standard_normal((len(mu), n))
        eta = mu[:, None] + effect[person] + occasion
        ltr = np.searchsorted(self.thresholds, self.loading * eta + rng.standard_normal(eta.shape))
        out: np.ndarray = 100.0 * ((ltr >= 9).astype(float) - (ltr <= 6).astype(float))
        return out


# --------------------------------------------------------------------------- truth


def _truth_registry(org: Organisation) -> StakeholderRegistry:
    """A registry from the true crosswalk of roster ids: resolution without errors."""
    from hxmetrics.stakeholders import StakeholderRegistry, role_episodes

    rosters = {"customers": org.customers, "workers": org.workers, "partners": org.partners}
    cw = org.truth.crosswalk
    cw = cw.loc[cw["in_roster"].to_numpy(dtype=bool), ["silo", "source_id", "person_id"]]
    cw = cw.assign(matched_on=pd.Series(["truth"] * len(cw), index=cw.index, dtype="str"))
    cw = cw.reset_index(drop=True)
    episodes = role_episodes(rosters, cw)
    conflicts = pd.DataFrame({"conflict_id": pd.Series([], dtype="str")})
    return StakeholderRegistry(
        rosters=rosters, crosswalk=cw, conflicts=conflicts, episodes=episodes
    )


def _generating_cells(
    org: Organisation, response_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The true cell of every answer: latent mean, true NPS and the true person.

    The answer's episode is the one of its silo id's true person and the silo's
    role that holds at its time (preferring the id's own episodes; an answer moved
    outside every episode takes the nearest one). Returns, aligned with
    ``response_ids``: latent cell mean, the cell's NPS from ``truth.experience.nps``,
    and an integer code of the true person.
    """
    r = org.responses
    r = r.loc[
        (r["instrument"] == "nps").to_numpy() & (r["item"] == "ltr").to_numpy(),
        ["response_id", "silo", "source_id", "timestamp"],
    ]
    r = r.set_index("response_id").loc[pd.Index(response_ids, dtype="str")].reset_index()
    r["order"] = np.arange(len(r))
    r["role"] = r["silo"].map(ROLE_OF_SILO)
    cw = org.truth.crosswalk[["silo", "source_id", "person_id"]]
    r = r.merge(cw, on=["silo", "source_id"], how="left", validate="many_to_one")
    eps = org.truth.episodes[["person_id", "role", "engagement", "start", "end", "source_id"]]
    cand = r.merge(eps, on=["person_id", "role"], how="left", suffixes=("", "_episode"))
    t = cand["timestamp"]
    end = cand["end"]
    contains = (cand["start"] <= t) & (end.isna() | (t < end))
    to_start = (t - cand["start"]).abs()
    to_end = (t - end).abs().fillna(to_start)
    dist = np.minimum(to_start.to_numpy(), to_end.to_numpy()).astype("timedelta64[ns]")
    cand["miss_source"] = (cand["source_id_episode"] != cand["source_id"]).to_numpy()
    cand["miss_time"] = ~contains.to_numpy(dtype=bool)
    cand["dist"] = dist.astype(np.int64)
    cand = cand.sort_values(["order", "miss_source", "miss_time", "dist"], kind="stable")
    chosen = cand.drop_duplicates("order").sort_values("order")
    arch = org.truth.hybrids.set_index("person_id")["archetype"]
    chosen["archetype"] = arch.reindex(chosen["person_id"]).to_numpy()
    key = ["role", "engagement", "archetype"]
    cells = org.truth.experience.nps[[*key, "mu", "nps"]]
    chosen = chosen.merge(cells, on=key, how="left", validate="many_to_one")
    if len(chosen) != len(response_ids) or chosen[["mu", "nps"]].isna().any().any():
        raise HxError(
            "could not find the generating cell of every answer in the simulator's truth; "
            "is this an organisation from hxmetrics.datasets.simulate_organisation?"
        )
    person, _ = pd.factorize(chosen["person_id"])
    return (
        chosen["mu"].to_numpy(dtype=float),
        chosen["nps"].to_numpy(dtype=float),
        person.astype(np.int64),
    )


# --------------------------------------------------------------------------- the study


def _check_values(name: str, values: Sequence[float], low: float, high: float) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a list of numbers; got {values!r}.") from None
    if not out or any(not (low <= v <= high) for v in out):
        raise ParameterError(f"{name} must be numbers in [{low:g}, {high:g}]; got {values!r}.")
    return out


def _scaled_shifts(effect: float) -> dict[str, dict[str, float]]:
    from hxmetrics.datasets import DEFAULT_EXPERIENCE

    shifts = DEFAULT_EXPERIENCE["archetype_shift"]
    return {
        arch: {role: effect * v for role, v in by_role.items()} for arch, by_role in shifts.items()
    }


def _one_organisation(
    *,
    n_people: int,
    seed: int,
    hybrid_share: float,
    hybrid_effect: float,
    key_noise: float,
    role: str,
    n_draws: int,
    z: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    from hxmetrics.datasets import simulate_organisation

    org = simulate_organisation(
        n_people,
        random_state=seed,
        hybrid_share=hybrid_share,
        key_noise=key_noise,
        experience={"archetype_shift": _scaled_shifts(hybrid_effect)},
    )
    design = prepare_silos(_truth_registry(org), org.responses, measure="nps")
    mu, cell_nps, person = _generating_cells(org, design.response_id)
    model = _LtrModel(org.truth.experience.params)
    w = design.weights(role)[:, [0, 3]]
    a = w.sum(axis=0)
    truth = (w.T @ cell_nps) / a
    y = model.draw(rng, mu, person, n_draws)
    t3, n_tot = cluster_totals(y, w, design.cluster, design.n_clusters)
    est = t3.sum(axis=0) / a[:, None]
    u = (t3 - est[None, :, :] * n_tot[:, :, None]) / a[None, :, None]
    g = design.n_clusters
    factor = g / (g - 1)
    se = np.sqrt(factor * (u**2).sum(axis=0))
    se_gap = np.sqrt(factor * ((u[:, 0, :] - u[:, 1, :]) ** 2).sum(axis=0))
    persons = float(len(np.unique(design.cluster[w[:, 1] > 0])))
    return {
        "estimate": np.vstack([est, est[0] - est[1]]),
        "se": np.vstack([se, se_gap]),
        "own_truth": np.array([truth[0], truth[1], truth[0] - truth[1]]),
        "target": np.array([truth[1], truth[1], truth[0] - truth[1]]),
        "persons": np.array([persons]),
        "z": np.array([z]),
    }


@renamed(group="role")
def simulate_silo_bias(
    *,
    n_people: int = 300,
    hybrid_shares: Sequence[float] = (0.0, 0.2, 0.4),
    hybrid_effects: Sequence[float] = (0.0, 1.0, 2.0),
    n_replications: int = 200,
    n_organisations: int = 4,
    role: str = "all",
    key_noise: float = 0.05,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Bias and interval coverage of the siloed and unified NPS against the simulator's truth.

    For every combination of hybrid share and hybrid effect, ``n_organisations``
    organisations of ``n_people`` persons are simulated
    (:func:`hxmetrics.datasets.simulate_organisation`) and their NPS answers are
    redrawn ``n_replications / n_organisations`` times each from the simulator's
    experience model. Each redraw is estimated the siloed and the unified way
    (:func:`~hxmetrics.compare.siloed_vs_unified`, same weights, vectorised over
    redraws) with person-clustered standard errors.

    The truth is the expectation of the unified estimator given the organisation:
    the unified vote weights applied to the true NPS of each answer's cell
    (role x engagement x archetype, ``truth.experience.nps``), i.e. the NPS this
    organisation's stakeholders give, each person once. The siloed estimator's
    expectation is the same sum with siloed weights; their difference is the
    bias the simulator implies (``implied_bias``), known exactly.

    Parameters
    ----------
    n_people : int, default 300
        Persons per simulated organisation.
    hybrid_shares : sequence of float, default (0, 0.2, 0.4)
        Shares of persons drawn from hybrid archetypes (``hybrid_share`` of the
        simulator).
    hybrid_effects : sequence of float, default (0, 1, 2)
        Multipliers of the simulator's ``archetype_shift`` (how differently hybrids
        experience each role than pure role holders): 0 = no difference, 1 = the
        default, 2 = twice as strong.
    n_replications : int, default 200
        Redraws per setting, spread evenly over the organisations.
    n_organisations : int, default 4
        Organisations simulated per setting.
    role : {"all", "customer", "worker", "partner"}, default "all"
        The target role (see :func:`~hxmetrics.compare.siloed_vs_unified`); a silo's
        plural name reads as its role. Formerly ``group`` (deprecated).
    key_noise : float, default 0.05
        Passed to the simulator (does not matter here: resolution uses the truth).
    confidence : float, default 0.95
        Level of the Wald intervals whose coverage is reported.
    random_state : int or numpy.random.Generator, optional
        Seed of the whole study (organisations and redraws).

    Returns
    -------
    pandas.DataFrame
        One row per setting and estimator (``siloed``, ``unified`` and
        ``difference`` = siloed - unified), columns :data:`RESULT_COLUMNS`:
        ``setting`` (a label), ``hybrid_share``, ``hybrid_effect``, ``role``,
        ``estimator``, ``n_replications``, ``n_organisations``, ``mean_persons``
        (persons in the unified estimate), ``truth`` (mean unified truth),
        ``target`` (what the estimator is judged against: the unified truth, or the
        implied gap for ``difference``), ``implied_bias`` (mean expected estimate
        minus target, from the truth), ``bias`` (mean estimate minus target),
        ``bias_mcse`` (its Monte Carlo standard error), ``rmse``, ``coverage`` of the
        target by the intervals with a Wilson interval ``coverage_low``,
        ``coverage_high``, ``mean_se`` (mean clustered standard error) and
        ``sd_estimate`` (standard deviation of the estimates around their expected
        value in their organisation: what ``mean_se`` estimates).

    Examples
    --------
    >>> res = simulate_silo_bias(n_people=200, hybrid_shares=[0.4], hybrid_effects=[2.0],
    ...                          n_replications=40, n_organisations=2, random_state=1)
    >>> res[["estimator", "n_replications"]]
        estimator  n_replications
    0      siloed              40
    1     unified              40
    2  difference              40
    """
    if isinstance(n_people, bool) or not isinstance(n_people, int | np.integer) or n_people < 20:
        raise ParameterError(f"n_people must be an integer of at least 20; got {n_people!r}.")
    shares = _check_values("hybrid_shares", hybrid_shares, 0.0, 1.0)
    effects = _check_values("hybrid_effects", hybrid_effects, -10.0, 10.0)
    for name, value, low in (
        ("n_replications", n_replications, 2),
        ("n_organisations", n_organisations, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ParameterError(f"{name} must be an integer of at least {low}; got {value!r}.")
    if n_organisations > n_replications:
        raise ParameterError(
            f"n_organisations ({n_organisations}) cannot exceed n_replications ({n_replications})."
        )
    role = as_role(role)
    confidence = check_confidence(confidence)
    z = z_critical(confidence)
    rng = check_random_state(random_state)  # a legacy RandomState is refused, as everywhere
    per_org = np.full(n_organisations, n_replications // n_organisations)
    per_org[: n_replications % n_organisations] += 1

    rows = []
    for share in shares:
        for effect in effects:
            seeds = rng.integers(0, 2**31 - 1, size=n_organisations)
            parts = [
                _one_organisation(
                    n_people=int(n_people),
                    seed=int(seed),
                    hybrid_share=share,
                    hybrid_effect=effect,
                    key_noise=key_noise,
                    role=role,
                    n_draws=int(draws),
                    z=z,
                    rng=rng,
                )
                for seed, draws in zip(seeds, per_org, strict=True)
            ]
            est = np.concatenate([p["estimate"] for p in parts], axis=1)
            se = np.concatenate([p["se"] for p in parts], axis=1)
            own = np.concatenate(
                [
                    np.repeat(p["own_truth"][:, None], n, axis=1)
                    for p, n in zip(parts, per_org, strict=True)
                ],
                axis=1,
            )
            target = np.concatenate(
                [
                    np.repeat(p["target"][:, None], n, axis=1)
                    for p, n in zip(parts, per_org, strict=True)
                ],
                axis=1,
            )
            persons = float(np.mean([p["persons"][0] for p in parts]))
            for k, name in enumerate(_STUDIED):
                err = est[k] - target[k]
                centred = est[k] - own[k]
                covered = np.abs(err) <= z * se[k]
                n = err.size
                cov = float(covered.mean())
                lo, hi = wilson_interval(cov, n, z)
                rows.append(
                    {
                        "setting": f"hybrid_share={share:g}, hybrid_effect={effect:g}",
                        "hybrid_share": share,
                        "hybrid_effect": effect,
                        "role": role,
                        "estimator": name,
                        "n_replications": n,
                        "n_organisations": n_organisations,
                        "mean_persons": persons,
                        "truth": float(target[1].mean()),
                        "target": float(target[k].mean()),
                        "implied_bias": float((own[k] - target[k]).mean()),
                        "bias": float(err.mean()),
                        "bias_mcse": float(centred.std(ddof=1) / np.sqrt(n)),
                        "rmse": float(np.sqrt(np.mean(err**2))),
                        "coverage": cov,
                        "coverage_low": float(np.asarray(lo)),
                        "coverage_high": float(np.asarray(hi)),
                        "mean_se": float(se[k].mean()),
                        "sd_estimate": float(centred.std(ddof=1)),
                    }
                )
    out = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    for col in ("setting", "role", "estimator"):
        out[col] = out[col].astype("str")
    out.attrs["hxmetrics"] = {"confidence": confidence, "n_people": int(n_people)}
    return out


# --------------------------------------------------------------------------- plot

_METRICS = ("bias", "coverage", "rmse")


@keyword_ax
def plot_silo_bias(result: pd.DataFrame, *, ax: Axes | None = None, metric: str = "bias") -> Axes:
    """Bias (or coverage, or RMSE) of the siloed and unified estimators across settings.

    x: hybrid share; one line per estimator and hybrid effect (siloed solid,
    unified dashed). For ``bias`` the error bars are ± z Monte Carlo standard
    errors and the hollow markers the bias implied by the truth; for
    ``coverage`` the nominal level is drawn as a line with the Wilson intervals.

    Parameters
    ----------
    result : pandas.DataFrame
        What :func:`simulate_silo_bias` returned.
    ax : matplotlib.axes.Axes, optional
        Where to draw (keyword only); a new figure if omitted.
    metric : {"bias", "coverage", "rmse"}, default "bias"

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> res = simulate_silo_bias(n_people=200, hybrid_shares=[0.0, 0.4], hybrid_effects=[1.0],
    ...                          n_replications=20, n_organisations=1, random_state=2)
    >>> plot_silo_bias(res).get_ylabel()
    'bias (NPS points)'
    """
    check_choice("metric", metric, _METRICS)
    columns = getattr(result, "columns", [])
    if "role" not in columns and "group" in columns:
        # A study from before the role column was named role.
        result = result.rename(columns={"group": "role"})
    missing = [c for c in RESULT_COLUMNS if c not in getattr(result, "columns", [])]
    if missing:
        raise ParameterError(
            f"result must be the frame simulate_silo_bias returned; columns {missing} are missing."
        )
    import matplotlib.pyplot as plt

    from hxmetrics.plotting import PALETTE

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    conf = float(result.attrs.get("hxmetrics", {}).get("confidence", 0.95))
    z = z_critical(conf)
    effects = sorted(result["hybrid_effect"].unique())
    styles = {"siloed": "-", "unified": "--"}
    for i, effect in enumerate(effects):
        color = PALETTE[i % len(PALETTE)]
        for name, style in styles.items():
            d = result[(result["hybrid_effect"] == effect) & (result["estimator"] == name)]
            d = d.sort_values("hybrid_share")
            x = d["hybrid_share"].to_numpy(dtype=float)
            label = f"{name}, effect x{effect:g}"
            if metric == "bias":
                ax.errorbar(
                    x,
                    d["bias"],
                    yerr=z * d["bias_mcse"],
                    linestyle=style,
                    marker="o",
                    color=color,
                    capsize=3,
                    label=label,
                )
                ax.plot(
                    x,
                    d["implied_bias"],
                    linestyle="none",
                    marker="o",
                    mfc="none",
                    ms=10,
                    color=color,
                )
            elif metric == "coverage":
                # Wilson bounds at a coverage of 0 or 1 may miss it by a rounding error.
                lo = np.clip((d["coverage"] - d["coverage_low"]).to_numpy(), 0, None)
                hi = np.clip((d["coverage_high"] - d["coverage"]).to_numpy(), 0, None)
                ax.errorbar(
                    x,
                    d["coverage"],
                    yerr=[lo, hi],
                    linestyle=style,
                    marker="o",
                    color=color,
                    capsize=3,
                    label=label,
                )
            else:
                ax.plot(x, d["rmse"], linestyle=style, marker="o", color=color, label=label)
    if metric == "bias":
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_ylabel("bias (NPS points)")
    elif metric == "coverage":
        ax.axhline(conf, color="grey", linewidth=0.8)
        ax.set_ylabel(f"coverage of {conf:.0%} intervals")
    else:
        ax.set_ylabel("RMSE (NPS points)")
    ax.set_xlabel("hybrid share")
    ax.set_title(f"Siloed vs unified NPS, role {result['role'].iloc[0]!r}")
    ax.legend(fontsize="small", ncol=2)
    return ax
