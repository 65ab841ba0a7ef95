"""BG/NBD fit on 1,000,000 simulated customers: hxmetrics vs lifetimes 0.11.3.

Both fits run in fresh subprocesses on the same data file (a ``.npz`` of frequency,
recency and T in whole weeks, as an RFM summary in weeks gives them), so each process's
peak resident memory (``resource.getrusage``) is its own: reported is the growth of the
peak during the fit over the peak after loading the data.

The peer is ``lifetimes==0.11.3``, a benchmark-only dependency. It is looked up in
this order: the interpreter named by ``HXMETRICS_LIFETIMES_PYTHON``; the current
interpreter if ``import lifetimes`` works; ``/work/venv-lifetimes/bin/python``. Set it
up in its own environment (it pins nothing that clashes, but it pulls ``autograd``)::

    python -m venv /work/venv-lifetimes
    /work/venv-lifetimes/bin/pip install lifetimes==0.11.3

Without it the peer rows say "not installed". lifetimes is run as its users call it
(``BetaGeoFitter().fit(frequency, recency, T)``, no pre-collapsed weights);
hxmetrics collapses identical rows itself.
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

_OURS = r"""
import json, resource, sys, time
import numpy as np
import pandas as pd
from hxmetrics.measures.clv import BetaGeo
d = np.load(sys.argv[1])
frame = pd.DataFrame({"frequency": d["x"], "recency": d["tx"], "T": d["T"]})
BetaGeo().fit(frame.head(1000), unit="W")  # warm imports and caches
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
m = BetaGeo().fit(frame, unit="W")
elapsed = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_kb": peak - before, "params": m.params_,
                  "ll": m.log_likelihood_, "rows": m.fit_info_["n_rows"]}))
"""

_PEER = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter
d = np.load(sys.argv[1])
f, r, T = (pd.Series(d[k]) for k in ("x", "tx", "T"))
BetaGeoFitter().fit(f[:1000], r[:1000], T[:1000])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
m = BetaGeoFitter().fit(f, r, T)
elapsed = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_kb": peak - before,
                  "params": {k: float(v) for k, v in m.params_.items()}}))
"""


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
    candidate = Path("/work/venv-lifetimes/bin/python")
    return str(candidate) if candidate.exists() else None


def _simulate(n: int, path: Path) -> None:
    from hxmetrics.measures.clv.simulate import simulate_betageo

    rng = np.random.default_rng(2024)
    big_t = rng.integers(39, 53, n).astype(float)  # a 13-week acquisition window
    d = simulate_betageo(n, T=big_t, random_state=rng, **TRUE)
    x = d["frequency"].to_numpy()
    tx = np.where(x > 0, np.floor(d["recency"].to_numpy()), 0.0)
    np.savez(path, x=x, tx=tx, T=big_t)


def _run(python: str, script: str, data: Path) -> dict:
    out = subprocess.run(
        [python, "-c", script, str(data)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> str:
    """Time, peak memory and estimates of both fits, side by side, as Markdown."""
    n = 20_000 if quick else 1_000_000
    tmp = Path(tempfile.mkdtemp(prefix="hx_bench_clv_"))
    try:
        data = tmp / "bgnbd.npz"
        _simulate(n, data)
        ours = _run(sys.executable, _OURS, data)
        peer_py = _peer_python()
        peer = None
        peer_error = "not installed"
        if peer_py is not None:
            try:
                peer = _run(peer_py, _PEER, data)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                peer_error = f"failed: {type(exc).__name__}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [
        "## CLV: BG/NBD fit",
        "",
        f"{n:,} customers simulated from BG/NBD at the CDNOW estimates (Fader, Hardie & "
        "Lee 2005), T of 39-52 whole weeks, recency floored to whole weeks (as an RFM "
        f"summary in weeks); {ours['rows']:,} distinct (x, t_x, T) rows. Each fit in its "
        "own process on the same file; memory is the growth of peak RSS during the fit.",
        "",
        "| library | fit time (s) | peak memory during fit (MiB) | r | alpha | a | b |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(name: str, res: dict) -> str:
        p = res["params"]
        return (
            f"| {name} | {res['seconds']:.3f} | {res['peak_kb'] / 1024:.1f} | "
            f"{p['r']:.4f} | {p['alpha']:.4f} | {p['a']:.4f} | {p['b']:.4f} |"
        )

    lines.append(row("hxmetrics", ours))
    if peer is not None:
        lines.append(row("lifetimes 0.11.3", peer))
    else:
        lines.append(f"| lifetimes 0.11.3 | {peer_error} | | | | | |")
    lines.append(f"| truth | | | {TRUE['r']} | {TRUE['alpha']} | {TRUE['a']} | {TRUE['b']} |")
    lines.append("")
    if peer is not None:
        speedup = peer["seconds"] / ours["seconds"]
        mem_text = (
            f"{peer['peak_kb'] / ours['peak_kb']:.1f}x"
            if ours["peak_kb"] >= 1024
            else "hxmetrics' fit stayed under the peak reached while loading the data "
            "(< 1 MiB growth)"
        )
        rel = max(abs(ours["params"][k] - peer["params"][k]) / abs(peer["params"][k]) for k in TRUE)
        lines += [
            f"- speed-up (lifetimes time / hxmetrics time, same run): **{speedup:.1f}x**",
            f"- peak-memory ratio (lifetimes / hxmetrics): {mem_text}",
            f"- largest relative difference between the two estimates: {rel:.2e}",
            f"- hxmetrics log-likelihood at its optimum: {ours['ll']:.2f}",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
