"""Suite-wide settings, and the one local Spark session of every Spark test.

Other engine fixtures live next to the tests that use them.
"""

import os
import shutil
import sys
from collections.abc import Iterator
from typing import Any

# One BLAS/OpenMP thread per test process: `pytest -n 2` runs two workers on two cores,
# and BLAS's own threads on top of them oversubscribe the cores (the README's test command
# took 12m51s without this and 7m42s with it, issue 18's note). Set before numpy is
# imported by any test module; the workers inherit the environment. A value the caller
# set wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402  (after the thread limits above, on purpose)
from hypothesis import HealthCheck, settings  # noqa: E402  (same)

# CI runs the same examples every time (derandomised) so a red build is reproducible;
# locally hypothesis explores. Deadlines are off: CI machines are shared and timing is noise.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=40)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test of the ``spark`` fixture in one xdist group (``--dist loadgroup`` in the
    pytest options): one worker runs them all, so one JVM starts instead of one per
    worker, and the other worker runs the rest meanwhile."""
    del config
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for all Spark tests (bound to 127.0.0.1, no UI)."""
    pyspark = pytest.importorskip("pyspark", reason="pyspark is a test extra (local mode)")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    from pyspark.sql import SparkSession

    # Spark's Python workers (pandas UDFs of the engine path) run this interpreter, the
    # one with hxmetrics and pandas, not the first python3 on PATH. A caller's setting wins.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    del pyspark
    session = (
        SparkSession.builder.master("local[1]")
        .appName("hxmetrics-tests")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        # The engine path's jobs keep (persist) their attributed tables: 2 GiB instead of
        # local mode's default 1 GiB, which ran out in a hash aggregate of the sample job.
        .config("spark.driver.memory", "2g")
        # Tests run tiny tables through many queries: compiling each query's generated code
        # (Janino) costs more than running it. The interpreted path gives the same results
        # (Spark's own suites run both); measured on the identity test's workload, one run
        # each: 19-30 s without whole-stage code generation against 32-43 s with it.
        .config("spark.sql.codegen.wholeStage", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
