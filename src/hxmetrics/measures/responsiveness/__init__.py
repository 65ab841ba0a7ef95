"""How fast each team answers: tickets as censored times, the issue-to-resolution chain, the closed loop.

Submodules: ``tickets`` (:func:`responsiveness`), ``itr`` (the ticket status chain),
``closed_loop`` (follow-ups of feedback and their effect), ``_calendar`` (business time).
"""
