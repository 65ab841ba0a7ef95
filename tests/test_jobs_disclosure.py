"""Disclosure control in ``hxmetrics compute``: attacks on the written files and the
manifest recover no suppressed value (issue 10).

Each attack computes the true hidden value with the unsuppressed Python API and checks
that the outputs of the job (files + manifest) do not give it back.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest

import hxmetrics as hx
from hxmetrics import jobs
from hxmetrics.cli import main
from hxmetrics.stakeholders import StakeholderRegistry

COUNTS = ("n", "promoters", "passives", "detractors")
TYPES = [
    "alumni_customer",
    "alumni_partner",
    "boomerang",
    "customer_to_worker",
    "gig_worker",
    "none",
    "worker_customer",
    "worker_partner",
]


def _write_sample(folder: Path, *, partner_responses: int | None = None) -> Path:
    org = hx.load_sample()
    folder.mkdir()
    responses = org.responses
    if partner_responses is not None:
        # The sample with tiny groups: only a few partners answered.
        ids = responses.loc[responses["silo"] == "partners", "response_id"].unique()
        drop = responses["silo"].eq("partners") & ~responses["response_id"].isin(
            ids[:partner_responses]
        )
        responses = responses[~drop]
    for table, frame in {
        "customers": org.customers,
        "workers": org.workers,
        "partners": org.partners,
        "responses": responses,
    }.items():
        frame.to_csv(folder / f"{table}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return _write_sample(tmp_path_factory.mktemp("sample") / "data")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return _write_sample(tmp_path_factory.mktemp("tiny") / "data", partner_responses=3)


def attributed(data: Path) -> pd.DataFrame:
    """The responses as the job sees them (roles and hybrid types attributed)."""
    read = {
        t: hx.tables.read_table(data / f"{t}.csv") for t in ("customers", "workers", "partners")
    }
    registry = StakeholderRegistry.from_rosters(**read)
    responses = hx.tables.validate(hx.tables.read_table(data / "responses.csv"), table="responses")
    return registry.attribute(responses, time="timestamp")


def run(tmp: Path, data: Path, measures: str, *, privacy: str = "") -> tuple[dict, dict]:
    """Run a job; returns (outputs by name, manifest)."""
    job = tmp / "job.toml"
    job.write_text(
        f"{privacy}\n[inputs]\n"
        + "".join(f"{t} = '{data / t}.csv'\n" for t in ("customers", "workers", "partners"))
        + f"responses = '{data}/responses.csv'\n"
        + "[stakeholders]\n[output]\ndir = 'out'\nformat = 'csv'\n"
        + measures
    )
    assert main(["compute", "--job", str(job)]) == 0
    manifest = json.loads((tmp / "out" / "manifest.json").read_text())
    outputs = {
        m["name"]: pd.read_csv(tmp / "out" / f"{m['name']}.csv") for m in manifest["measures"]
    }
    return outputs, manifest


def measure(name: str, where: str, by: str = "", function: str = "nps", extra: str = "") -> str:
    return (
        f"[[measure]]\nname = '{name}'\nfunction = '{function}'\ntable = 'responses'\n"
        f"where = {where}\nscore = 'score'\n" + (f"by = {by}\n" if by else "") + extra
    )


def rows_in(manifest: dict, name: str) -> int | None:
    return next(m for m in manifest["measures"] if m["name"] == name)["rows_in"]


NPS = "{ instrument = 'nps' }"


# ---------------------------------------------------------------------------- attacks


@pytest.mark.parametrize(
    ("by", "function", "extra"),
    [
        ("['source_id']", "nps", ""),
        ("['silo', 'email']", "nps", ""),
        ("'person_id'", "mean_score", ""),
    ],
)
def test_1_grouping_by_an_identifier_is_refused(tmp_path, sample, capsys, by, function, extra):
    """Found: `by=["source_id"]` wrote every person's answer."""
    job = tmp_path / "job.toml"
    job.write_text(
        f"[inputs]\nresponses = '{sample}/responses.csv'\nworkers = '{sample}/workers.csv'\n"
        "[stakeholders]\n[output]\ndir = 'out'\n" + measure("per_person", NPS, by, function, extra)
    )
    assert main(["compute", "--job", str(job)]) == 2
    assert "cannot group by" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["by", "group"])
