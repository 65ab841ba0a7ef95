"""Tests of hxmetrics.instruments (issue 17)."""
