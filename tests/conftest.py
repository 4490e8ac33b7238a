"""Shared test set-up: hypothesis profiles and small fixtures."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI keeps property tests bounded; `HYPOTHESIS_PROFILE=thorough` runs many more examples locally.
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
