"""Small-group suppression for a measure's output: the one layer of :mod:`hxmetrics.privacy`.

A group with fewer than ``min_n`` respondents is *suppressed*: its row stays (its
group labels and the ``suppressed`` flag show that it exists) but every number in
it is hidden, and complementary suppression hides the smallest sibling where one
hidden group could be recovered as "total minus visible siblings". The rules, and
the same layer applied across every table of a report or a batch job, are in
:mod:`hxmetrics.privacy`; this module re-exports what the measures use.

Every grouped measure suppresses in one place, its result builder
(:func:`hxmetrics.measures._result.grouped_result`), which calls
:func:`suppress`: the same rule, the same <NA>/NaN and the same ``suppressed`` flag
for NPS, CSAT, the HX index, reliability and tenure alike.

Worker instruments (eNPS, the HX core asked of workers) should use
:data:`WORKER_MIN_N` = 5. In the Python API the answer measures (``nps``, ``csat``,
``ces``, ``mean_score``) and tenure default to no suppression (``min_n=None``);
``hx_index`` and ``reliability`` default to 10 (their estimates need that many
people); the report and batch jobs suppress every group below 5 by default.
"""

from __future__ import annotations

from hxmetrics.privacy import WORKER_MIN_N, check_min_n, suppress

__all__ = ["WORKER_MIN_N", "check_min_n", "suppress"]
