"""Independent checks for the simulator's truth, written with pandas interval logic.

Nothing here imports the simulator's private helpers: these are the second
implementations the truth is compared against.
"""

from __future__ import annotations

import pandas as pd

from hxmetrics.tables import ROLE_OF_SILO

FAR_FUTURE = pd.Timestamp("2262-01-01")
ID_COLUMN = {"customers": "customer_id", "workers": "worker_id", "partners": "partner_id"}


def roster_episodes(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The rosters stacked as (silo, source_id, role, engagement, start, end)."""
    parts = []
    for silo, role in ROLE_OF_SILO.items():
        r = tables[silo]
        parts.append(
            pd.DataFrame(
                {
                    "silo": silo,
                    "source_id": r[ID_COLUMN[silo]],
                    "role": role,
                    "engagement": r["engagement"],
                    "start": r["start"],
                    "end": r["end"],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _pairs(episodes: pd.DataFrame, left: str, right: str) -> pd.DataFrame:
    cols = ["person_id", "start", "end", "engagement"]
    a = episodes.loc[episodes["role"] == left, cols]
    b = episodes.loc[episodes["role"] == right, cols]
    out = a.merge(b, on="person_id", suffixes=("_a", "_b"))
    out["end_a"] = out["end_a"].fillna(FAR_FUTURE)
    out["end_b"] = out["end_b"].fillna(FAR_FUTURE)
    return out


def labels_by_intervals(episodes: pd.DataFrame, persons: pd.Series) -> pd.DataFrame:
    """Hybrid labels from a self-join on person and vectorised interval tests."""
    out = pd.DataFrame({"person_id": persons.to_numpy()}).set_index("person_id")

    def flag(frame: pd.DataFrame, mask: pd.Series) -> pd.Series:
        hit = frame.loc[mask, "person_id"].unique()
        return pd.Series(out.index.isin(hit), index=out.index)

    for a, b, name in (
        ("worker", "customer", "worker_customer"),
        ("partner", "customer", "partner_customer"),
        ("worker", "partner", "worker_partner"),
    ):
        p = _pairs(episodes, a, b)
        out[name] = flag(p, (p["start_a"] < p["end_b"]) & (p["start_b"] < p["end_a"]))
    w = episodes[episodes["role"] == "worker"]
    out["gig_worker"] = out.index.isin(
        w.loc[w["engagement"].isin(["gig", "freelance"]), "person_id"].unique()
    )
    ww = _pairs(episodes, "worker", "worker")
    # Distinct episodes: a later one (b) starting on/after the end of an earlier one (a).
    ww = ww[(ww["start_a"] != ww["start_b"]) | (ww["end_a"] != ww["end_b"])]
    rehire = (ww["end_a"] != FAR_FUTURE) & (ww["start_b"] >= ww["end_a"])
    out["boomerang"] = flag(ww, rehire)
    # Gap of the first re-hire: the earliest qualifying start, measured from the latest
    # end before it.
    r = ww.loc[rehire, ["person_id", "start_b", "end_a"]]
    r = r[r["start_b"] == r.groupby("person_id")["start_b"].transform("min")]
    first = r.groupby("person_id").agg(start=("start_b", "min"), end=("end_a", "max"))
    gap = (first["start"] - first["end"]) / pd.Timedelta(days=1)
    out["boomerang_gap_days"] = gap.reindex(out.index).astype(float)
    for other, name in (("customer", "alumni_customer"), ("partner", "alumni_partner")):
        p = _pairs(episodes, "worker", other)
        out[name] = flag(p, (p["end_a"] != FAR_FUTURE) & (p["start_b"] >= p["end_a"]))
    first_worker = w.groupby("person_id", as_index=False)["start"].min()
    c = episodes[episodes["role"] == "customer"].merge(
        first_worker.rename(columns={"start": "first_worker"}), on="person_id", how="left"
    )
    out["customer_to_worker"] = flag(
        c, c["first_worker"].notna() & (c["first_worker"] > c["start"])
    )
    return out.reset_index()