def test_1b_hx_index_grouped_by_person_is_refused(tmp_path, sample, capsys, option):
    # group= is hx_index's old name of by=: still read (with a DeprecationWarning),
    # and checked like by=.
    job = tmp_path / "job.toml"
    job.write_text(
        f"[inputs]\nresponses = '{sample}/responses.csv'\n[output]\ndir = 'out'\n"
        "[[measure]]\nname = 'x'\nfunction = 'hx_index'\ntable = 'responses'\n"
        f"where = {{ instrument = 'hx_core' }}\nitems = ['hx1', 'hx2']\n{option} = 'source_id'\n"
    )
    if option == "group":
        with pytest.warns(DeprecationWarning, match="'group' of hx_index is deprecated"):
            assert main(["compute", "--job", str(job)]) == 2
    else:
        assert main(["compute", "--job", str(job)]) == 2
    assert "cannot group by 'source_id'" in capsys.readouterr().err


def test_old_option_names_in_a_job_file(tmp_path, sample, capsys):
    job = tmp_path / "job.toml"
    job.write_text(
        f"[inputs]\nresponses = '{sample}/responses.csv'\n[output]\ndir = 'out'\n"
        "[[measure]]\nname = 'x'\nfunction = 'hx_index'\ntable = 'responses'\n"
        "where = { instrument = 'hx_core' }\nitems = ['hx1', 'hx2']\ngroup = 'silo'\n"
        "by = 'silo'\n"
    )
    with pytest.raises(jobs.JobError, match="give 'by' only; 'group' is its old name"):
        jobs.load_job(job)


def test_2_rows_in_minus_the_visible_groups(tmp_path, tiny):
    """Found: a suppressed group's size was in the manifest's `rows_in`."""
    truth = hx.nps(attributed(tiny).query("instrument == 'nps'"), "score", by="silo")
    partners = truth.set_index("silo").loc["partners"]
    assert partners["n"] == 3
    out, manifest = run(tmp_path, tiny, measure("by_silo", NPS, "['silo']"))
    table = out["by_silo"]
    shown = table[~table["suppressed"]]
    assert table.set_index("silo").loc["partners", "suppressed"]
    assert table["suppressed"].sum() >= 2  # a single hidden group is the total minus the rest
    total = rows_in(manifest, "by_silo")
    excluded = next(m for m in manifest["measures"] if m["name"] == "by_silo")["excluded"]
    if total is not None:
        remainder = total - shown["n"].sum()
        for candidate in (remainder, remainder - sum(excluded.values())):
            assert candidate != partners["n"]
    for column in COUNTS:
        # Every count of the hidden partners is blank.
        assert pd.isna(table.set_index("silo").loc["partners", column])


def test_3_a_narrower_where_does_not_give_back_one_answer(tmp_path, sample):
    """Found: two measures (workers, workers minus one hybrid type) differed by one
    answer. On the sample, one worker answer comes from a customer_to_worker person."""
    answers = attributed(sample).query("instrument == 'nps' and silo == 'workers'")
    assert answers["hybrid_type"].eq("customer_to_worker").sum() == 1
    everyone = answers[answers["hybrid_type"].isin(TYPES)]
    others = everyone[everyone["hybrid_type"] != "customer_to_worker"]
    true_broad = hx.nps(everyone, "score")
    true_narrow = hx.nps(others, "score")
    assert true_broad["n"].iloc[0] - true_narrow["n"].iloc[0] == 1
    narrow_types = [t for t in TYPES if t != "customer_to_worker"]
    out, manifest = run(
        tmp_path,
        sample,
        measure("workers", f"{{ instrument = 'nps', silo = 'workers', hybrid_type = {TYPES} }}")
        + measure(
            "workers_but_one",
            f"{{ instrument = 'nps', silo = 'workers', hybrid_type = {narrow_types} }}",
        ),
    )
    broad, narrow = out["workers"].iloc[0], out["workers_but_one"].iloc[0]
    assert broad["suppressed"] or narrow["suppressed"]
    for column in COUNTS:
        # The difference of the two published figures would be the one answer.
        assert pd.isna(broad[column]) or pd.isna(narrow[column])
    a, b = rows_in(manifest, "workers"), rows_in(manifest, "workers_but_one")
    assert a is None or b is None
    # And the number shown is the true one (nothing perturbed).
    if not broad["suppressed"]:
        assert broad["estimate"] == pytest.approx(true_broad["estimate"].iloc[0])


