"""A small trust-region optimiser for the CLV likelihoods (2 to 4 parameters).

Why not ``scipy.optimize.minimize(method="L-BFGS-B")``: since SciPy 1.15 its C port
calls LAPACK/BLAS on tiny matrices at every iteration, and with a multi-threaded
OpenBLAS each call can cost a millisecond or more of waking and spinning threads
(scipy/scipy#22438, #23191; OpenMathLib/OpenBLAS#5383). On a busy machine that
overhead was 90% of a CLV fit. NumPy's own ``linalg`` on a 4 x 4 matrix does not
thread, so this module does the linear algebra itself.

The method (Nocedal & Wright 2006, *Numerical Optimization*, 2nd ed., ch. 4 and 6):

1. A forward-difference Hessian of the analytic gradient at the start (``k`` extra
   gradient evaluations), then symmetric-rank-one (SR1) updates from every trial step.
   SR1 with a trust region needs no line search and no positive definiteness, and its
   Hessian approximations are good, so a 4-parameter fit takes ~10-20 iterations.
2. The trust-region subproblem is solved exactly in the eigenbasis of the (tiny)
   Hessian: Newton's method on ``1/|p(lambda)| - 1/radius`` (More & Sorensen 1983).
3. When the Newton decrement ``g' H^-1 g`` of the approximation falls below
   ``switch``, the Hessian is recomputed by finite differences and kept (a chord
   Newton method, still inside the trust region) until the decrement falls below
   ``tol``. That Hessian, computed within ~1e-5 of the optimum, is returned for the
   standard errors.
4. When the decrease left (half the Newton decrement) is below the rounding error of
   the objective, a few full Newton steps are taken while they lower the decrement.
5. Where the likelihood has no finite maximum (e.g. no heterogeneity in the data, so
   a gamma shape and rate both run to infinity) the iterates creep along a ridge; a
   step that lowers ``f`` by less than ``ftol * max(1, |f|)`` ends the fit, as the
   ``factr`` test of L-BFGS-B does.

Simple bounds ``|theta_j| <= bound`` are handled by projection: a coordinate at its
bound whose gradient points outwards is held fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["OptimResult", "trust_region_sr1"]

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass
class OptimResult:
    """Outcome of :func:`trust_region_sr1`."""

    x: np.ndarray
    fun: float
    jac: np.ndarray
    hess: np.ndarray
    nit: int
    nfev: int
    success: bool
    message: str


def _tr_step(w: np.ndarray, c: np.ndarray, radius: float) -> np.ndarray:
    """Minimise ``c.y + y.diag(w).y / 2`` subject to ``|y| <= radius``."""
    w_min = float(w.min())
    if w_min > 0:
        y = -c / w
        if float(np.sqrt(y @ y)) <= radius:
            return y
    lam = max(0.0, -w_min) + 1e-12 * max(1.0, float(np.abs(w).max()))
    y = -c / (w + lam)
    if float(np.sqrt(y @ y)) <= radius:
        # The "hard case": go to the boundary along the lowest eigenvector.
        j = int(np.argmin(w))
        y[j] -= np.copysign(np.sqrt(max(radius**2 - float(y @ y), 0.0)), c[j])
        return y
    # phi(lambda) = 1/|y| - 1/radius is concave and increasing; Newton's method
    # started left of the root climbs to it monotonically.
    for _ in range(60):
        d = w + lam
        ny2 = float(np.sum((c / d) ** 2))
        ny = np.sqrt(ny2)
        phi = 1.0 / ny - 1.0 / radius
        if phi >= -1e-12 / radius:
            break
        lam -= phi / (float(np.sum(c**2 / d**3)) / (ny2 * ny))
    return -c / (w + lam)


def _fd_hessian(fun: Objective, x: np.ndarray, g: np.ndarray, bound: float) -> np.ndarray:
    """Forward differences of the gradient, symmetrised (``k`` evaluations)."""
    k = len(x)
    hess = np.empty((k, k))
    for j in range(k):
        h = 1e-7 * max(1.0, abs(float(x[j])))
        xe = x.copy()
        xe[j] += h if x[j] + h <= bound else -h
        _, ge = fun(xe)
        hess[:, j] = (ge - g) / (xe[j] - x[j])
    return 0.5 * (hess + hess.T)


def trust_region_sr1(
    fun: Objective,
    x0: np.ndarray,
    *,
    bound: float = 30.0,
    max_iter: int = 200,
    switch: float = 1e-10,
    tol: float = 1e-20,
    ftol: float = 1e-14,
    first: tuple[float, np.ndarray] | None = None,
) -> OptimResult:
    """Minimise ``fun`` (returning value and gradient) from ``x0`` within ``|x| <= bound``.

    ``switch`` and ``tol`` are Newton decrements relative to ``max(1, |f|)``: below
    ``switch`` the Hessian is recomputed by finite differences, below ``tol`` the fit
    has converged. ``ftol`` is the relative reduction of ``f`` in one step below which
    the fit stops (a flat ridge). ``first`` is ``fun(x0)`` if the caller has it. The
    returned ``hess`` is always a finite-difference Hessian taken at (or, in the chord
    phase, within a tiny step of) the returned ``x``.
    """
    count = [0]

    def f_and_g(z: np.ndarray) -> tuple[float, np.ndarray]:
        count[0] += 1
        return fun(z)

    k = len(x0)
    x = np.clip(np.asarray(x0, dtype=float), -bound, bound)
    f, g = first if first is not None else f_and_g(x)
    hess = _fd_hessian(f_and_g, x, g, bound)
    chord = False  # True: the Hessian was recomputed near x and is held fixed
    radius = 1.0
    polish = 0
    success, message = False, "maximum number of iterations reached"
    nit = 0
    for nit in range(1, max_iter + 1):  # noqa: B007 (nit is reported)
        scale = max(1.0, abs(f))
        free = ~(((x >= bound) & (g < 0)) | ((x <= -bound) & (g > 0)))
        w, v = np.linalg.eigh(hess[np.ix_(free, free)])
        c = v.T @ g[free]
        dec = float(np.sum(c * c / w)) if w.min() > 0 else np.inf
        if dec < tol * scale and chord:
            success, message = True, "converged: Newton decrement below tolerance"
            break
        if dec < switch * scale and not chord:
            hess = _fd_hessian(f_and_g, x, g, bound)
            chord = True
            continue
        if 0.5 * dec <= 1e-13 * scale:
            # All the decrease left is below the rounding error of f: take full Newton
            # steps while they lower the Newton decrement, then stop.
            p = np.zeros(k)
            p[free] = -(v @ (c / w))
            trial = np.clip(x + p, -bound, bound)
            f_new, g_new = f_and_g(trial)
            c_new = v.T @ g_new[free]
            if np.isfinite(f_new) and float(np.sum(c_new * c_new / w)) < dec and polish < 5:
                x, f, g = trial, f_new, g_new
                polish += 1
                continue
            success, message = True, "converged: at the rounding floor of f"
            break
        p = np.zeros(k)
        p[free] = v @ _tr_step(w, c, radius)
        trial = np.clip(x + p, -bound, bound)
        p = trial - x
        pred = -float(g @ p + 0.5 * p @ hess @ p)
        f_new, g_new = f_and_g(trial)
        finite = bool(np.isfinite(f_new) and np.all(np.isfinite(g_new)))
        step = float(np.sqrt(p @ p))
        rho = (f - f_new) / pred if finite and pred > 0 else -1.0
        if finite and not chord:
            r = (g_new - g) - hess @ p
            den = float(r @ p)
            if abs(den) > 1e-8 * step * float(np.sqrt(r @ r)):
                hess = hess + np.outer(r, r) / den
        if rho < 0.25:
            radius = 0.25 * step
        elif rho > 0.75 and step > 0.8 * radius:
            radius = 2.0 * radius
        if rho > 1e-4:
            reduction = f - f_new
            x, f, g = trial, f_new, g_new
            if reduction <= ftol * scale:
                # Creeping along a ridge (a parameter heading to infinity with the
                # likelihood flat to rounding): stop as L-BFGS-B's ``factr`` test would.
                success, message = True, "converged: relative reduction of f below ftol"
                break
            # A long step in the chord phase: the fixed Hessian was taken too early.
            chord = chord and step < 1e-3
        elif step < 1e-12:
            message = "stalled: the trust region collapsed"
            break
    if not chord:
        hess = _fd_hessian(f_and_g, x, g, bound)
    return OptimResult(
        x=x, fun=f, jac=g, hess=hess, nit=nit, nfev=count[0], success=success, message=message
    )
