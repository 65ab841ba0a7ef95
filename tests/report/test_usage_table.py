"""The report's usage table (responses per instrument and use) against the plain pandas way.

``Context.usage`` counts distinct (instrument, response, use) on integer codes (issue 10:
dropping duplicate rows of three text columns took 9 s at 10M answers). The reference
here is the old code: ``drop_duplicates`` then ``groupby(...).size()``; missing values in
every column (rows without an instrument or a use are in no group, a missing response id
is one value, a missing item is listed as "nan") must give the same table.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hxmetrics.report.sections.context import USE_REASONS, Context


def _reference(frame: pd.DataFrame) -> pd.DataFrame:
    per = frame.drop_duplicates(["instrument", "response_id", "use"])
    table = (
        per.groupby(["instrument", "use"], observed=True, sort=True)
        .size()
        .unstack("use", fill_value=0)
    )
    for column in USE_REASONS:
        if column not in table.columns:
            table[column] = 0
    table["responses"] = table[list(table.columns)].sum(axis=1)
    pairs = frame[["instrument", "item"]].drop_duplicates()
    items = pairs.groupby("instrument", observed=True, sort=True)["item"].agg(
        lambda values: ", ".join(sorted({str(v) for v in values}))
    )
    table = table.join(items.rename("items")).reset_index()
    return table[["instrument", "items", "responses", *USE_REASONS]]


def _responses(seed: int, missing: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    uses = np.array(["used", "role_not_held", *USE_REASONS[:2]], dtype=object)
    frame = pd.DataFrame(
        {
            # A response's items share its instrument and use; some ids repeat across
            # instruments (one id, two responses).
            "response_id": rng.integers(0, 400, n).astype(str),
            "instrument": rng.choice(["nps", "csat", "hx_core"], n),
            "item": rng.choice(["ltr", "overall", "hx1", "hx2"], n),
            "use": rng.choice(uses, n),
        }
    ).astype(object)
    for column in frame.columns:
        frame.loc[rng.random(n) < missing, column] = None
    return frame.astype("str")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("missing", [0.0, 0.05])
def test_usage_equals_the_drop_duplicates_count(seed: int, missing: float) -> None:
    frame = _responses(seed, missing)
    # usage reads only .responses: a stand-in, not a whole report context.
    got = Context.usage(SimpleNamespace(responses=frame))  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(got, _reference(frame), check_dtype=False)