@pytest.mark.parametrize(("data_name", "group"), [("tiny", "silo"), ("sample", "hybrid_type")])
def test_4_hx_index_n_of_a_suppressed_group(tmp_path, request, data_name, group):
    """Found: hx_index output kept `n` of a suppressed group and hid no neighbour."""
    data = request.getfixturevalue(data_name)
    core = attributed(data).query("instrument == 'hx_core'")
    items = [f"hx{i}" for i in range(1, 7)]
    truth = hx.hx_index(core, items, by=group, min_n=1, n_resamples=0)
    truth = truth.assign(**{group: truth[group].astype(str)}).set_index(group)
    small = truth.index[truth["n"] < 5]
    assert len(small) >= 1  # there is something to protect
    out, manifest = run(
        tmp_path,
        data,
        "[[measure]]\nname = 'index'\nfunction = 'hx_index'\ntable = 'responses'\n"
        f"where = {{ instrument = 'hx_core' }}\nitems = {items}\nby = '{group}'\n"
        "n_resamples = 0\n",
    )
    table = out["index"]
    table = table.assign(**{group: table[group].astype(str)}).set_index(group)
    assert table.loc[small, "suppressed"].all()
    assert table["suppressed"].sum() >= 2  # a neighbour too
    hidden = table.index[table["suppressed"]]
    # The estimate column is "estimate" once hx_index is on the result builder.
    estimate = "estimate" if "estimate" in table.columns else "hx_index"
    for column in ("n", "n_responses", estimate):
        assert table.loc[hidden, column].isna().all()
    shown = table[~table["suppressed"]]
    # Shown numbers are the true ones.
    assert shown["n"].tolist() == truth.loc[shown.index, "n"].tolist()
    total = rows_in(manifest, "index")
    if total is not None:
        # rows_in counts (response, item) rows; per response: the number of items.
        remainder = total / len(items) - shown["n_responses"].sum()
        assert remainder not in set(truth.loc[hidden, "n_responses"])


def test_5_total_minus_visible_siblings_within_and_across_outputs(tmp_path, tiny):
    """A total (one measure) minus the shown groups of another; and, within a two-way
    table, every relation (a row or column of it, whose total another output shows)."""
    data = attributed(tiny).query("instrument == 'nps'")
    truth = hx.nps(data, "score", by="silo").set_index("silo")
    out, _ = run(
        tmp_path,
        tiny,
        measure("total", NPS)
        + measure("by_silo", NPS, "['silo']")
        + measure("by_silo_customer", NPS, "['silo', 'is_customer']"),
    )
    total = out["total"].iloc[0]
    by_silo = out["by_silo"]
    shown = by_silo[~by_silo["suppressed"]]
    for column in COUNTS:
        if not pd.isna(total[column]):
            assert total[column] - shown[column].sum() != truth.loc["partners", column]
    two_way = out["by_silo_customer"]
    true_two_way = hx.nps(data, "score", by=["silo", "is_customer"])
    # Primary rule: every true small cell is hidden.
    small = true_two_way[true_two_way["n"] < 5][["silo", "is_customer"]]
    merged = small.merge(two_way, on=["silo", "is_customer"])
    assert merged["suppressed"].all()
    # Secondary rule: no relation "total = sum of its parts" holds exactly one hidden
    # cell. A silo's total is shown by by_silo (hidden there or not); a total over
    # silos (one is_customer value) counts as known whether or not it is shown.
    silo_total_hidden = by_silo.set_index("silo")["suppressed"]
    for silo, parts in two_way.groupby("silo"):
        if len(parts) > 1:
            assert parts["suppressed"].sum() + silo_total_hidden[silo] != 1, silo
    for value, parts in two_way.groupby("is_customer"):
        if len(parts) > 1:
            assert parts["suppressed"].sum() != 1, value
    assert by_silo["suppressed"].sum() != 1


