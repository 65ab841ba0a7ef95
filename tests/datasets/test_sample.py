"""The committed sample in data/samples/ is exactly what the generator makes now."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from hxmetrics.datasets import (
    SAMPLE_SETTINGS,
    Organisation,
    load_sample,
    read_organisation,
    simulate_organisation,
    write_organisation,
)
from hxmetrics.datasets._sample import _frames
from hxmetrics.errors import HxError, ParameterError
from hxmetrics.tables import validate

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
HINT = "regenerate with `python scripts/make_sample.py` and commit data/samples/"


@pytest.fixture(scope="module")
def sample_org() -> Organisation:
    return simulate_organisation(**SAMPLE_SETTINGS)


def test_committed_files_equal_the_generator(sample_org: Organisation, tmp_path: Path) -> None:
    written = write_organisation(sample_org, tmp_path)
    fresh = sorted(p.relative_to(tmp_path).as_posix() for p in written)
    committed = sorted(p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*") if p.is_file())
    assert fresh == committed, HINT
    for rel in fresh:
        assert (tmp_path / rel).read_bytes() == (SAMPLES / rel).read_bytes(), f"{rel}: {HINT}"
    total = sum((SAMPLES / rel).stat().st_size for rel in committed)
    # A guard on the repository's size: 4.6 MB before the optional steps of issues
    # 15-17 (teams, journeys, instrument answers, comments, invitations), 7.5 MB with.
    assert total < 8_000_000


def test_load_sample_round_trips_exactly(sample_org: Organisation) -> None:
    loaded = load_sample()
    a, b = _frames(loaded), _frames(sample_org)
    assert list(a) == list(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
    assert loaded.truth.experience.params == sample_org.truth.experience.params
    assert loaded.truth.clv.params == sample_org.truth.clv.params
    assert loaded.settings == sample_org.settings
    assert loaded.start == sample_org.start
    assert loaded.end == sample_org.end
    for name, df in loaded.tables.items():
        pd.testing.assert_frame_equal(validate(df, table=name), df)


def test_write_read_other_directory(tmp_path: Path) -> None:
    org = simulate_organisation(60, random_state=4, key_noise=0.3)
    write_organisation(org, tmp_path / "x")
    back = read_organisation(tmp_path / "x")
    for name, df in _frames(org).items():
        pd.testing.assert_frame_equal(_frames(back)[name], df, check_exact=True, obj=name)


def test_missing_directory_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(HxError, match="make_sample"):
        load_sample(tmp_path)


# SHA-256 of the committed files before ticket histories and follow-ups (commit
# 053406b, data/samples/ made by simulate_organisation(3000, random_state=20250101)).
# The new draws come from new streams: without the new arguments these files are
# byte for byte the same.
BEFORE_HISTORIES = {
    "customers.csv": "961dee2dfea29f99dfea3eab7a061badf4d3c5543e7b29287683a5dcd2075bbe",
    "events.csv": "0e175189cea67b8ee02d4f8b79b6e1c7050d775eb4c6e622f68e45c694b4b8a8",
    "partners.csv": "3adf42ad28f54e1d17668b33b27d5a044c565e789106cb5ca3638ae550a5a4ea",
    "responses.csv": "730790e4c471d3f77b903cf0dcbac90cdac27121bd2a7b337bf784bef2c54fe3",
    "tickets.csv": "f973037ab9bb32b9c70b68cd60b8eda0035d6663d967bd5282d6a3e184659666",
    "transactions.csv": "c0b052adf80eaf479aeb3a7bccceb808948c66c64ca8c46da8b5c9426cea97d7",
    "workers.csv": "493413eec5d303e061851240bf75b42e31c58b3d0e5c745a07af009549acecd3",
    "truth/clv_latent.csv": "97b4f68df60944fb3b7d3586577f09ae8accb774a965c2af3edcb11fc53bf8d0",
    "truth/crosswalk.csv": "1c97e86f5dbdc0d6ae4e998223fddc155c1f177c5193be6f3c18724ed7ea63b6",
    "truth/episodes.csv": "21d61dedeafb0e782d22bf351897f93b645b813360f616a2e393b2b28ea3aaed",
    "truth/hybrids.csv": "e0e91c636c440ce969b2b9f3e5aa0b477bd27fa57f74a7d16e459b0e60f60fa7",
    "truth/keys.csv": "15cefaf0fa907ae002bb5973d26201e1c7e96d774301ceb403797cdcdd9ce1fd",
    "truth/service.csv": "191d7b48d5c4ce5fd6c8b7061456a03cd96450c7a5c460642e0ea0364bce94b3",
    "truth/unattributable.csv": "51e72575ca515c61ce085765bb94aab19a71f5165f05a09a9b6d47647c613889",
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_existing_files_unchanged_without_the_new_arguments(tmp_path: Path) -> None:
    org = simulate_organisation(3000, random_state=20250101)
    write_organisation(org, tmp_path)
    for rel, digest in BEFORE_HISTORIES.items():
        assert _sha(tmp_path / rel) == digest, rel


#: The optional steps of simulate_organisation (issues 15-17), in the sample since then.
STEPS = ("teams", "journeys", "instruments", "comments", "invitations")


def test_sample_differs_from_before_only_in_stalled_tickets(
    tmp_path: Path,
) -> None:
    # Without its optional steps the sample has ticket_stalls on: every other table is
    # as before; tickets differ only in the first response and close of the tickets
    # that stalled.
    base = simulate_organisation(**{k: v for k, v in SAMPLE_SETTINGS.items() if k not in STEPS})
    write_organisation(base, tmp_path)
    for rel, digest in BEFORE_HISTORIES.items():
        if rel != "tickets.csv":
            assert _sha(tmp_path / rel) == digest, rel
    plain = simulate_organisation(3000, random_state=20250101).tickets
    stalled = base.truth.ticket_paths["stall_status"].notna().to_numpy()
    assert stalled.any()
    changed = ["first_response", "closed"]
    kept = [c for c in plain.columns if c not in changed]
    pd.testing.assert_frame_equal(base.tickets[kept], plain[kept])
    pd.testing.assert_frame_equal(base.tickets.loc[~stalled, changed], plain.loc[~stalled, changed])
    later = base.tickets["closed"].fillna(pd.Timestamp.max) > plain["closed"].fillna(
        pd.Timestamp.max
    )
    assert later[stalled].sum() > 0
    assert not later[~stalled].any()


def _as_before_histories(directory: Path) -> None:
    """Turn a written organisation into the layout of a folder written before histories."""
    new = ["ticket_events", "truth/itr", "truth/ticket_paths", "truth/follow_ups"]
    for name in new:
        (directory / f"{name}.csv").unlink()
    schema = json.loads((directory / "schema.json").read_text())
    (directory / "schema.json").write_text(
        json.dumps({k: v for k, v in schema.items() if k not in new}, indent=1)
    )
    params = json.loads((directory / "truth" / "params.json").read_text())
    for key in ("tickets", "follow_ups"):
        del params[key]
    (directory / "truth" / "params.json").write_text(json.dumps(params))


def test_folders_without_ticket_events_still_read(tmp_path: Path) -> None:
    org = simulate_organisation(80, random_state=6)
    write_organisation(org, tmp_path)
    _as_before_histories(tmp_path)
    for back in (read_organisation(tmp_path), load_sample(tmp_path)):
        assert back.ticket_events is None
        assert back.truth.itr is None
        assert back.truth.ticket_paths is None
        assert back.truth.follow_ups is None
        assert back.truth.params == {}
        for name, df in org.tables.items():
            pd.testing.assert_frame_equal(back.tables[name], df, check_exact=True, obj=name)
        # Written again, it stays a folder without histories.
        again = tmp_path / "again"
        write_organisation(back, again)
        assert not (again / "ticket_events.csv").exists()
        assert sorted(json.loads((again / "truth" / "params.json").read_text())) == sorted(
            ["settings", "start", "end", "experience", "clv"]
        )


def test_sample_ticket_events_are_read_and_validated() -> None:
    org = load_sample()
    assert org.ticket_events is not None
    assert list(org.ticket_events.columns) == ["ticket_id", "status", "timestamp", "team"]
    pd.testing.assert_frame_equal(
        validate(org.ticket_events, table="ticket_events", parents={"tickets": org.tickets}),
        org.ticket_events,
    )
    assert org.settings["ticket_stalls"] is True
    assert "follow_ups" not in org.settings
    assert org.truth.params["follow_ups"]["enabled"] is False
    assert org.truth.follow_ups is not None
    assert org.truth.follow_ups.empty


def test_write_read_round_trip_with_histories_and_follow_ups(tmp_path: Path) -> None:
    org = simulate_organisation(
        1500, random_state=12, ticket_stalls=True, follow_ups=True, follow_up_effect=0.8
    )
    assert org.truth.follow_ups is not None
    assert org.truth.follow_ups["followed_up"].any()
    write_organisation(org, tmp_path)
    back = read_organisation(tmp_path)
    fa, fb = _frames(org), _frames(back)
    assert list(fa) == list(fb)
    for name in fa:
        pd.testing.assert_frame_equal(fb[name], fa[name], check_exact=True, obj=name)
    assert back.truth.params == json.loads(json.dumps(org.truth.params))
    assert back.settings == org.settings
    again = tmp_path / "again"
    write_organisation(back, again)
    for path in sorted(tmp_path.glob("*.csv")) + sorted((tmp_path / "truth").glob("*")):
        rel = path.relative_to(tmp_path)
        assert (again / rel).read_bytes() == path.read_bytes(), rel


def test_optional_steps_leave_the_rest_of_the_organisation_as_it_was() -> None:
    # The steps run last, each on its own stream: rosters, transactions and ticket
    # histories are those of the organisation without them; the exhaust tables keep
    # every row the steps do not own (invitations remove non-respondents' answers).
    plain = simulate_organisation(300, random_state=8, ticket_stalls=True)
    org = simulate_organisation(
        300, random_state=8, ticket_stalls=True, **dict.fromkeys(STEPS, True)
    )
    for name in ("customers", "workers", "partners", "transactions"):
        pd.testing.assert_frame_equal(org.tables[name], plain.tables[name], obj=name)
    assert org.ticket_events is not None
    assert plain.ticket_events is not None
    pd.testing.assert_frame_equal(org.ticket_events, plain.ticket_events)
    assert set(org.truth.planted) == set(STEPS)
    for table in ("teams", "comments", "invitations"):
        frame = getattr(org, table)
        assert frame is not None
        pd.testing.assert_frame_equal(validate(frame, table=table), frame, obj=table)
    assert set(plain.events["event_id"]) <= set(org.events["event_id"])
    assert org.settings["teams"] is True
    # The same settings give the same organisation; an option reaches its step.
    again = simulate_organisation(
        300, random_state=8, ticket_stalls=True, **dict.fromkeys(STEPS, True)
    )
    pd.testing.assert_frame_equal(again.responses, org.responses)
    fewer = simulate_organisation(300, random_state=8, comments={"share": 0.1})
    assert fewer.comments is not None
    assert len(fewer.comments) < len(org.comments)
    assert fewer.settings["comments"] == {"share": 0.1}


def test_optional_step_options_are_checked() -> None:
    with pytest.raises(ParameterError, match="teams must be True, False or a mapping"):
        simulate_organisation(50, random_state=1, teams="yes")
    with pytest.raises(ParameterError, match="other than random_state"):
        simulate_organisation(50, random_state=1, comments={"random_state": 3})


def test_sample_has_every_optional_table_and_what_was_planted() -> None:
    org = load_sample()
    for table in ("teams", "comments", "invitations"):
        frame = getattr(org, table)
        assert frame is not None
        assert len(frame) > 0
    assert set(org.truth.planted) == set(STEPS)
    assert org.truth.planted["teams"]["team"] == "digital"
    assert isinstance(org.truth.planted["instruments"]["gap"], pd.DataFrame)
