"""Monte Carlo inference on Bayesian networks (lecture: 近似推断 → 采样法).

Ancestral sampling, rejection sampling, likelihood weighting and Gibbs sampling for a posterior
query p(x_q | e). Every sampler is vectorised over samples (or chains): one numpy operation per
variable per sweep, no Python loop over samples. Randomness comes in through ``generator``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from course_utils.pgm.network import BayesianNetwork
from course_utils.pgm.queries import evidence_indices


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate of p(x_q | e) and how many samples it really rests on."""

    probs: np.ndarray          # (card(q),), sums to 1
    n_samples: int             # samples drawn (for Gibbs: chains × kept sweeps, exactly n)
    n_effective: float         # accepted samples / effective sample size (Σw)² / Σw²
    acceptance_rate: float = 1.0  # rejection: accepted / n; likelihood weighting: weight > 0 / n


def _check_n(n: object, name: str = "n", what: str = "samples") -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive whole number of {what}, got {n!r}")
    return int(n)


def _check_query(bn: BayesianNetwork, variable: str, ev: Mapping[str, int]) -> None:
    if not isinstance(variable, str) or variable not in bn.card:
        raise ValueError(f"unknown query variable {variable!r}: the samplers take one variable of the "
                         f"network, one of {', '.join(bn.variables)}")
    if variable in ev:
        raise ValueError(f"{variable!r} is both queried and observed: drop it from the evidence or "
                         "query another variable")


def _no_usable_sample(n: int, evidence: object, how: str) -> ValueError:
    return ValueError(f"{how} of the {n} samples: the evidence {dict(evidence or {})} has probability zero "
                      f"(impossible), or p(e) is far below 1/{n}. Check the evidence (exactly: "
                      "JunctionTree(bn).log_partition(evidence) is log p(e)), or draw more samples")


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
    n = _check_n(n)
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
    """Normalised (weighted) counts; callers make sure some sample counts (never a uniform guess)."""
    counts = np.bincount(states, weights=weights, minlength=card).astype(float)
    return counts / counts.sum()


def rejection_sampling(bn: BayesianNetwork, variable: str, evidence: Mapping[str, int | str],
                       n: int, generator: np.random.Generator) -> Estimate:
    """p(x_q | e) ≈ histogram of x_q over the ancestral samples that agree with e.

    The acceptance rate is p(e): unlikely evidence wastes almost every sample. No sample
    accepted is a ValueError (p(e) = 0, or far below 1/n), never a made-up answer.
    """
    n = _check_n(n)
    ev = evidence_indices(bn, evidence)
    _check_query(bn, variable, ev)
    x, _ = forward_sample(bn, n, generator)
    col = {v: i for i, v in enumerate(bn.variables)}
    keep = np.ones(n, dtype=bool)
    for v, s in ev.items():
        keep &= x[:, col[v]] == s
    if not keep.any():
        raise _no_usable_sample(n, evidence, "rejection sampling accepted none")
    probs = _histogram(x[keep, col[variable]], bn.card[variable])
    return Estimate(probs, n, float(keep.sum()), float(keep.mean()))


def likelihood_weighting(bn: BayesianNetwork, variable: str, evidence: Mapping[str, int | str],
                         n: int, generator: np.random.Generator) -> Estimate:
    """p(x_q | e) ≈ Σ_i w_i 1[x_q^(i)] / Σ_i w_i with w_i = Π_{v ∈ E} p(e_v | pa_v^(i)).

    ``acceptance_rate`` is the fraction of samples with w_i > 0; when every weight is 0 (p(e) = 0,
    or far below 1/n) it is a ValueError, never a made-up answer.
    """
    n = _check_n(n)
    ev = evidence_indices(bn, evidence)
    _check_query(bn, variable, ev)
    x, log_w = forward_sample(bn, n, generator, ev)
    if not np.isfinite(log_w.max()):
        raise _no_usable_sample(n, evidence, "every weight is 0: none")
    w = np.exp(log_w - log_w.max())
    ess = float(w.sum() ** 2 / (w**2).sum())
    probs = _histogram(x[:, bn.variables.index(variable)], bn.card[variable], w)
    return Estimate(probs, n, ess, float(np.mean(w > 0)))


def gibbs_sampling(bn: BayesianNetwork, variable: str, evidence: Mapping[str, int | str],
                   n: int, generator: np.random.Generator, *, n_chains: int = 100,
                   burn_in: int = 50) -> Estimate:
    """p(x_q | e) by Gibbs sampling: sweep x_v ~ p(x_v | markov blanket) for unobserved v.

    p(x_v | mb) ∝ p(x_v | pa_v) Π_{c ∈ ch(v)} p(x_c | pa_c). ``n_chains`` chains run side by
    side, started from likelihood-weighting samples resampled by weight (so they start in a
    state of positive probability); ``n`` ≈ chains × kept sweeps. Zeros in the CPDs (asia's
    deterministic ``either``) can make the chain reducible: then it never mixes. Exactly ``n``
    states are kept (the last sweep contributes the first chains' states when n is not a multiple
    of ``n_chains``); n < n_chains is a ValueError.
    """
    n = _check_n(n)
    n_chains = _check_n(n_chains, "n_chains", "chains")
    if isinstance(burn_in, (bool, np.bool_)) or not isinstance(burn_in, (int, np.integer)) or burn_in < 0:
        raise ValueError(f"burn_in must be a whole number >= 0 of sweeps, got {burn_in!r}")
    if n < n_chains:
        raise ValueError(f"n={n} is fewer than n_chains={n_chains}: each sweep keeps one state per chain; "
                         f"ask for n >= {n_chains} or pass n_chains <= {n}")
    ev = evidence_indices(bn, evidence)
    _check_query(bn, variable, ev)
    col = {v: i for i, v in enumerate(bn.variables)}
    children = {v: [c for c in bn.variables if v in bn.parents[c]] for v in bn.variables}
    n_start = 20 * n_chains
    x0, log_w = forward_sample(bn, n_start, generator, ev)
    if not np.isfinite(log_w.max()):
        raise _no_usable_sample(n_start, evidence, "no starting state: every weight is 0 in each")
    w = np.exp(log_w - log_w.max())
    x = x0[generator.choice(len(w), size=n_chains, p=w / w.sum())]
    hidden = [v for v in bn.variables if v not in ev]
    sweeps = -(-n // n_chains)
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
    states = np.concatenate(kept)[:n]
    probs = _histogram(states, bn.card[variable])
    return Estimate(probs, states.size, float(states.size))