def test_manifest_counts_of_hidden_groups_are_not_written(tmp_path, tiny, capsys):
    out, manifest = run(
        tmp_path,
        tiny,
        measure("partners", "{ instrument = 'nps', silo = 'partners' }")
        + measure("by_silo", NPS, "['silo']"),
    )
    entry = next(m for m in manifest["measures"] if m["name"] == "partners")
    assert entry["rows_in"] is None
    assert "suppressed" in " ".join(entry["notes"])
    assert out["partners"]["suppressed"].all()
    assert manifest["privacy"]["min_n"] == 5
    assert "3" not in json.dumps(entry["excluded"])
    # The command's summary line does not print the hidden count either.
    printed = capsys.readouterr().out
    assert "partners: 1 rows (1 suppressed) from a suppressed count of rows" in printed


def test_min_n_1_turns_suppression_off_and_says_so(tmp_path, tiny):
    out, manifest = run(
        tmp_path, tiny, measure("by_silo", NPS, "['silo']"), privacy="[privacy]\nmin_n = 1\n"
    )
    assert not out["by_silo"]["suppressed"].any()
    assert out["by_silo"].set_index("silo").loc["partners", "n"] == 3
    assert manifest["privacy"]["min_n"] == 1
    assert "no disclosure control" in manifest["privacy"]["note"]


def test_a_stricter_measure_min_n_is_applied(tmp_path, sample):
    out, _ = run(tmp_path, sample, measure("by_silo", NPS, "['silo']", extra="min_n = 300\n"))
    table = out["by_silo"].set_index("silo")
    assert table.loc["partners", "suppressed"]  # 198 answers < 300
    assert table["suppressed"].sum() >= 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (measure("x", NPS, "['silo']", extra="min_n = 2\n"), "below the job's [privacy] min_n"),
        (
            "[[measure]]\nname = 'rfm'\nfunction = 'rfm_summary'\ntable = 'responses'\n"
            "customer = 'source_id'\ntime = 'timestamp'\nobservation_end = '2024-01-01'\n",
            "per-person data",
        ),
        (
            "[[measure]]\nname = 'ix'\nfunction = 'hx_index'\ntable = 'responses'\n"
            "items = ['hx1']\nby = 'silo'\nnormalise = 'rank'\n",
            "under disclosure control use the default",
        ),
        ("[privacy]\nmin_n = 0\n" + measure("x", NPS), "min_n must be a positive integer"),
        ("[privacy]\nmin = 3\n" + measure("x", NPS), "Did you mean 'min_n'"),
    ],
)
def test_privacy_usage_errors(tmp_path, sample, capsys, text, message):
    job = tmp_path / "job.toml"
    job.write_text(
        f"[inputs]\nresponses = '{sample}/responses.csv'\n[output]\ndir = 'out'\n" + text
    )
    assert main(["compute", "--job", str(job)]) == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------- person ids


def test_a_generated_secret_is_stored_0600_reused_and_never_in_the_manifest(tmp_path, sample):
    """Found: person_id was an unsalted hash of the roster id."""
    run(tmp_path, sample, measure("by_silo", NPS, "['silo']"))
    secret_file = tmp_path / "out" / ".hxmetrics-secret"
    secret = secret_file.read_text().strip()
    assert len(secret) == 64
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    manifest_text = (tmp_path / "out" / "manifest.json").read_text()
    assert secret not in manifest_text
    assert "generated by this run" in manifest_text
    _, manifest = run(tmp_path, sample, measure("by_silo", NPS, "['silo']"))
    assert secret_file.read_text().strip() == secret  # ids stay stable across runs
    assert "stored in the output folder" in manifest["person_id_secret"]
    assert secret not in json.dumps(manifest)
    job = jobs.load_job(tmp_path / "job.toml")
    assert jobs._secret(job)[0] == secret


