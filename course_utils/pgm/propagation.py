"""Sum-product belief propagation on a factor graph (信念传播): exact on trees, loopy on cycles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from course_utils.pgm.factor import Factor
from course_utils.pgm.tables import run_einsum, subscripts


@dataclass
class BPResult:
    """Loopy/tree sum-product result: beliefs per variable and the convergence record."""

    marginals: dict[str, Factor]
    converged: bool
    n_iter: int
    residuals: list[float]                               # max |Δ message| per iteration
    history: list[dict[str, np.ndarray]] = field(default_factory=list)  # beliefs per iteration


def belief_propagation(factors: Sequence[Factor], *, max_iter: int = 100, tol: float = 1e-10,
                       damping: float = 0.0, track: bool = False) -> BPResult:
    """Sum-product on the factor graph of ``factors`` (flooding schedule).

    m_{v→f}(x_v) ∝ Π_{g ∋ v, g≠f} m_{g→v}(x_v);
    m_{f→v}(x_v) ∝ Σ_{x_f \\ x_v} f(x_f) Π_{u ∈ f, u≠v} m_{u→f}(x_u);
    b_v ∝ Π_{f ∋ v} m_{f→v}. Exact on a tree after diameter-many iterations; on a graph with
    cycles ("loopy BP") an approximation that may not converge. ``damping`` ∈ [0, 1) mixes in
    the old message.
    """
    if not 0 <= damping < 1:
        raise ValueError("damping must be in [0, 1)")
    zero = [f for f in factors if not np.any(f.values)]
    if zero:  # (a factor reduced by evidence to 0 everywhere: VE and the junction tree raise too)
        raise ValueError(f"the evidence has probability zero: a factor over {zero[0].variables or '()'} is 0 for "
                         "every state; no belief is defined")
    factors = [f for f in factors if len(f.variables) > 0]
    card = {v: c for f in factors for v, c in zip(f.variables, f.cardinality)}
    nbrs: dict[str, list[int]] = {v: [] for v in card}
    for a, f in enumerate(factors):
        for v in f.variables:
            nbrs[v].append(a)
    f2v = {(a, v): np.full(card[v], 1.0 / card[v]) for a, f in enumerate(factors)
           for v in f.variables}
    # each factor→variable update is one einsum with precomputed subscripts
    plans = {}
    for a, f in enumerate(factors):
        for v in f.variables:
            others = [u for u in f.variables if u != v]
            plans[a, v] = (others, subscripts([f.variables, *[(u,) for u in others]], (v,)))
    residuals: list[float] = []
    history: list[dict[str, np.ndarray]] = []

    def beliefs() -> dict[str, np.ndarray]:
        out = {}
        for v in card:
            b = np.prod([f2v[a, v] for a in nbrs[v]], axis=0) if nbrs[v] else np.ones(card[v])
            out[v] = b / b.sum()
        return out

    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        v2f = {}
        for v, fs in nbrs.items():
            msgs = [f2v[a, v] for a in fs]
            for k, a in enumerate(fs):
                m = np.prod(msgs[:k] + msgs[k + 1:], axis=0) if len(fs) > 1 else np.ones(card[v])
                v2f[v, a] = m / m.sum()
        delta = 0.0
        new = {}
        for (a, v), (others, spec) in plans.items():
            m = run_einsum([factors[a].values, *[v2f[u, a] for u in others]], spec)
            s = m.sum()
            if not s > 0:
                raise ValueError(f"the evidence has probability zero: the message to {v!r} is 0 for every state "
                                 "(no belief is defined)")
            m = m / s
            if damping:
                m = damping * f2v[a, v] + (1 - damping) * m
            delta = max(delta, float(np.max(np.abs(m - f2v[a, v]))))
            new[a, v] = m
        f2v = new
        residuals.append(delta)
        if track:
            history.append(beliefs())
        if delta < tol:
            converged = True
            break
    marg = {v: Factor((v,), (card[v],), b) for v, b in beliefs().items()}
    return BPResult(marg, converged, it, residuals, history)


