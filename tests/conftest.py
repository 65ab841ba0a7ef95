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


# tryfirst: xdist's worker reads the groups in its own pytest_collection_modifyitems, which
# runs before this conftest's otherwise (this file is loaded before the worker registers);
# without it no test got a group and the Spark tests ran on both workers, two JVMs.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """xdist groups (``--dist loadgroup`` in the pytest options), each run whole by one
    worker:

    * every test of the ``spark`` fixture in one group: one worker runs them all, so one
      JVM starts instead of one per worker, and the other worker runs the rest meanwhile;
    * every other test in the group of its module: a module-scoped fixture (a simulated
      organisation, a built report, a job's outputs) is built once, not once on each
      worker that xdist's load balancing would have sent some of the module's tests to.
    """
    del config
    spark = []
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("spark"))
            spark.append(item)
        else:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
    # Under xdist, the Spark group first (``--no-loadscope-reorder`` keeps this order):
    # it is the longest unit of work, and started last it would finish alone after the
    # rest. Not in a serial run, where it would split a module's tests in two and set up
    # its module fixtures twice (review finding C1).
    if "PYTEST_XDIST_WORKER" in os.environ:
        first = {id(item) for item in spark}
        items[:] = spark + [item for item in items if id(item) not in first]


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
        .config("spark.sql.session.timeZone", "UTC")
        # The engine path's jobs keep their attributed tables (local checkpoints): 2 GiB instead of
        # local mode's default 1 GiB, which ran out in a hash aggregate of the sample job.
        .config("spark.driver.memory", "2g")
        # Speed only, never what a query returns. Tests run tiny tables through thousands
        # of small queries, so Spark's fixed cost per query is the Spark chain's time (the
        # critical path of `pytest -n 2`, one worker runs every Spark test). Measured side
        # by side (tests/stakeholders/test_engine_attribution.py's and
        # tests/measures/test_spark.py's Spark tests, 2 rounds, CPU seconds of the JVM and
        # its Python workers plus pytest, runs alternated on a loaded machine): 58.9, 57.4
        # and 55.6 s with session 8's settings (shuffle partitions 2, whole-stage code
        # generation off), 24.2, 27.6 and 24.6 s with these. One run each, on top of these
        # and the expressions interpreted: 47.0 s without the two JVM options below, 27.2 s
        # with adaptive execution on, 21.8-23.8 s as they are.
        # - One task per stage: a single local core runs the tasks one after the other.
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        # - No adaptive re-planning at each shuffle (it re-optimises every query; the
        #   tables are far too small for its gains).
        .config("spark.sql.adaptive.enabled", "false")
        # - No whole-stage code generation: compiling each query's generated Java
        #   (Janino) costs more than running it on tiny tables (session 8, on the identity
        #   test: 19-30 s without it, 32-43 s with it). Interpreting the expressions too
        #   (spark.sql.codegen.factoryMode NO_CODEGEN, internal) gained nothing measurable.
        .config("spark.sql.codegen.wholeStage", "false")
        # - The JVM's quick compiler only and one GC thread: a test JVM lives minutes on
        #   two shared cores, where the optimising compiler's and G1's threads cost more
        #   than they return.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        # - No waiting for data locality (one executor holds everything) and no console
        #   progress bar.
        .config("spark.locality.wait", "0")
        .config("spark.ui.showConsoleProgress", "false")
        # - No capture of the Python call site at every pyspark function call (pyspark 4
        #   inspects the stack and makes 3-6 py4j round trips each time, for the
        #   "DataFrame query context" of Spark's own error messages; results are the
        #   same). Session 11, side by side: one warm validation of customers 14,383 ->
        #   6,397 py4j round trips; the Spark tests of test_tables_engines.py and
        #   instruments/test_checks_engines.py 45.6/45.8 -> 41.7/41.1 CPU s (JVM and
        #   workers included, interleaved, load 5-7).
        .config("spark.python.sql.dataFrameDebugging.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