def test_a_given_secret_file_is_used_and_not_copied(tmp_path, sample, monkeypatch):
    from hxmetrics.stakeholders import new_secret

    secret = new_secret()
    (tmp_path / "org.secret").write_text(secret + "\n")
    seen = []
    real = StakeholderRegistry.from_rosters.__func__

    def spy(cls, **kwargs):
        seen.append(kwargs.get("secret"))
        return real(cls, **kwargs)

    monkeypatch.setattr(StakeholderRegistry, "from_rosters", classmethod(spy))
    job = tmp_path / "job.toml"
    job.write_text(
        f"[inputs]\nresponses = '{sample}/responses.csv'\nworkers = '{sample}/workers.csv'\n"
        "[stakeholders]\nsecret_file = 'org.secret'\n[output]\ndir = 'out'\n"
        + measure("by_silo", NPS, "['silo']")
    )
    assert main(["compute", "--job", str(job)]) == 0
    assert seen == [secret]
    assert not (tmp_path / "out" / ".hxmetrics-secret").exists()
    text = (tmp_path / "out" / "manifest.json").read_text()
    assert secret not in text
    assert "org.secret" in text
    assert os.environ.get("HXMETRICS_TEST_KILL_AT") is None


def _label(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One key per row: the group labels as text (a missing label is 'nan')."""
    return frame[columns].astype(str).apply(tuple, axis=1)


@pytest.mark.parametrize("data_name", ["tiny", "sample"])
def test_6_no_hidden_cell_follows_from_the_published_figures(tmp_path, request, data_name):
    """An attacker independent of the layer: every figure the job publishes (files and
    manifest) is a known cell; every relation "total = sum of parts" (the total, the
    margins by silo and by hybrid type, the two-way table) with exactly one unknown
    gives it, and what it gives is known from then on. Nothing hidden is recovered."""
    data = request.getfixturevalue(data_name)
    answers = attributed(data).query("instrument == 'nps'")
    out, manifest = run(
        tmp_path,
        data,
        measure("total", NPS)
        + measure("by_silo", NPS, "['silo']")
        + measure("by_hybrid", NPS, "['hybrid_type']")
        + measure("two_way", NPS, "['silo', 'hybrid_type']"),
    )
    dims = {"by_silo": ["silo"], "by_hybrid": ["hybrid_type"], "two_way": ["silo", "hybrid_type"]}

    def cell(columns: list[str], labels: tuple) -> frozenset:
        return frozenset(zip(columns, labels, strict=True))

    truth: dict[frozenset, int] = {frozenset(): len(answers)}
    known: dict[frozenset, float] = {}
    hidden: set[frozenset] = set()
    if not out["total"]["suppressed"].iloc[0]:
        known[frozenset()] = float(out["total"]["n"].iloc[0])
    if rows_in(manifest, "total") is not None:
        known[frozenset()] = float(rows_in(manifest, "total"))
    for name, columns in dims.items():
        true = hx.nps(answers, "score", by=columns)
        for labels, n in zip(_label(true, columns), true["n"], strict=True):
            truth[cell(columns, labels)] = int(n)
            if n < 5:
                hidden.add(cell(columns, labels))  # primary: must be hidden
        table = out[name]
        for labels, row in zip(_label(table, columns), table.itertuples(), strict=True):
            key = cell(columns, labels)
            if row.suppressed:
                hidden.add(key)
                assert pd.isna(row.n)
            else:
                assert key not in hidden, f"{key} has n < 5 and is shown"
                assert row.n == truth[key]
                known[key] = float(row.n)
    assert hidden
    silos = {dict(k)["silo"] for k in truth if set(dict(k)) == {"silo"}}
    types = {dict(k)["hybrid_type"] for k in truth if set(dict(k)) == {"hybrid_type"}}
    relations = [
        (frozenset(), [cell(["silo"], (s,)) for s in silos]),
        (frozenset(), [cell(["hybrid_type"], (t,)) for t in types]),
    ]
    for s in silos:
        parts = [cell(["silo", "hybrid_type"], (s, t)) for t in types]
        relations.append((cell(["silo"], (s,)), [p for p in parts if p in truth]))
    for t in types:
        parts = [cell(["silo", "hybrid_type"], (s, t)) for s in silos]
        relations.append((cell(["hybrid_type"], (t,)), [p for p in parts if p in truth]))
    assert not {k: v for k, v in _attack(known, relations).items() if k in hidden}
    # Negative control: had only the small cells been hidden (each table on its own,
    # the old behaviour), the same attacker recovers some of them exactly.
    primary = {k: float(v) for k, v in truth.items() if v >= 5 or k == frozenset()}
    gained = _attack(primary, relations)
    assert any(gained[k] == truth[k] for k in gained if truth[k] < 5)


def _attack(known: dict, relations: list) -> dict:
    """Subtraction to a fixed point: a relation with one unknown cell gives it."""
    known = dict(known)
    recovered = {}
    changed = True
    while changed:
        changed = False
        for total, parts in relations:
            unknown = [c for c in [total, *parts] if c not in known]
            if len(unknown) != 1:
                continue
            (target,) = unknown
            if target == total:
                value = sum(known[p] for p in parts)
            else:
                value = known[total] - sum(known[p] for p in parts if p != target)
            known[target] = recovered[target] = value
            changed = True
    return recovered


def test_the_stored_secret_survives_a_run_killed_between_the_renames(tmp_path, sample):
    """Recovery runs before the secret is read: person ids stay stable after a kill."""
    from tests.test_jobs import _dead_pid

    run(tmp_path, sample, measure("by_silo", NPS, "['silo']"))
    secret = (tmp_path / "out" / ".hxmetrics-secret").read_text()
    (tmp_path / "out").rename(tmp_path / f".out.old-{_dead_pid()}-deadbeef")
    _, manifest = run(tmp_path, sample, measure("by_silo", NPS, "['silo']"))
    assert (tmp_path / "out" / ".hxmetrics-secret").read_text() == secret
    assert "stored in the output folder" in manifest["person_id_secret"]
    assert any("restored the previous output" in line for line in manifest["recovered"])


def test_exclusions_of_hidden_groups_stay_hidden():
    """Found while moving the measures to the one result builder: a measure run
    without suppression (as jobs run them) totals every group's exclusions in
    attrs["hxmetrics"]["excluded"], and the manifest (and a Parquet file's metadata)
    would take it: a hidden group's excluded rows were "total minus the shown
    groups". (The responses contract has no missing scores today, so the unit.)"""
    answers = pd.DataFrame(
        {
            "score": [10, 9, None, 8, 3, None, 9, 9, 9, 9, 9, 1, 2, 3, 7, None],
            "silo": ["partners"] * 3 + ["workers"] * 6 + ["customers"] * 7,
        }
    )
    result = hx.nps(answers, "score", by="silo")
    assert result.attrs["hxmetrics"]["excluded"] == {"missing": 3}
    layer = hx.privacy.Disclosure(5)
    layer.add("by_silo", result, base="answers", by=["silo"], n="n")
    shown = layer.table("by_silo")  # the one layer re-totals over the rows shown
    hidden = shown["suppressed"].to_numpy()
    assert hidden.any()
    visible = int(shown.loc[~hidden, "n_excluded_missing"].sum())
    assert shown.attrs["hxmetrics"]["excluded"] == {"missing": visible}
    assert jobs._excluded(shown[~hidden]) == {"missing": visible}
    # The measure's own total (hidden groups too) stays on the unprotected result only.
    assert visible != 3
    assert result.attrs["hxmetrics"]["excluded"] == {"missing": 3}


def test_group_labels_that_are_emails_are_refused(tmp_path, sample, capsys):
    """Hostile input (this round's review): a column not named like an identifier but
    holding emails ('team') made one group per person, its email printed as the label."""
    data = tmp_path / "data"
    shutil.copytree(sample, data)
    responses = pd.read_csv(data / "responses.csv")
    responses["team"] = [f"person{i % 40}@example.org" for i in range(len(responses))]
    responses.to_csv(data / "responses.csv", index=False)
    job = tmp_path / "job.toml"
    job.write_text(
        "[inputs]\n"
        + "".join(f"{t} = '{data / t}.csv'\n" for t in ("customers", "workers", "partners"))
        + f"responses = '{data}/responses.csv'\n[output]\ndir = 'out'\nformat = 'csv'\n"
        + measure("by_team", NPS, "['team']")
    )
    assert main(["compute", "--job", str(job)]) != 0
    err = capsys.readouterr().err
    assert "group column 'team' holds values that look like an email" in err
    assert "@example.org" not in err
    assert not (tmp_path / "out" / "by_team.csv").exists()
