"""BG/NBD fit on 1,000,000 simulated customers: hxmetrics vs lifetimes 0.11.3.

Both libraries run in fresh subprocesses on the same data file (a ``.npz`` of
frequency, recency and T in whole weeks, as an RFM summary in weeks gives them), in
the same run of this module, so the ratios compare like with like on whatever the
machine is doing at the time. Reported per fit: wall time, CPU time of the process
(``time.process_time``, all threads: robust to other load on the machine, but it also
counts BLAS threads spinning), and peak memory during the fit: the process's peak
resident set is reset just before the fit (``/proc/self/clear_refs``, Linux) and the
growth of the peak over the resident set before the fit is reported. hxmetrics' fit is
the median of several repetitions (it takes a fraction of a second); lifetimes' is one
run.

Rows:

* ``hxmetrics``: ``BetaGeo().fit(frame)`` on the million rows, as a user calls it; it
  validates the columns, collapses identical ``(x, t_x, T)`` rows and optimises.
  Its two stages are also timed alone: the collapse (``collapse``), and the fit on the
  already distinct rows with their counts as weights (validation + optimisation).
* ``lifetimes 0.11.3``: ``BetaGeoFitter().fit(frequency, recency, T)``, as its users
  call it (one likelihood term per customer); and, for reference, the same fit on the
  distinct rows with ``weights=`` (lifetimes' documented way to condense the data).

The estimates are compared, and both are scored with hxmetrics' log-likelihood on
the same data.

The peer is ``lifetimes==0.11.3``, a benchmark-only dependency. It is looked up in
this order: the interpreter named by ``HXMETRICS_LIFETIMES_PYTHON``; the current
interpreter if ``import lifetimes`` works; ``.venv-lifetimes/bin/python`` at the
repository root. Set it up in its own environment (it predates pandas 3)::

    python -m venv .venv-lifetimes
    .venv-lifetimes/bin/pip install lifetimes==0.11.3

Without it the peer rows say "not installed".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW estimates, weeks

# Shared by both subprocesses: timing and the peak-memory probe.
_PROBE = r"""
import json, resource, statistics, sys, time

def _status_kb(key):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None

def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False

