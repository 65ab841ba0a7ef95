"""The built-in item banks, shipped as TOML files in ``hxmetrics/instruments/banks``."""

from __future__ import annotations

import functools
from importlib import resources

from hxmetrics.errors import ParameterError, did_you_mean
from hxmetrics.instruments._catalogue import InstrumentCatalogue

__all__ = ["BANKS", "load_bank"]

#: The built-in banks: ``core`` (``nps``, ``hx_core``, ``csat``, ``ces``: the instruments
#: of the simulator and the sample), ``zero_distance`` (six practices, 24 items, each with
#: a worker, customer and partner variant) and ``customer_centricity`` (eight dimensions,
#: 24 items, asked of workers).
BANKS: tuple[str, ...] = ("core", "zero_distance", "customer_centricity")


@functools.cache
def _bank(name: str) -> InstrumentCatalogue:
    path = resources.files("hxmetrics.instruments") / "banks" / f"{name}.toml"
    with resources.as_file(path) as file:
        return InstrumentCatalogue.from_toml(file)


def load_bank(*names: str) -> InstrumentCatalogue:
    """One or several built-in item banks as one catalogue.

    Parameters
    ----------
    *names : str
        Bank names from :data:`BANKS`; several are combined (in the order given).

    Returns
    -------
    InstrumentCatalogue

    Raises
    ------
    ParameterError
        No name, or a name that is not a built-in bank.

    Notes
    -----
    The ``zero_distance`` and ``customer_centricity`` items are written by the hxmetrics
    project (licence CC0-1.0) and are **not yet validated**: their reliability, factor
    structure and invariance are what :func:`~hxmetrics.instruments.score_instrument`
    computes on your own answers.

    Examples
    --------
    >>> cat = load_bank("core", "zero_distance")
    >>> cat.instruments
    ('nps', 'hx_core', 'csat', 'ces', 'zero_distance')
    >>> list(cat.subscales("zero_distance"))[:2]
    ['access_autonomy', 'accountability']
    >>> cat.item("zero_distance", "zd_aa1").wording_for("worker")
    'When I receive customer feedback, I know what to do with it.'
    """
    if not names:
        raise ParameterError(f"load_bank needs at least one bank name from {list(BANKS)}.")
    for name in names:
        if name not in BANKS:
            raise ParameterError(
                f"no built-in bank {name!r}; the banks are {list(BANKS)}."
                + did_you_mean(str(name), BANKS)
            )
    out = _bank(names[0])
    for name in names[1:]:
        out = out + _bank(name)
    return out
