"""MBG/NBD: the BG/NBD in which a customer may also drop out right after the first purchase.

Batislam, Denizel & Filiztekin (2007) (and Hoppe & Wagner 2007, "central variant")
let the drop-out coin be flipped at time 0 as well, so a customer without repeat
purchases is not certainly alive. The individual likelihood is
``(1-p)^(x+1) lambda^x e^(-lambda T) + p (1-p)^x lambda^x e^(-lambda t_x)``; mixing gives::

    L = B(a, b+x+1)/B(a, b) * NBD(T) + B(a+1, b+x)/B(a, b) * NBD(t_x),

evaluated in log space exactly like :class:`~hxmetrics.measures.clv.BetaGeo`, with
``d = ln(a) - ln(b+x) + (r+x)[ln(alpha+T) - ln(alpha+t_x)]`` for every customer.
"""

from __future__ import annotations

from typing import ClassVar

from hxmetrics.measures.clv.betageo import BetaGeo

__all__ = ["ModifiedBetaGeo"]


class ModifiedBetaGeo(BetaGeo):
    """MBG/NBD model of repeat purchases (Batislam, Denizel & Filiztekin 2007).

    Same parameters, fitting, state and predictions as
    :class:`~hxmetrics.measures.clv.BetaGeo`; only the drop-out story differs.

    References
    ----------
    Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and
    comparison of models for customer base analysis. *International Journal of Research
    in Marketing* 24(3), 201-209.

    Examples
    --------
    >>> from hxmetrics.measures.clv import ModifiedBetaGeo
    >>> m = ModifiedBetaGeo.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614, unit="W")
    >>> p = m.probability_alive({"frequency": [0], "recency": [0.0], "T": [38.86]})
    >>> bool(p[0] < 1.0)   # unlike BG/NBD, no repeat purchase does not prove "alive"
    True
    """

    _modified: ClassVar[bool] = True
