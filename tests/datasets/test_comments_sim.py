"""add_comments: comments with planted themes, tone, theme effect and identifiers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from hxmetrics.datasets import Organisation, simulate_organisation
from hxmetrics.datasets._comments import PREDICATES, THEMES, add_comments, theme_keywords
from hxmetrics.errors import ParameterError
from hxmetrics.tables import validate


@pytest.fixture(scope="module")
def base() -> Organisation:
    return simulate_organisation(1500, random_state=3)


@pytest.fixture(scope="module")
def org(base: Organisation) -> Organisation:
    return add_comments(base, random_state=5)


def test_pure_and_valid(base: Organisation, org: Organisation) -> None:
    assert base.comments is None
    assert "description" not in base.tickets.columns
    assert "comments" not in base.truth.planted
    assert org.comments is not None
    validate(org.comments, table="comments")
    validate(org.tickets, table="tickets")
    for name, table in org.tables.items():  # the other tables are the same objects
        if name != "tickets":
            assert table is getattr(base, name)
    pd.testing.assert_frame_equal(org.tickets.drop(columns="description"), base.tickets)


def test_reproducible(base: Organisation, org: Organisation) -> None:
    again = add_comments(base, random_state=5)
    assert again.comments is not None
    assert org.comments is not None
    pd.testing.assert_frame_equal(again.comments, org.comments)
    other = add_comments(base, random_state=6)
    assert other.comments is not None
    assert not other.comments["text"].equals(org.comments["text"])


def test_links_to_relationship_answers(org: Organisation) -> None:
    assert org.comments is not None
    ltr = org.responses.loc[org.responses["item"] == "ltr"].set_index("response_id")
    c = org.comments
    assert c["response_id"].isin(ltr.index).all()
    assert c["response_id"].is_unique
    assert (c["silo"].to_numpy() == ltr.loc[c["response_id"], "silo"].to_numpy()).all()
    assert (c["source_id"].to_numpy() == ltr.loc[c["response_id"], "source_id"].to_numpy()).all()
    assert (c["timestamp"] >= ltr.loc[c["response_id"], "timestamp"].to_numpy()).all()
    assert (c["timestamp"] < org.end).all()
    assert set(c["silo"]) == {"customers", "workers", "partners"}
    # About 40% of the answers (binomial: 4 sd of the share on ~1,000 answers).
    share = len(c) / len(ltr)
    assert abs(share - 0.4) < 4 * np.sqrt(0.24 / len(ltr))


def test_truth_matches_text(org: Organisation) -> None:
    assert org.comments is not None
    planted = org.truth.planted["comments"]
    text = org.comments.set_index("comment_id")["text"].str.lower()
    mentions = planted["mentions"]
    # Every planted mention has a word of its theme's vocabulary in the text, and no
    # comment has a word of a theme it does not mention.
    for role, themes in THEMES.items():
        for theme, (vocabulary, _, _) in themes.items():
            pattern = r"\b(?:" + "|".join(vocabulary) + r")\b"
            has = text.str.contains(pattern, regex=True)
            said = text.index.isin(mentions.loc[mentions["theme"] == theme, "comment_id"])
            silo = f"{role}s"
            of_role = planted["comments"].set_index("comment_id").loc[text.index, "silo"] == silo
            assert (has[of_role.to_numpy()] == said[of_role.to_numpy()]).all(), theme
    tone = planted["comments"].set_index("comment_id").loc[text.index, "tone"]
    score = planted["comments"].set_index("comment_id").loc[text.index, "score"]
    assert ((tone == 1) == (score >= 9)).all()
    assert ((tone == -1) == (score <= 6)).all()
    for value, phrases in PREDICATES.items():
        has = text.str.contains("|".join(phrases), regex=True)
        assert (has == (tone == value).to_numpy()).all()


def test_planted_effect_is_the_expected_difference(org: Organisation) -> None:
    """The recorded expected difference is the mention model's, from the linked scores:
    recomputed here from the model's parameters."""
    planted = org.truth.planted["comments"]
    comments = planted["comments"]
    effects = planted["effects"].set_index(["silo", "theme"])
    params = planted["themes"].set_index(["role", "theme"])
    for silo in ("customers", "workers"):
        s = comments.loc[comments["silo"] == silo, "score"].to_numpy(dtype=float)
        for theme in THEMES[silo[:-1]]:
            alpha, beta = params.loc[(silo[:-1], theme), ["alpha", "beta"]]
            p = 1 / (1 + np.exp(-(alpha + beta * (s - 7))))
            diff = (s * p).sum() / p.sum() - (s * (1 - p)).sum() / (1 - p).sum()
            assert effects.loc[(silo, theme), "expected_difference"] == pytest.approx(diff)
            if beta == 0:
                assert abs(diff) < 1e-9
            else:
                assert np.sign(diff) == np.sign(beta)
                assert abs(diff) > 1.0  # a visible effect, in points of 0-10
    # Observed difference close to the expected one on this draw (Welch se ~0.25 at
    # these sizes: 5 se).
    ltr = comments.set_index("comment_id")["score"]
    mentions = planted["mentions"]
    cust = comments.loc[comments["silo"] == "customers", "comment_id"]
    said = cust.isin(mentions.loc[mentions["theme"] == "wait_time", "comment_id"]).to_numpy()
    s = ltr.loc[cust].to_numpy()
    observed = s[said].mean() - s[~said].mean()
    expected = effects.loc[("customers", "wait_time"), "expected_difference"]
    assert observed == pytest.approx(expected, abs=1.25)


