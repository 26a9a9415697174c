"""Monte Carlo inference on Bayesian networks (lecture: 近似推断 → 采样法).

Ancestral sampling, rejection sampling, likelihood weighting and Gibbs sampling for a posterior
query p(x_q | e). Every sampler is vectorised over samples (or chains): one numpy operation per
variable per sweep, no Python loop over samples. Randomness comes in through ``generator``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from course_utils.pgm.elimination import evidence_indices
from course_utils.pgm.network import BayesianNetwork


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate of p(x_q | e) and how many samples it really rests on."""

    probs: np.ndarray          # (card(q),), sums to 1 (uniform if no sample was usable)
    n_samples: int             # samples drawn (for Gibbs: chains × kept sweeps)
    n_effective: float         # accepted samples / effective sample size (Σw)² / Σw²
    acceptance_rate: float = 1.0


def _cpd_column(bn: BayesianNetwork, v: str, x: np.ndarray, col: Mapping[str, int]) -> np.ndarray:
    """p(x_v = · | pa_v) for every sample: shape (card(v), n)."""
    values = bn.cpds[v].values
    pa = bn.parents[v]
    if not pa:
        return np.repeat(values[:, None], x.shape[0], axis=1)
    return values[(slice(None), *[x[:, col[u]] for u in pa])]


def _draw(p: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """One categorical draw per column of p (k, n) by inverting the CDF."""
    cdf = np.cumsum(p, axis=0)
    u = generator.random(p.shape[1]) * cdf[-1]
    return np.minimum((u[None, :] >= cdf).sum(axis=0), p.shape[0] - 1)


def forward_sample(bn: BayesianNetwork, n: int, generator: np.random.Generator,
                   evidence: Mapping[str, int | str] | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Ancestral sampling in topological order, evidence clamped (likelihood weighting).

    x_v ~ p(x_v | pa_v) for unobserved v; x_v = e_v and log w += log p(e_v | pa_v) for observed
    v. Returns samples (n, K) in ``bn.variables`` order and log-weights (n,) (all 0 without
    evidence: plain ancestral sampling).
    """
    ev = evidence_indices(bn, evidence)
    col = {v: i for i, v in enumerate(bn.variables)}
    x = np.zeros((n, len(bn.variables)), dtype=np.int64)
    log_w = np.zeros(n)
    for v in bn.variables:
        p = _cpd_column(bn, v, x, col)
        if v in ev:
            x[:, col[v]] = ev[v]
            with np.errstate(divide="ignore"):
                log_w += np.log(p[ev[v]])
        else:
            x[:, col[v]] = _draw(p, generator)
    return x, log_w


def _histogram(states: np.ndarray, card: int, weights: np.ndarray | None = None) -> np.ndarray:
    counts = np.bincount(states, weights=weights, minlength=card).astype(float)
    total = counts.sum()
    return counts / total if total > 0 else np.full(card, 1.0 / card)


def rejection_sampling(bn: BayesianNetwork, variable: str, evidence: Mapping[str, int | str],
                       n: int, generator: np.random.Generator) -> Estimate:
    """p(x_q | e) ≈ histogram of x_q over the ancestral samples that agree with e.

    The acceptance rate is p(e): unlikely evidence wastes almost every sample.
    """
    ev = evidence_indices(bn, evidence)
    x, _ = forward_sample(bn, n, generator)
    col = {v: i for i, v in enumerate(bn.variables)}
    keep = np.ones(n, dtype=bool)
    for v, s in ev.items():
        keep &= x[:, col[v]] == s
    probs = _histogram(x[keep, col[variable]], bn.card[variable])
    return Estimate(probs, n, float(keep.sum()), float(keep.mean()))


def likelihood_weighting(bn: BayesianNetwork, variable: str, evidence: Mapping[str, int | str],
                         n: int, generator: np.random.Generator) -> Estimate:
    """p(x_q | e) ≈ Σ_i w_i 1[x_q^(i)] / Σ_i w_i with w_i = Π_{v ∈ E} p(e_v | pa_v^(i))."""
    x, log_w = forward_sample(bn, n, generator, evidence)
    w = np.exp(log_w - log_w.max()) if np.isfinite(log_w.max()) else np.zeros(n)
    ess = float(w.sum() ** 2 / (w**2).sum()) if w.sum() > 0 else 0.0
    probs = _histogram(x[:, bn.variables.index(variable)], bn.card[variable], w)
    return Estimate(probs, n, ess)


def gibbs_sampling(bn: BayesianNetwork, variable: str, evidence: Mapping[str, int | str],
                   n: int, generator: np.random.Generator, *, n_chains: int = 100,
                   burn_in: int = 50) -> Estimate:
    """p(x_q | e) by Gibbs sampling: sweep x_v ~ p(x_v | markov blanket) for unobserved v.

    p(x_v | mb) ∝ p(x_v | pa_v) Π_{c ∈ ch(v)} p(x_c | pa_c). ``n_chains`` chains run side by
    side, started from likelihood-weighting samples resampled by weight (so they start in a
    state of positive probability); ``n`` ≈ chains × kept sweeps. Zeros in the CPDs (asia's
    deterministic ``either``) can make the chain reducible: then it never mixes.
    """
    ev = evidence_indices(bn, evidence)
    col = {v: i for i, v in enumerate(bn.variables)}
    children = {v: [c for c in bn.variables if v in bn.parents[c]] for v in bn.variables}
    x0, log_w = forward_sample(bn, 20 * n_chains, generator, ev)
    w = np.exp(log_w - log_w.max())
    x = x0[generator.choice(len(w), size=n_chains, p=w / w.sum())]
    hidden = [v for v in bn.variables if v not in ev]
    sweeps = max(1, -(-n // n_chains))
    kept = []
    for t in range(burn_in + sweeps):
        for v in hidden:
            k = bn.card[v]
            p = _cpd_column(bn, v, x, col).copy()                     # (k, chains)
            for c in children[v]:
                index = [np.broadcast_to(x[:, col[c]], (k, n_chains))]
                for u in bn.parents[c]:
                    index.append(np.broadcast_to(np.arange(k)[:, None], (k, n_chains)) if u == v
                                 else np.broadcast_to(x[:, col[u]], (k, n_chains)))
                p *= bn.cpds[c].values[tuple(index)]
            x[:, col[v]] = _draw(p, generator)
        if t >= burn_in:
            kept.append(x[:, col[variable]].copy())
    states = np.concatenate(kept)
    probs = _histogram(states, bn.card[variable])
    return Estimate(probs, states.size, float(states.size))
