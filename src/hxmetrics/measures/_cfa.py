"""Maximum-likelihood engine for single- and multi-group confirmatory factor analysis.

Private: the public faces are :mod:`hxmetrics.measures.invariance` (``CFA``, ``cfa``,
``measurement_invariance``) and :mod:`hxmetrics.measures.reliability` (omega).

Everything here works on *sufficient statistics* only: per group the count ``n_g``, the
mean vector ``m_g`` and the covariance matrix ``S_g`` with divisor ``n_g`` (the normal
likelihood, as lavaan's default ``likelihood = "normal"``). Fitting never touches rows.

Model (per group g; Jöreskog 1971)::

    Sigma_g = Lambda_g Phi_g Lambda_g' + Theta_g        (Theta diagonal)
    mu_g    = nu_g + Lambda_g alpha_g

Discrepancy minimised (the ML fit function, summed over groups with weights n_g / N)::

    F = sum_g (n_g/N) [log|Sigma_g| + tr(S_g Sigma_g^-1) - log|S_g| - p
                       + (m_g - mu_g)' Sigma_g^-1 (m_g - mu_g)]

and the likelihood-ratio statistic is ``N * F`` (lavaan's convention with the normal
likelihood). The gradient is analytic (matrix calculus in :func:`discrepancy`). The
optimiser is Fisher scoring with the expected information (which also gives the
standard errors: "standard" SEs from the expected information, lavaan's default),
solved in block-arrowhead form so that the cost grows linearly with the number of
groups; scipy's L-BFGS-B with the same analytic gradient is the fallback.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hxmetrics.errors import ConvergenceError, InputTableError, ParameterError

__all__ = [
    "EQUALITY_KEYWORDS",
    "LEVELS",
    "FitResult",
    "Moments",
    "Spec",
    "Structure",
    "fit_measures",
    "fit_ml",
    "moments_from_array",
    "params_from_matrices",
    "parse_model",
]

#: Parameter families that can be held equal across groups (lavaan's ``group.equal``).
EQUALITY_KEYWORDS = (
    "loadings",
    "intercepts",
    "residuals",
    "means",
    "lv_variances",
    "lv_covariances",
)

#: The standard invariance ladder (Meredith 1993; Vandenberg & Lance 2000).
LEVELS: dict[str, frozenset[str]] = {
    "configural": frozenset(),
    "metric": frozenset({"loadings"}),
    "scalar": frozenset({"loadings", "intercepts"}),
    "strict": frozenset({"loadings", "intercepts", "residuals"}),
}


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Structure:
    """A measurement model: which item loads on which factor."""

    factors: tuple[str, ...]
    items: tuple[str, ...]
    pattern: np.ndarray  # (p, m) bool
    markers: tuple[int, ...]  # item index whose loading is fixed to 1, per factor
    #: Item indices per factor in the order the model lists them (marker first). Kept
    #: because ``pattern`` alone loses it: with a cross-loaded item listed after a
    #: factor's marker, rebuilding the model in item order would make it the marker.
    listed: tuple[tuple[int, ...], ...] = ()

    @property
    def p(self) -> int:
        return len(self.items)

    @property
    def m(self) -> int:
        return len(self.factors)

    def as_dict(self) -> dict[str, list[str]]:
        """The model as given: ``parse_model(s.as_dict())`` has the same markers."""
        if self.listed:
            return {f: [self.items[i] for i in self.listed[j]] for j, f in enumerate(self.factors)}
        out = {}
        for j, f in enumerate(self.factors):
            rest = [int(i) for i in np.flatnonzero(self.pattern[:, j]) if i != self.markers[j]]
            out[f] = [self.items[i] for i in [self.markers[j], *rest]]
        return out


def parse_model(model: Mapping[str, Sequence[str]]) -> Structure:
    """Validate ``{"factor": ["item", ...], ...}`` and return a :class:`Structure`.

    The first item listed for a factor is its marker (loading fixed to 1), as lavaan.
    An item may be listed under several factors (a cross-loading).
    """
    if not isinstance(model, Mapping) or len(model) == 0:
        raise ParameterError(
            "model must be a non-empty mapping from factor name to a list of items, e.g. "
            f"{{'hx': ['hx1', 'hx2', 'hx3']}}; got {model!r}."
        )
    factors: list[str] = []
    items: list[str] = []
    for factor, its in model.items():
        if not isinstance(factor, str) or not factor:
            raise ParameterError(f"model: factor names must be non-empty strings; got {factor!r}.")
        if isinstance(its, str) or not isinstance(its, Iterable):
            raise ParameterError(
                f"model[{factor!r}] must be a list of item column names; got {its!r}. "
                f"Hint: write {{{factor!r}: [{its!r}, ...]}}."
            )
        its = list(its)
        if len(its) == 0:
            raise ParameterError(f"model[{factor!r}] lists no items.")
        if len(set(its)) != len(its):
            raise ParameterError(f"model[{factor!r}] lists an item twice: {its}.")
        factors.append(factor)
        for it in its:
            if not isinstance(it, str):
                raise ParameterError(f"model[{factor!r}]: item names must be strings; got {it!r}.")
            if it not in items:
                items.append(it)
    clash = sorted(set(factors) & set(items))
    if clash:
        raise ParameterError(f"model: names used both as a factor and as an item: {clash}.")
    pattern = np.zeros((len(items), len(factors)), dtype=bool)
    markers = []
    listed = []
    for j, (_, its) in enumerate(model.items()):
        idx = [items.index(it) for it in its]
        pattern[idx, j] = True
        markers.append(idx[0])
        listed.append(tuple(idx))
    return Structure(tuple(factors), tuple(items), pattern, tuple(markers), tuple(listed))


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics per group: counts, means, covariances (divisor n)."""

    groups: tuple[Any, ...]
    n: np.ndarray  # (G,)
    mean: np.ndarray  # (G, p)
    cov: np.ndarray  # (G, p, p)

    @property
    def G(self) -> int:
        return len(self.groups)

    @property
    def N(self) -> int:
        return int(self.n.sum())


