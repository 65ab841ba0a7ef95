"""Small-group suppression for a measure's output: the one layer of :mod:`hxmetrics.privacy`.

A group with fewer than ``min_n`` respondents is *suppressed*: its row stays (its
group labels and the ``suppressed`` flag show that it exists) but every number in
it is hidden, and complementary suppression hides the smallest sibling where one
hidden group could be recovered as "total minus visible siblings". The rules, and
the same layer applied across every table of a report or a batch job, are in
:mod:`hxmetrics.privacy`; this module re-exports what the measures use.

Worker instruments (eNPS, the HX core asked of workers) use
:data:`WORKER_MIN_N` = 5 by default; customer and partner measures default to no
suppression (``min_n=None``) in the Python API, while the report and batch jobs
suppress every group below 5 by default.
"""

from __future__ import annotations

from hxmetrics.privacy import WORKER_MIN_N, check_min_n, suppress

__all__ = ["WORKER_MIN_N", "check_min_n", "suppress"]
