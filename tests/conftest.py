"""Suite-wide settings. Engine fixtures live next to the tests that use them."""

import os

from hypothesis import HealthCheck, settings

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