def moments_from_array(x: np.ndarray, codes: np.ndarray, groups: Sequence[Any]) -> Moments:
    """Counts, means and covariances (divisor n) per group code, without a Python row loop.

    ``codes`` holds 0..G-1 per row. Rows are centred on their group mean before the
    cross-products are taken (numerically safer than raw sums of squares).
    """
    G = len(groups)
    p = x.shape[1]
    n = np.bincount(codes, minlength=G).astype(float)
    sums = np.zeros((G, p))
    np.add.at(sums, codes, x)
    mean = sums / n[:, None]
    xc = x - mean[codes]
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(n.astype(int))])
    xs = xc[order]
    cov = np.empty((G, p, p))
    for g in range(G):  # one BLAS call per group, not per row
        block = xs[bounds[g] : bounds[g + 1]]
        cov[g] = block.T @ block / n[g]
    return Moments(tuple(groups), n, mean, cov)


# --------------------------------------------------------------------------- parameters


@dataclass
class Spec:
    """Where each free parameter sits in each group's matrices.

    Index arrays hold the position in the parameter vector, or -1 for a fixed entry
    whose value is in the matching ``*_val`` array. Equality across groups is the same
    index in several groups.
    """

    structure: Structure
    G: int
    equal: frozenset[str]
    meanstructure: bool
    L_idx: np.ndarray = field(init=False)
    L_val: np.ndarray = field(init=False)
    P_idx: np.ndarray = field(init=False)
    P_val: np.ndarray = field(init=False)
    T_idx: np.ndarray = field(init=False)
    T_val: np.ndarray = field(init=False)
    N_idx: np.ndarray = field(init=False)
    N_val: np.ndarray = field(init=False)
    A_idx: np.ndarray = field(init=False)
    A_val: np.ndarray = field(init=False)
    labels: list[tuple[str, str, str, str]] = field(init=False)  # (kind, lhs, op, rhs)
    kinds: np.ndarray = field(init=False)  # per parameter: its family

    def __post_init__(self) -> None:
        bad = sorted(set(self.equal) - set(EQUALITY_KEYWORDS))
        if bad:
            raise ParameterError(
                f"unknown equality constraint(s) {bad}; allowed: {list(EQUALITY_KEYWORDS)}."
            )
        s, G = self.structure, self.G
        p, m = s.p, s.m
        self.L_idx = np.full((G, p, m), -1)
        self.L_val = np.zeros((G, p, m))
        self.P_idx = np.full((G, m, m), -1)
        self.P_val = np.zeros((G, m, m))
        self.T_idx = np.full((G, p), -1)
        self.T_val = np.zeros((G, p))
        self.N_idx = np.full((G, p), -1)
        self.N_val = np.zeros((G, p))
        self.A_idx = np.full((G, m), -1)
        self.A_val = np.zeros((G, m))
        self.labels = []
        kinds: list[str] = []

        def new(kind: str, lhs: str, op: str, rhs: str) -> int:
            self.labels.append((kind, lhs, op, rhs))
            kinds.append(kind)
            return len(self.labels) - 1

        def assign(
            idx: np.ndarray, pos: tuple[int, ...], kind: str, lab: tuple[str, str, str]
        ) -> None:
            # one index shared by all groups when the family is held equal
            if kind in self.equal:
                k = new(kind, *lab)
                for g in range(G):
                    idx[(g, *pos)] = k
            else:
                for g in range(G):
                    idx[(g, *pos)] = new(kind, *lab)

        for j, f in enumerate(s.factors):
            for i in map(int, np.flatnonzero(s.pattern[:, j])):
                if i == s.markers[j]:
                    self.L_val[:, i, j] = 1.0
                else:
                    assign(self.L_idx, (i, j), "loadings", (f, "=~", s.items[i]))
        for j in range(m):
            assign(self.P_idx, (j, j), "lv_variances", (s.factors[j], "~~", s.factors[j]))
        for j in range(m):
            for k in range(j + 1, m):
                lab = (s.factors[j], "~~", s.factors[k])
                assign(self.P_idx, (j, k), "lv_covariances", lab)
                self.P_idx[:, k, j] = self.P_idx[:, j, k]
        for i in range(p):
            assign(self.T_idx, (i,), "residuals", (s.items[i], "~~", s.items[i]))
        if self.meanstructure:
            for i in range(p):
                assign(self.N_idx, (i,), "intercepts", (s.items[i], "~1", ""))
            # Latent means: fixed to 0 unless intercepts are equal (then free in every
            # group but the first, lavaan's default), and 0 everywhere when "means" is
            # held equal too.
            if "intercepts" in self.equal and "means" not in self.equal:
                for j in range(m):
                    for g in range(1, G):
                        self.A_idx[g, j] = new("means", s.factors[j], "~1", "")
        self.kinds = np.array(kinds, dtype=object)
        self._slots()

    @property
    def q(self) -> int:
        return len(self.labels)

    def param_groups(self) -> list[list[int]]:
        """For each parameter, the groups it appears in."""
        out: list[set[int]] = [set() for _ in range(self.q)]
        for arr in (self.L_idx, self.P_idx, self.T_idx, self.N_idx, self.A_idx):
            for g in range(self.G):
                for k in np.unique(arr[g]):
                    if k >= 0:
                        out[k].add(g)
        return [sorted(x) for x in out]

    def fill(self, theta: np.ndarray) -> tuple[np.ndarray, ...]:
        """Group matrices (stacked over groups) from the parameter vector."""
        t = np.append(theta, 0.0)  # index -1 reads the appended 0, masked below

        def put(idx: np.ndarray, val: np.ndarray) -> np.ndarray:
            return np.where(idx >= 0, t[idx], val)

        return (
            put(self.L_idx, self.L_val),
            put(self.P_idx, self.P_val),
            put(self.T_idx, self.T_val),
            put(self.N_idx, self.N_val),
            put(self.A_idx, self.A_val),
        )

    # Slots: every matrix entry that may hold a free parameter, in a fixed order per
    # group; used for the Jacobian (information matrix).
    def _slots(self) -> None:
        s = self.structure
        p, m = s.p, s.m
        slots: list[tuple[str, int, int]] = []
        for j in range(m):
            for i in map(int, np.flatnonzero(s.pattern[:, j])):
                slots.append(("L", i, j))
        for j in range(m):
            for k in range(j, m):
                slots.append(("P", j, k))
        for i in range(p):
            slots.append(("T", i, i))
        if self.meanstructure:
            for i in range(p):
                slots.append(("N", i, 0))
            for j in range(m):
                slots.append(("A", j, 0))
        self.slot_kind = [x[0] for x in slots]
        self.slot_pos = [(x[1], x[2]) for x in slots]
        idx = np.full((self.G, len(slots)), -1)
        for si, (kind, a, b) in enumerate(slots):
            if kind == "L":
                idx[:, si] = self.L_idx[:, a, b]
            elif kind == "P":
                idx[:, si] = self.P_idx[:, a, b]
            elif kind == "T":
                idx[:, si] = self.T_idx[:, a]
            elif kind == "N":
                idx[:, si] = self.N_idx[:, a]
            else:
                idx[:, si] = self.A_idx[:, a]
        self.slot_param = idx

    def moments_count(self) -> int:
        p = self.structure.p
        return self.G * (p * (p + 1) // 2 + (p if self.meanstructure else 0))

    def df(self) -> int:
        return self.moments_count() - self.q


# --------------------------------------------------------------------------- objective


def _implied(spec: Spec, theta: np.ndarray) -> tuple[np.ndarray, ...]:
    L, P, T, Nu, Al = spec.fill(theta)
    sigma = L @ P @ np.swapaxes(L, 1, 2)
    idx = np.arange(spec.structure.p)
    sigma[:, idx, idx] += T
    mu = Nu + np.einsum("gpm,gm->gp", L, Al)
    return L, P, T, Nu, Al, sigma, mu


def _group_discrepancy(spec: Spec, mom: Moments, theta: np.ndarray) -> np.ndarray | None:
    """Per-group ML discrepancy F_g, or None when a Sigma_g is not positive definite."""
    *_, sigma, mu = _implied(spec, theta)
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return None
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    inv = np.linalg.inv(sigma)
    d = (mom.mean - mu) if spec.meanstructure else np.zeros_like(mu)
    c = mom.cov + d[:, :, None] * d[:, None, :]
    tr = np.einsum("gij,gji->g", c, inv)
    _, logdet_s = np.linalg.slogdet(mom.cov)
    return logdet + tr - logdet_s - spec.structure.p


def discrepancy(theta: np.ndarray, spec: Spec, mom: Moments) -> tuple[float, np.ndarray]:
    """The ML discrepancy F and its analytic gradient.

    With ``C = S + d d'``, ``d = m - mu`` and ``G = Sigma^-1 - Sigma^-1 C Sigma^-1``::

        dF/dLambda = 2 G Lambda Phi + h alpha'      h = -2 Sigma^-1 d
        dF/dPhi    = Lambda' G Lambda               (both triangles: symmetric entries)
        dF/dTheta  = diag(G)
        dF/dnu     = h
        dF/dalpha  = Lambda' h
    """
    L, P, _T, _Nu, Al, sigma, mu = _implied(spec, theta)
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return math.inf, np.zeros_like(theta)
    w = mom.n / mom.n.sum()
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    inv = np.linalg.inv(sigma)
    d = (mom.mean - mu) if spec.meanstructure else np.zeros_like(mu)
    c = mom.cov + d[:, :, None] * d[:, None, :]
    ic = inv @ c
    tr = np.einsum("gii->g", ic)
    _, logdet_s = np.linalg.slogdet(mom.cov)
    f_g = logdet + tr - logdet_s - spec.structure.p
    F = float(w @ f_g)

    gmat = (inv - ic @ inv) * w[:, None, None]
    h = -2.0 * np.einsum("gij,gj->gi", inv, d) * w[:, None]
    dL = 2.0 * gmat @ L @ P + h[:, :, None] * Al[:, None, :]
    dP = np.swapaxes(L, 1, 2) @ gmat @ L
    dT = np.diagonal(gmat, axis1=1, axis2=2)
    dA = np.einsum("gpm,gp->gm", L, h)
    grad = np.zeros_like(theta)
    for idx, der in ((spec.L_idx, dL), (spec.P_idx, dP), (spec.T_idx, dT)):
        mask = idx >= 0
        np.add.at(grad, idx[mask], der[mask])
    if spec.meanstructure:
        for idx, der in ((spec.N_idx, h), (spec.A_idx, dA)):
            mask = idx >= 0
            np.add.at(grad, idx[mask], der[mask])
    return F, grad


def penalised(theta: np.ndarray, spec: Spec, mom: Moments) -> tuple[float, np.ndarray]:
    """:func:`discrepancy` with a large finite value where Sigma is not positive
    definite: L-BFGS-B's line search stops at an infinite value instead of backing off."""
    F, grad = discrepancy(theta, spec, mom)
    return (F, grad) if math.isfinite(F) else (1e10, np.zeros_like(theta))


def unit_information(spec: Spec, theta: np.ndarray) -> np.ndarray:
    """Per-group expected information for one observation, over the group's slots.

    ``I_kl = 0.5 tr(Sigma^-1 dSigma_k Sigma^-1 dSigma_l) + dmu_k' Sigma^-1 dmu_l``.
    Returns an array (G, s, s).
    """
    L, P, _T, _Nu, Al, sigma, _mu = _implied(spec, theta)
    G, p = spec.G, spec.structure.p
    ns = len(spec.slot_kind)
    dS = np.zeros((G, ns, p, p))
    dM = np.zeros((G, ns, p))
    LP = L @ P
    for k, (kind, (a, b)) in enumerate(zip(spec.slot_kind, spec.slot_pos, strict=True)):
        if kind == "L":  # dSigma = e_a c' + c e_a', c = (Lambda Phi)[:, b]
            c = LP[:, :, b]
            dS[:, k, a, :] += c
            dS[:, k, :, a] += c
            dM[:, k, a] = Al[:, b]
        elif kind == "P":
            la, lb = L[:, :, a], L[:, :, b]
            outer = la[:, :, None] * lb[:, None, :]
            dS[:, k] = outer if a == b else outer + np.swapaxes(outer, 1, 2)
        elif kind == "T":
            dS[:, k, a, a] = 1.0
        elif kind == "N":
            dM[:, k, a] = 1.0
        else:  # "A"
            dM[:, k] = L[:, :, a]
    inv = np.linalg.inv(sigma)
    mk = np.einsum("gij,gkjl->gkil", inv, dS)
    info = 0.5 * np.einsum("gkab,glba->gkl", mk, mk)
    if spec.meanstructure:
        info += np.einsum("gka,gab,glb->gkl", dM, inv, dM)
    return info


def information(spec: Spec, mom: Moments, theta: np.ndarray) -> np.ndarray:
    """Expected (Fisher) information of the whole sample, over the free parameters."""
    unit = unit_information(spec, theta)
    out = np.zeros((spec.q, spec.q))
    for g in range(spec.G):
        idx = spec.slot_param[g]
        keep = np.flatnonzero(idx >= 0)
        rows = idx[keep]
        np.add.at(out, (rows[:, None], rows[None, :]), mom.n[g] * unit[g][np.ix_(keep, keep)])
    return out


class _InfoBlocks:
    """The expected information in block-arrowhead form, solved by block elimination.

    Parameters split into those of one group only (local) and those shared by several
    groups (held equal). Local parameters of different groups do not interact, so::

        I = [[A_1        B_1],
             [     ...   ... ],
             [       A_G B_G],
             [B_1' . B_G' C  ]]

    Solving costs G small solves plus one of the size of the shared set, instead of a
    dense solve of the full parameter count (and never hands a large matrix to a
    multi-threaded BLAS).
    """

    def __init__(self, spec: Spec, mom: Moments, theta: np.ndarray) -> None:
        unit = unit_information(spec, theta)
        groups_of = spec.param_groups()
        shared = np.array([k for k in range(spec.q) if len(groups_of[k]) > 1], dtype=int)
        spos = np.full(spec.q, -1)
        spos[shared] = np.arange(len(shared))
        self.q, self.shared = spec.q, shared
        self.local: list[np.ndarray] = []
        self.a_inv: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        c = np.zeros((len(shared), len(shared)))
        for g in range(spec.G):
            idx = spec.slot_param[g]
            valid = idx >= 0
            ls = np.flatnonzero(valid & (spos[np.maximum(idx, 0)] < 0))
            ss = np.flatnonzero(valid & (spos[np.maximum(idx, 0)] >= 0))
            sp = spos[idx[ss]]
            info = mom.n[g] * unit[g]
            a = info[np.ix_(ls, ls)]
            b = np.zeros((len(ls), len(shared)))
            b[:, sp] = info[np.ix_(ls, ss)]
            c[np.ix_(sp, sp)] += info[np.ix_(ss, ss)]
            self.local.append(idx[ls])
            self.a_inv.append(np.linalg.inv(a) if len(ls) else a)
            self.b.append(b)
        # Schur complement of the local blocks
        self.schur = c - sum(
            (b.T @ ai @ b for b, ai in zip(self.b, self.a_inv, strict=True)),
            start=np.zeros_like(c),
        )

    def solve(self, r: np.ndarray) -> np.ndarray:
        x = np.empty(self.q)
        rs = r[self.shared] - sum(
            (
                b.T @ (ai @ r[loc])
                for b, ai, loc in zip(self.b, self.a_inv, self.local, strict=True)
            ),
            start=np.zeros(len(self.shared)),
        )
        xs = np.linalg.solve(self.schur, rs) if len(self.shared) else rs
        x[self.shared] = xs
        for b, ai, loc in zip(self.b, self.a_inv, self.local, strict=True):
            x[loc] = ai @ (r[loc] - b @ xs)
        return x

    def inverse(self) -> np.ndarray:
        """The full inverse (the sampling covariance of the estimates)."""
        v = np.zeros((self.q, self.q))
        vss = np.linalg.inv(self.schur) if len(self.shared) else self.schur
        v[np.ix_(self.shared, self.shared)] = vss
        w = [ai @ b for b, ai in zip(self.b, self.a_inv, strict=True)]  # A_g^-1 B_g
        for g, loc in enumerate(self.local):
            wv = w[g] @ vss
            v[np.ix_(loc, self.shared)] = -wv
            v[np.ix_(self.shared, loc)] = -wv.T
            for h, loc_h in enumerate(self.local):
                block = wv @ w[h].T
                if g == h:
                    block = block + self.a_inv[g]
                v[np.ix_(loc, loc_h)] = block
        return v


# --------------------------------------------------------------------------- starts


def start_values(spec: Spec, mom: Moments) -> np.ndarray:
    """Data-based starting values (per group, then averaged over shared parameters).

    Marker-scaled loadings from covariance triads (lambda_a = s_ar / phi with
    phi ~ s_ra s_rb / s_ab), factor covariances 0, residual variances from what the
    factor leaves over, intercepts at the observed means, latent means 0.
    """
    s = spec.structure
    G, p, m = spec.G, s.p, s.m
    L0 = np.zeros((G, p, m))
    P0 = np.zeros((G, m, m))
    T0 = np.zeros((G, p))
    for g in range(G):
        S = mom.cov[g]
        for j in range(m):
            r = s.markers[j]
            others = [i for i in np.flatnonzero(s.pattern[:, j]) if i != r]
            phis = [
                S[r, a] * S[r, b] / S[a, b]
                for ai, a in enumerate(others)
                for b in others[ai + 1 :]
                if S[a, b] * S[r, a] * S[r, b] > 0
            ]
            phi = float(np.mean(phis)) if phis else 0.5 * S[r, r]
            phi = min(max(phi, 0.05 * S[r, r]), 0.95 * S[r, r])
            P0[g, j, j] = phi
            L0[g, r, j] = 1.0
            for a in others:
                L0[g, a, j] = S[r, a] / phi
        common = np.einsum("pm,m,pm->p", L0[g], np.diagonal(P0[g]), L0[g])
        var = np.diagonal(S)
        T0[g] = np.clip(var - common, 0.1 * var, 0.9 * var)
    return params_from_matrices(spec, (L0, P0, T0, mom.mean.copy(), np.zeros((G, m))), mom.n)


def params_from_matrices(
    spec: Spec, matrices: tuple[np.ndarray, ...], weights: np.ndarray
) -> np.ndarray:
    """A parameter vector for ``spec`` from per-group matrices (L, P, T, nu, alpha):
    shared parameters take the weighted average of their groups' values. Used for
    starting values, also from the previous level of an invariance ladder."""
    G = spec.G
    idxs = (spec.L_idx, spec.P_idx, spec.T_idx, spec.N_idx, spec.A_idx)
    total = np.zeros(spec.q)
    weight = np.zeros(spec.q)
    for idx, val in zip(idxs, matrices, strict=True):
        wg = np.broadcast_to(
            np.asarray(weights, float).reshape((G,) + (1,) * (idx.ndim - 1)), idx.shape
        )
        mask = idx >= 0
        np.add.at(total, idx[mask], (val * wg)[mask])
        np.add.at(weight, idx[mask], wg[mask])
    return total / np.where(weight > 0, weight, 1.0)


def _bounds(spec: Spec, mom: Moments) -> list[tuple[float | None, float | None]]:
    """Variances stay positive (a tiny floor) so Sigma stays positive definite."""
    lo: list[float | None] = [None] * spec.q
    scale = float(np.mean(np.diagonal(mom.cov, axis1=1, axis2=2)))
    for g in range(spec.G):
        for i in range(spec.structure.p):
            k = spec.T_idx[g, i]
            if k >= 0:
                lo[k] = 1e-8 * scale
        for j in range(spec.structure.m):
            k = spec.P_idx[g, j, j]
            if k >= 0:
                lo[k] = 1e-8 * scale
    return [(b, None) for b in lo]


# --------------------------------------------------------------------------- fitting


@dataclass
class FitResult:
    theta: np.ndarray
    F: float
    f_groups: np.ndarray
    converged: bool
    iterations: int
    message: str
    at_bound: list[int]


def _scoring(
    spec: Spec, mom: Moments, theta: np.ndarray, max_iter: int
) -> tuple[np.ndarray, float, np.ndarray, int, bool]:
    """Fisher scoring with step halving: theta <- theta - t (N/2) I^-1 dF/dtheta.

    ``I`` is the expected information of the whole sample and ``dF`` the analytic
    gradient; ``-(N/2) dF`` is the score of the log-likelihood, so the full step is
    the Gauss-Newton step of the ML problem (Lee & Jennrich 1979).
    """
    F, grad = discrepancy(theta, spec, mom)
    if not math.isfinite(F):
        return theta, F, grad, 0, False
    half_n = mom.N / 2.0
    for it in range(1, max_iter + 1):
        try:
            step = -half_n * _InfoBlocks(spec, mom, theta).solve(grad)
        except np.linalg.LinAlgError:
            return theta, F, grad, it, False
        if not np.all(np.isfinite(step)):
            return theta, F, grad, it, False
        t = 1.0
        while True:
            cand = theta + t * step
            f_c, g_c = discrepancy(cand, spec, mom)
            if f_c <= F + 1e-13 * max(1.0, abs(F)):
                theta, F, grad = cand, f_c, g_c
                break
            t /= 2.0
            if t < 1e-8:
                return theta, F, grad, it, bool(np.max(np.abs(grad), initial=0.0) < 1e-6)
        if np.max(np.abs(grad), initial=0.0) < 1e-10:
            return theta, F, grad, it, True
    return theta, F, grad, max_iter, bool(np.max(np.abs(grad), initial=0.0) < 1e-6)


def fit_ml(
    spec: Spec,
    mom: Moments,
    *,
    start: np.ndarray | None = None,
    max_iter: int = 300,
) -> FitResult:
    """Minimise the ML discrepancy with the analytic gradient.

    Fisher scoring from data-based starting values first; when it does not converge
    (an information matrix that is not positive definite, a step that never lowers F)
    scipy's L-BFGS-B takes over, with positive floors on the variances, and scoring
    polishes its end point. Scoring converges in a few dozen steps and, unlike
    L-BFGS-B, to machine precision, so chi-square is exact to the printed digits.
    """
    if spec.df() < 0:
        raise ParameterError(
            f"the model is not identified: {spec.q} free parameters but only "
            f"{spec.moments_count()} sample moments (df = {spec.df()}). A one-factor model "
            "needs at least 3 items; a factor with 2 items needs to correlate with another."
        )
    if np.any(mom.n <= spec.structure.p):
        small = [str(g) for g, n in zip(mom.groups, mom.n, strict=True) if n <= spec.structure.p]
        raise ParameterError(
            f"groups {small} have no more respondents than items ({spec.structure.p}); their "
            "covariance matrix is singular. Merge or drop these groups."
        )
    eig = np.linalg.eigvalsh(mom.cov)
    singular = eig[:, 0] <= 1e-12 * np.maximum(eig[:, -1], 1e-300)
    if np.any(singular):
        bad = [str(g) for g, b in zip(mom.groups, singular, strict=True) if b]
        raise ParameterError(
            f"the item covariance matrix of group(s) {bad} is singular (an item is constant "
            "or a linear combination of others). Drop the offending item."
        )
    theta0 = start_values(spec, mom) if start is None else np.asarray(start, float).copy()
    if start is not None and not math.isfinite(discrepancy(theta0, spec, mom)[0]):
        theta0 = start_values(spec, mom)
    theta, F, grad, iters, ok = _scoring(spec, mom, theta0, max_iter)
    method = "Fisher scoring"
    if not ok:
        from scipy import optimize

        origin = theta if math.isfinite(F) else theta0
        res = optimize.minimize(
            penalised,
            origin,
            args=(spec, mom),
            jac=True,
            method="L-BFGS-B",
            bounds=_bounds(spec, mom),
            options={"maxiter": 20 * max_iter, "maxcor": 30, "ftol": 1e-15, "gtol": 1e-10},
        )
        theta, F, grad = res.x, *discrepancy(res.x, spec, mom)
        iters += int(res.nit)
        method = f"L-BFGS-B ({res.message}) after Fisher scoring failed"
        if math.isfinite(F):
            t2, f2, g2, it2, ok = _scoring(spec, mom, theta, 50)
            iters += it2
            if math.isfinite(f2) and f2 <= F:
                theta, F, grad = t2, f2, g2
                method += ", polished by Fisher scoring"
    if not math.isfinite(F):
        raise ConvergenceError(
            "the ML fit ended at a non-positive-definite implied covariance matrix; tried "
            "Fisher scoring and L-BFGS-B from data-based starting values. Check the model "
            "(every factor needs items that covary) and the items."
        )
    gnorm = float(np.max(np.abs(grad), initial=0.0))
    variances = np.unique(
        np.concatenate([spec.T_idx.ravel(), np.diagonal(spec.P_idx, axis1=1, axis2=2).ravel()])
    )
    variances = variances[variances >= 0]
    floor = _bounds(spec, mom)
    heywood = [int(k) for k in variances if theta[k] <= 1.0001 * (floor[k][0] or 0.0)]
    f_groups = _group_discrepancy(spec, mom, theta)
    if f_groups is None:  # cannot happen when F is finite; kept as a guard
        raise ConvergenceError("the fitted implied covariance matrix is not positive definite.")
    return FitResult(
        theta=theta,
        F=F,
        f_groups=f_groups,
        converged=bool(gnorm < 1e-6),
        iterations=iters,
        message=f"{method}; {iters} iterations; max |gradient| = {gnorm:.2e}",
        at_bound=heywood,
    )


def standard_errors(spec: Spec, mom: Moments, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standard errors from the inverse expected information, and that covariance."""
    try:
        vcov = _InfoBlocks(spec, mom, theta).inverse()
    except np.linalg.LinAlgError:
        vcov = np.linalg.pinv(information(spec, mom, theta))
    return np.sqrt(np.clip(np.diagonal(vcov), 0.0, None)), vcov


# --------------------------------------------------------------------------- fit indices


def _rmsea(chisq: float, df: int, N: int, G: int, confidence: float = 0.90) -> tuple[float, ...]:
    """RMSEA and its interval; lavaan multiplies by sqrt(G) for multiple groups
    (Steiger 1998), with N (the normal likelihood) in the denominator."""
    from scipy import optimize, stats

    if df <= 0:
        return 0.0, 0.0, 0.0
    est = math.sqrt(max(chisq / N / df - 1.0 / N, 0.0)) * math.sqrt(G)

    def ncp(prob: float) -> float:
        # the noncentrality lambda with P(chi2(df, lambda) <= chisq) = prob
        if stats.chi2.cdf(chisq, df) < prob:
            return 0.0
        hi = max(chisq, 1.0)
        while stats.ncx2.cdf(chisq, df, hi) > prob:
            hi *= 2.0
        return float(optimize.brentq(lambda lam: stats.ncx2.cdf(chisq, df, lam) - prob, 1e-10, hi))

    a = (1.0 - confidence) / 2.0
    lo = math.sqrt(ncp(1.0 - a) / (N * df)) * math.sqrt(G)
    hi = math.sqrt(ncp(a) / (N * df)) * math.sqrt(G)
    return est, lo, hi


def _srmr(spec: Spec, mom: Moments, theta: np.ndarray) -> float:
    """Bentler's SRMR: residuals standardised by the observed SDs, averaged over the
    p(p+1)/2 covariance entries (+ p means with a mean structure), square-rooted per
    group and weighted by n_g / N (lavaan's ``srmr``)."""
    *_, sigma, mu = _implied(spec, theta)
    p = spec.structure.p
    sd = np.sqrt(np.diagonal(mom.cov, axis1=1, axis2=2))
    r = (mom.cov - sigma) / (sd[:, :, None] * sd[:, None, :])
    iu = np.triu_indices(p)
    ss = (r[:, iu[0], iu[1]] ** 2).sum(axis=1)
    e = p * (p + 1) / 2
    if spec.meanstructure:
        ss = ss + (((mom.mean - mu) / sd) ** 2).sum(axis=1)
        e += p
    per_group = np.sqrt(ss / e)
    return float(per_group @ (mom.n / mom.n.sum()))


def fit_measures(spec: Spec, mom: Moments, fit: FitResult) -> dict[str, float]:
    """chi-square, df, p, CFI, TLI, RMSEA (+90% CI), SRMR, log-likelihood, AIC, BIC."""
    from scipy import stats  # imported when used: scipy.stats costs ~0.5 s to import

    N, G, p = mom.N, mom.G, spec.structure.p
    chisq = max(float(N * fit.F), 0.0)  # an exact fit can round to -1e-13
    df = spec.df()
    pvalue = float(stats.chi2.sf(chisq, df)) if df > 0 else math.nan
    # Baseline: independence with group-specific variances (and means), lavaan's default.
    var = np.diagonal(mom.cov, axis1=1, axis2=2)
    _, logdet_s = np.linalg.slogdet(mom.cov)
    chisq_b = float((mom.n * (np.log(var).sum(axis=1) - logdet_s)).sum())
    df_b = G * p * (p - 1) // 2
    d_m = max(chisq - df, 0.0)
    d_b = max(chisq_b - df_b, 0.0)
    cfi = 1.0 - d_m / max(d_b, d_m) if max(d_b, d_m) > 0 else 1.0
    tli = (
        (chisq_b / df_b - chisq / df) / (chisq_b / df_b - 1.0)
        if df > 0 and df_b > 0 and chisq_b / df_b != 1.0
        else math.nan
    )
    rmsea, rmsea_lo, rmsea_hi = _rmsea(chisq, df, N, G)
    const = p * math.log(2.0 * math.pi)
    loglik_h1 = float(-0.5 * (mom.n * (const + logdet_s + p)).sum())
    loglik = loglik_h1 - 0.5 * chisq
    q = spec.q
    return {
        "chisq": chisq,
        "df": float(df),
        "pvalue": pvalue,
        "cfi": cfi,
        "tli": tli,
        "rmsea": rmsea,
        "rmsea_ci_low": rmsea_lo,
        "rmsea_ci_high": rmsea_hi,
        "srmr": _srmr(spec, mom, fit.theta),
        "loglik": loglik,
        "loglik_h1": loglik_h1,
        "npar": float(q),
        "aic": -2.0 * loglik + 2.0 * q,
        "bic": -2.0 * loglik + q * math.log(N),
        "baseline_chisq": chisq_b,
        "baseline_df": float(df_b),
        "n": float(N),
        "n_groups": float(G),
    }


# --------------------------------------------------------------------------- input tables


def to_pandas(data: Any, *, what: str = "data") -> Any:
    """Any frame narwhals accepts as pandas: :func:`hxmetrics.tables.as_pandas`."""
    from hxmetrics.tables import as_pandas

    return as_pandas(data, table=what)


def item_matrix(frame: Any, items: Sequence[str], *, table: str = "data") -> np.ndarray:
    """The item columns as a float matrix; non-numeric answers raise, NaN stays NaN.

    Errors show row positions (0 = the first row), never the frame's index labels (an
    index of response ids or emails is personal data), and mask values that look like
    an email or a phone number.
    """
    import pandas as pd

    from hxmetrics.errors import check_columns
    from hxmetrics.privacy import looks_personal

    check_columns(frame.columns, items, table=table)
    out = np.empty((len(frame), len(items)))
    for j, it in enumerate(items):
        col = frame[it]
        num = pd.to_numeric(col, errors="coerce")
        bad = num.isna() & col.notna()
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy())[:3].tolist()
            values = col[bad].head(3).astype(str)
            masked = looks_personal(values.astype(object)).to_numpy()
            shown = [
                "<masked: looks like an email or phone>" if m else v
                for v, m in zip(values.tolist(), masked, strict=True)
            ]
            raise ParameterError(
                f"{table}: item {it!r} must be numeric; non-numeric values such as "
                f"{shown} at rows {rows}. Recode the answers to numbers."
            )
        out[:, j] = num.to_numpy(dtype=float, na_value=np.nan)
    if not np.all(np.isfinite(out) | np.isnan(out)):
        raise ParameterError(f"{table}: items contain infinite values.")
    # Covariances add n squared deviations (each at most (2 max|x|)²): answers of 1e200
    # are finite but their covariance is not (NaN estimates with a RuntimeWarning).
    limit = math.sqrt(float(np.finfo(np.float64).max) / (4.0 * max(len(out), 1)))
    with np.errstate(invalid="ignore"):
        big = np.abs(out) >= limit
    if big.any():
        at_row, at_col = np.nonzero(big)
        labels = [int(r) for r in at_row[:5]]
        examples = "; ".join(
            f"row {label}, {items[c]!r}: {out[r, c]:g}"
            for label, r, c in zip(labels, at_row[:5], at_col[:5], strict=True)
        )
        raise InputTableError(
            f"{table}: items failed check finite_covariance: expected answers smaller than "
            f"{limit:.3g} in size (their covariances must be finite numbers); "
            f"{int(big.sum())} answer(s) are not, e.g. {examples}. Recode the answers to "
            "the instrument's scale.",
            table=table,
            failure_cases=pd.DataFrame(
                {
                    "column": [items[c] for c in at_col[:5]],
                    "check": "finite_covariance",
                    "failure_case": [
                        float(out[r, c]) for r, c in zip(at_row[:5], at_col[:5], strict=True)
                    ],
                    "index": labels,
                }
            ),
        )
    return out


#: The long form of answers, as :func:`hxmetrics.measures.index.hx_index` reads it: one
#: row per response and item, the item's name in ``item`` and the answer in ``score``;
#: the response (person) is named by the ``response`` argument (``"response_id"``).
LONG_ITEM = "item"
LONG_SCORE = "score"


def is_long(frame: Any, items: Sequence[str] | None) -> bool:
    """Long answers: ``item`` and ``score`` columns, and the items are not columns."""
    columns = {str(c) for c in frame.columns}
    if LONG_ITEM not in columns or LONG_SCORE not in columns:
        return False
    return items is None or not all(str(i) in columns for i in items)


def wide_from_long(
    frame: Any,
    *,
    response: str,
    by: Sequence[str] = (),
    items: Sequence[str] | None = None,
    table: str = "responses",
) -> Any:
    """Long answers (one row per response and item) as a wide frame (one row per response).

    The wide frame has the ``by`` columns and one float column per item, one row per
    response in the order of its first row; an item a response did not answer (no row,
    or a missing score) is NaN. Rows of items not in ``items`` are left out; with
    ``items=None`` every item is kept, in sorted order (whatever the row order). A response
    answering an item twice, a group column that changes within a response and a
    non-numeric score raise :class:`~hxmetrics.errors.InputTableError` with example
    row positions (never a response's id).
    """
    import pandas as pd

    from hxmetrics.errors import check_columns

    by = list(by)
    check_columns(frame.columns, [response, LONG_ITEM, LONG_SCORE, *by], table=table)
    frame = frame.reset_index(drop=True)  # positions, never the input's labels
    names = frame[LONG_ITEM].astype("string")
    if items is None:
        keep = names.notna().to_numpy()
        item_list = sorted(str(i) for i in pd.unique(names[keep]))
    else:
        item_list = [str(i) for i in items]
        keep = names.isin(item_list).to_numpy(dtype=bool, na_value=False)
    rows = np.flatnonzero(keep)
    part = frame.iloc[rows]
    score = part[LONG_SCORE]
    num = pd.to_numeric(score, errors="coerce")
    bad = (num.isna() & score.notna()).to_numpy()
    if bad.any():
        where = rows[bad][:5].tolist()
        raise InputTableError(
            f"{table}: column {LONG_SCORE!r} failed check numeric: expected numbers; "
            f"{int(bad.sum())} value(s) are not, e.g. at row(s) {where}. Recode the answers "
            "to numbers.",
            table=table,
            failure_cases=pd.DataFrame(
                {"column": LONG_SCORE, "check": "numeric", "failure_case": None, "index": where}
            ),
        )
    if part[response].isna().any():
        where = rows[part[response].isna().to_numpy()][:5].tolist()
        raise InputTableError(
            f"{table}: column {response!r} failed check not_null: every answer needs its "
            f"response; missing at row(s) {where}. Drop those rows or fill the column.",
            table=table,
            failure_cases=pd.DataFrame(
                {"column": response, "check": "not_null", "failure_case": None, "index": where}
            ),
        )
    r_codes, r_uniques = pd.factorize(part[response], sort=False)
    i_codes = pd.Index(item_list).get_indexer(names.iloc[rows])
    flat = pd.Series(r_codes.astype(np.int64) * len(item_list) + i_codes)
    repeated = flat.duplicated(keep=False).to_numpy()
    if repeated.any():
        first = flat[repeated].drop_duplicates().head(3)
        where = rows[np.flatnonzero(flat.isin(first).to_numpy())][:6].tolist()
        n_pairs = int(flat[repeated].nunique())
        raise InputTableError(
            f"{table}: columns {response!r} and {LONG_ITEM!r} failed check unique: each "
            f"response answers an item once (one row per response x item); {n_pairs} "
            f"(response, item) pair(s) have a repeated answer, e.g. rows {where}. Remove "
            "the repeated rows (keep one answer per response and item).",
            table=table,
            failure_cases=pd.DataFrame(
                {
                    "column": f"{response}, {LONG_ITEM}",
                    "check": "unique",
                    "failure_case": [f"row {r}" for r in where],
                    "index": where,
                }
            ),
        )
    x = np.full((len(r_uniques), len(item_list)), np.nan)
    x[r_codes, i_codes] = num.to_numpy(dtype=float, na_value=np.nan)
    wide = pd.DataFrame(x, columns=item_list)
    if by:
        keys = part[by].reset_index(drop=True)
        first_row = pd.Series(np.arange(len(part))).groupby(r_codes, sort=True).first()
        firsts = keys.iloc[first_row.to_numpy()].reset_index(drop=True)
        for c in by:
            varies = keys[c].groupby(r_codes, sort=True, dropna=False).nunique(dropna=False) > 1
            if bool(varies.any()):
                code = int(np.flatnonzero(varies.to_numpy())[0])
                where = rows[r_codes == code][:6].tolist()
                raise InputTableError(
                    f"{table}: column {c!r} failed check constant_within_response: a "
                    f"response belongs to one group, but {int(varies.sum())} response(s) "
                    f"have several values, e.g. rows {where}. Fix the group column.",
                    table=table,
                    failure_cases=pd.DataFrame(
                        {
                            "column": c,
                            "check": "constant_within_response",
                            "failure_case": None,
                            "index": where,
                        }
                    ),
                )
            wide.insert(len(wide.columns) - len(item_list), c, firsts[c].to_numpy())
            wide[c] = wide[c].astype(keys[c].dtype)
    return wide
