"""How fast each team answers: tickets as censored times, the ITR chain, the closed loop.

* :func:`responsiveness` and :func:`sla_attainment` (``tickets``): time to first
  response or to closing per team, an unanswered ticket right-censored at ``as_of``
  (Kaplan-Meier quantiles with Brookmeyer-Crowley intervals, restricted mean, reopen
  rate, backlog), and SLA attainment as ``1 - S(target)``.
* :func:`itr_stages` (``itr``): the issue-to-resolution chain of the optional
  ``ticket_events`` table: reach, censored time in each stage, rework, stalls, teams.
* :func:`closed_loop` (``closed_loop``): the share of triggering answers followed up
  in time, time to follow-up, and the change in the next score (difference in
  differences or matching; labelled association unless the design supports more).
* :class:`BusinessCalendar` and :func:`clock_seconds` (``_calendar``): business time
  (working hours, time zone, holidays) with pauses that stop the clock.
"""

from hxmetrics.measures.responsiveness._calendar import BusinessCalendar, clock_seconds
from hxmetrics.measures.responsiveness.closed_loop import ClosedLoop, closed_loop
from hxmetrics.measures.responsiveness.itr import ITRStages, itr_stages
from hxmetrics.measures.responsiveness.tickets import responsiveness, sla_attainment

__all__ = [
    "BusinessCalendar",
    "ClosedLoop",
    "ITRStages",
    "clock_seconds",
    "closed_loop",
    "itr_stages",
    "responsiveness",
    "sla_attainment",
]