def measure(fn):
    exact = _reset_peak()
    rss0 = _status_kb("VmRSS") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak = _status_kb("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out, {"wall": wall, "cpu": cpu, "peak_kb": max(peak - rss0, 0), "exact_mem": exact}

def median_of(fn, reps):
    runs = [measure(fn) for _ in range(reps)]
    out = runs[-1][0]
    stats = {k: statistics.median(r[1][k] for r in runs) for k in ("wall", "cpu", "peak_kb")}
    stats["exact_mem"] = runs[0][1]["exact_mem"]
    stats["reps"] = reps
    return out, stats
"""

_OURS = (
    _PROBE
    + r"""
import numpy as np
import pandas as pd
from hxmetrics.measures.clv import BetaGeo
from hxmetrics.measures.clv._base import collapse
d = np.load(sys.argv[1])
reps = int(sys.argv[2])
x, tx, big_t = d["x"], d["tx"], d["T"]
frame = pd.DataFrame({"frequency": x, "recency": tx, "T": big_t})
BetaGeo().fit(frame.head(1000), unit="W")  # warm imports and caches
m, full = median_of(lambda: BetaGeo().fit(frame, unit="W"), reps)
parts, coll = median_of(lambda: collapse(x, tx, big_t), reps)
distinct = pd.DataFrame({"frequency": parts[0], "recency": parts[1], "T": parts[2],
                         "w": parts[3]})
m2, opt = median_of(lambda: BetaGeo().fit(distinct, weights="w", unit="W"), reps)
print(json.dumps({"full": full, "collapse": coll, "optimise": opt, "params": m.params_,
                  "ll": m.log_likelihood_, "rows": m.fit_info_["n_rows"],
                  "evaluations": m.fit_info_["evaluations"],
                  "evaluations_distinct": m2.fit_info_["evaluations"]}))
"""
)

_PEER = (
    _PROBE
    + r"""
import warnings
warnings.simplefilter("ignore")
import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter
calls = [0]
_nll = BetaGeoFitter._negative_log_likelihood
def _counted(*args):
    calls[0] += 1
    return _nll(*args)
BetaGeoFitter._negative_log_likelihood = staticmethod(_counted)
d = np.load(sys.argv[1])
f, r, T = (pd.Series(d[k]) for k in ("x", "tx", "T"))
BetaGeoFitter().fit(f[:1000], r[:1000], T[:1000])
calls[0] = 0
m, full = measure(lambda: BetaGeoFitter().fit(f, r, T))
full_calls = calls[0]
g = pd.DataFrame({"f": f, "r": r, "T": T}).value_counts().reset_index(name="w")
calls[0] = 0
m2, opt = measure(lambda: BetaGeoFitter().fit(g["f"], g["r"], g["T"], weights=g["w"]))
print(json.dumps({"full": full, "optimise": opt, "calls": full_calls,
                  "calls_distinct": calls[0],
                  "params": {k: float(v) for k, v in m.params_.items()},
                  "params_distinct": {k: float(v) for k, v in m2.params_.items()}}))
"""
)


def _peer_python() -> str | None:
    env = os.environ.get("HXMETRICS_LIFETIMES_PYTHON")
    if env:
        return env
    try:
        import lifetimes  # noqa: F401
    except ImportError:
        pass
    else:
        return sys.executable
    candidate = Path(__file__).resolve().parents[1] / ".venv-lifetimes" / "bin" / "python"
    return str(candidate) if candidate.exists() else None


def _simulate(n: int, path: Path) -> None:
    from hxmetrics.measures.clv.simulate import simulate_betageo

    rng = np.random.default_rng(2024)
    big_t = rng.integers(39, 53, n).astype(float)  # a 13-week acquisition window
    d = simulate_betageo(n, T=big_t, random_state=rng, **TRUE)
    x = d["frequency"].to_numpy()
    tx = np.where(x > 0, np.floor(d["recency"].to_numpy()), 0.0)
    np.savez(path, x=x, tx=tx, T=big_t)


def _run(python: str, script: str, *args: str) -> dict:
    out = subprocess.run(
        [python, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _loglik(params: dict, data: Path) -> float:
    """hxmetrics' BG/NBD log-likelihood of ``data`` at ``params``."""
    from hxmetrics.measures.clv._base import collapse
    from hxmetrics.measures.clv.betageo import _bg_loglik

    d = np.load(data)
    x, tx, big_t, w = collapse(d["x"], d["tx"], d["T"])
    p = np.array([params[k] for k in ("r", "alpha", "a", "b")])
    return _bg_loglik(p, x, tx, big_t, w, modified=False)[0]


def run(quick: bool = False) -> str:
    """Time, CPU, peak memory and estimates of both fits, side by side, as Markdown."""
    n = 20_000 if quick else 1_000_000
    reps = 1 if quick else 5
    tmp = Path(tempfile.mkdtemp(prefix="hx_bench_clv_"))
    try:
        data = tmp / "bgnbd.npz"
        _simulate(n, data)
        ours = _run(sys.executable, _OURS, str(data), str(reps))
        peer_py = _peer_python()
        peer = None
        peer_error = "not installed"
        if peer_py is not None:
            try:
                peer = _run(peer_py, _PEER, str(data))
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                peer_error = f"failed: {type(exc).__name__}"
        ll_ours = _loglik(ours["params"], data)
        ll_peer = _loglik(peer["params"], data) if peer is not None else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def mib(stats: dict) -> str:
        return f"{stats['peak_kb'] / 1024:.1f}"

    def params(p: dict) -> str:
        return f"{p['r']:.4f} | {p['alpha']:.4f} | {p['a']:.4f} | {p['b']:.4f}"

    lines = [
        "## CLV: BG/NBD fit",
        "",
        f"{n:,} customers simulated from BG/NBD at the CDNOW estimates (Fader, Hardie & "
        "Lee 2005), T of 39-52 whole weeks, recency floored to whole weeks (as an RFM "
        f"summary in weeks): {ours['rows']:,} distinct (x, t_x, T) rows. Each library "
        "in its own process on the same file, in the same run. Wall and CPU seconds "
        "(CPU = user + system time of the process, all threads); peak memory = growth of "
        f"the peak resident set during the fit. hxmetrics: median of {reps} fit(s); "
        "lifetimes: one fit.",
        "",
        "| library: what is timed | wall (s) | CPU (s) | peak memory (MiB) | "
        "likelihood evaluations | r | alpha | a | b |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| hxmetrics: `BetaGeo().fit` on all rows | {ours['full']['wall']:.3f} | "
        f"{ours['full']['cpu']:.3f} | {mib(ours['full'])} | {ours['evaluations']} | "
        f"{params(ours['params'])} |",
        f"| hxmetrics: of which collapse to distinct rows | {ours['collapse']['wall']:.3f} | "
        f"{ours['collapse']['cpu']:.3f} | {mib(ours['collapse'])} | | | | | |",
        f"| hxmetrics: fit on the distinct rows (weights) | {ours['optimise']['wall']:.3f} | "
        f"{ours['optimise']['cpu']:.3f} | {mib(ours['optimise'])} | "
        f"{ours['evaluations_distinct']} | | | | |",
    ]
    if peer is not None:
        lines += [
            f"| lifetimes 0.11.3: `BetaGeoFitter().fit` on all rows | "
            f"{peer['full']['wall']:.3f} | {peer['full']['cpu']:.3f} | {mib(peer['full'])} | "
            f"{peer['calls']} (optimiser + autograd Hessian) | {params(peer['params'])} |",
            f"| lifetimes 0.11.3: fit on the distinct rows (weights) | "
            f"{peer['optimise']['wall']:.3f} | {peer['optimise']['cpu']:.3f} | "
            f"{mib(peer['optimise'])} | {peer['calls_distinct']} (optimiser + autograd Hessian) | "
            f"{params(peer['params_distinct'])} |",
        ]
    else:
        lines.append(f"| lifetimes 0.11.3 | {peer_error} | | | | | | | |")
    lines.append(f"| truth | | | | | {TRUE['r']} | {TRUE['alpha']} | {TRUE['a']} | {TRUE['b']} |")
    lines.append("")
    if peer is not None:
        wall_ratio = peer["full"]["wall"] / ours["full"]["wall"]
        cpu_ratio = peer["full"]["cpu"] / ours["full"]["cpu"]
        opt_ratio = peer["optimise"]["cpu"] / ours["optimise"]["cpu"]
        mem_ratio = (
            f"{peer['full']['peak_kb'] / ours['full']['peak_kb']:.1f}x"
            if ours["full"]["peak_kb"] > 0
            else "hxmetrics' peak did not grow"
        )
        rel = max(abs(ours["params"][k] - peer["params"][k]) / abs(peer["params"][k]) for k in TRUE)
        lines += [
            f"- speed-up on all rows (lifetimes / hxmetrics, same run): **{wall_ratio:.0f}x** "
            f"wall, **{cpu_ratio:.0f}x** CPU",
            f"- speed-up on the distinct rows (CPU): {opt_ratio:.0f}x",
            f"- peak-memory ratio on all rows (lifetimes / hxmetrics): {mem_ratio}",
            f"- largest relative difference between the two estimates: {rel:.1e}",
            f"- log-likelihood (hxmetrics' formula) at hxmetrics' estimates {ll_ours:.3f}, at "
            f"lifetimes' {ll_peer:.3f}",
        ]
    if not ours["full"]["exact_mem"]:
        lines.append(
            "- memory: /proc/self/clear_refs unavailable, so the growth of ru_maxrss "
            "(which only grows past the earlier peak) is shown"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
