"""Step progress on stderr for long runs, silent unless a person is watching.

Output files and stdout never carry progress: a report must be byte-identical from
run to run, and a pipeline reading stdout must not see chatter. Progress goes to
stderr, and only when stderr is a terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from hxmetrics.errors import ParameterError

__all__ = ["Progress"]


class Progress:
    """Print ``[i/n] step ... done (1.2 s)`` lines on stderr when it is a terminal.

    Parameters
    ----------
    total : int, optional
        Number of steps expected, shown as ``[i/n]``; unknown when omitted.
    stream : text stream, optional
        Where to write; default ``sys.stderr`` at construction time.
    enabled : bool, optional
        Force on or off; default: on exactly when ``stream`` is a terminal.
    prefix : str, default "hxmetrics"
        Written before each line.

    Examples
    --------
    >>> import io
    >>> progress = Progress(total=2, stream=io.StringIO())  # not a terminal: quiet
    >>> with progress.step("Resolving identities"):
    ...     pass
    >>> progress.stream.getvalue()
    ''
    >>> loud = Progress(total=2, stream=io.StringIO(), enabled=True)
    >>> with loud.step("Resolving identities"):
    ...     pass
    >>> loud.stream.getvalue()  # doctest: +ELLIPSIS
    'hxmetrics [1/2] Resolving identities ... done (0.0 s)\\n'
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        prefix: str = "hxmetrics",
    ) -> None:
        if total is not None and (not isinstance(total, int) or total < 1):
            raise ParameterError(f"total must be a positive integer or None; got {total!r}.")
        self.total = total
        self.stream: TextIO = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty()) if callable(isatty) else False
        self.enabled = enabled
        self.prefix = prefix
        self.done = 0

    def _write(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text)
            self.stream.flush()

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Announce a step, run the ``with`` block, then say how long it took.

        A step that raises is reported as ``failed`` and the exception propagates.

        Parameters
        ----------
        label : str
            What the step does, e.g. ``"Resolving identities"``.
        """
        self.done += 1
        count = f"{self.done}/{self.total}" if self.total is not None else str(self.done)
        self._write(f"{self.prefix} [{count}] {label} ... ")
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            self._write("failed\n")
            raise
        self._write(f"done ({time.perf_counter() - started:.1f} s)\n")