def test_identifiers_planted_and_listed(org: Organisation) -> None:
    assert org.comments is not None
    ids = org.truth.planted["comments"]["identifiers"]
    assert set(ids["kind"]) == {"email", "phone"}
    assert set(ids["table"]) == {"comments", "tickets"}
    text = org.comments.set_index("comment_id")["text"]
    desc = org.tickets.set_index("ticket_id")["description"]
    for row in ids.itertuples():
        source = text if row.table == "comments" else desc
        assert row.value in source.loc[row.id]
    share = (ids["table"] == "comments").sum() / len(text)
    assert 0.005 < share < 0.08  # 3% planted; binomial on ~600 comments


def test_ticket_descriptions(org: Organisation) -> None:
    truth = org.truth.planted["comments"]["tickets"]
    assert len(truth) == len(org.tickets)
    roles = org.tickets["silo"].str[:-1].to_numpy()
    for role, theme, text in zip(roles, truth["theme"], org.tickets["description"], strict=True):
        assert theme in THEMES[role]
        assert any(w in text for w in THEMES[role][theme][0])


def test_works_with_or_without_other_steps(base: Organisation) -> None:
    bare = dataclasses.replace(base, responses=base.responses.drop(columns="touchpoint"))
    out = add_comments(bare, random_state=1, descriptions=False)
    assert out.comments is not None
    assert out.comments["touchpoint"].isna().all()
    assert "description" not in out.tickets.columns
    planted = add_comments(
        dataclasses.replace(base, truth=dataclasses.replace(base.truth, planted={"teams": 1})),
        random_state=1,
    ).truth.planted
    assert set(planted) == {"teams", "comments"}
    none = add_comments(base, random_state=1, share=0.0)
    assert none.comments is not None
    assert len(none.comments) == 0
    validate(none.comments, table="comments")


def test_keywords_helper() -> None:
    assert set(theme_keywords("customer")) == set(THEMES["customer"])


@pytest.mark.parametrize("bad", [{"share": 1.5}, {"identifier_share": -0.1}, {"share": True}])
def test_bad_options(base: Organisation, bad: dict[str, object]) -> None:
    with pytest.raises(ParameterError, match="share between 0 and 1"):
        add_comments(base, random_state=1, **bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="random_state"):
        add_comments(base, random_state=1.5)  # type: ignore[arg-type]
