"""Exercises of notebooks 00–05 (graphical models, exact and approximate inference).

Every exercise asks for a function; its checker runs it on at least three test cases built here
(never on a notebook's variables) and compares each result with what a reference computed another
way gave (scikit-learn, hmmlearn, scipy, the course's tested ``course_utils.pgm``, brute force);
when the answer is wrong, it looks for the plausible mistake it matches and says what is wrong.

In a notebook::

    from course_utils.exercises import graphical_models as ex
    ex.log_prior(my_log_prior)          # ✓, "not attempted", or ✗ with a diagnosis
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_utils.exercises import exercise

Case = tuple
Diagnosis = tuple[Callable[..., Any], str]  # (a plausible wrong function, what it gets wrong)


def _exercise(number: str, title: str, reference: Callable[..., Any], cases: Callable[[], list[Case]], *,
              right: Callable[..., Any], mistakes: Sequence[Diagnosis], hint: str | Sequence[str],
              atol: float = 1e-8, rtol: float = 1e-6):
    """Register an exercise of notebooks 01–05 (its cases are built on first use: some read a network)."""
    return exercise(number, title, reference, cases, right=right, mistakes=mistakes, hints=hint, atol=atol,
                    rtol=rtol, module=__name__)


# ============================================================================= 01 naive Bayes
@functools.cache
def _label_cases() -> list[Case]:
    rng = np.random.default_rng(101)
    skew = rng.dirichlet(np.full(10, 0.7))
    return [
        (np.concatenate([np.arange(10), rng.integers(0, 10, 990)]),),                   # near uniform
        (np.concatenate([np.arange(10), rng.choice(10, 490, p=skew)]),),                # skewed
        (np.concatenate([np.arange(10), np.zeros(27, dtype=np.int64)]),),              # one big class
    ]


def _ref_log_prior(y: np.ndarray) -> np.ndarray:
    from sklearn.naive_bayes import BernoulliNB

    return BernoulliNB().fit(np.zeros((len(y), 1)), y).class_log_prior_


def _right_log_prior(y: np.ndarray) -> np.ndarray:
    return np.log(np.bincount(y, minlength=10) / len(y))


log_prior = _exercise(
    "01.1", "the log prior by counting", _ref_log_prior, _label_cases, right=_right_log_prior,
    mistakes=[
        (lambda y: np.bincount(y, minlength=10) / len(y),
         "you returned p(y), not log p(y): take the logarithm"),
        (lambda y: np.log(np.bincount(y, minlength=10).astype(float)),
         "these are log counts log N_c: divide by the number of labels N before the log"),
        (lambda y: np.full(10, -math.log(10)),
         "a uniform prior ignores the labels: count each class"),
    ],
    hint="count each class with np.bincount(y, minlength=10), divide by N, take the log")


@functools.cache
def _pixel_cases() -> list[Case]:
    rng = np.random.default_rng(102)
    return [
        (rng.integers(0, 2, 784), rng.beta(0.5, 2.0, (10, 784)) * 0.98 + 0.01),
        (np.array([1, 0, 0, 1, 1]), rng.uniform(0.05, 0.95, (3, 5))),
        (np.ones(20, dtype=np.int64), rng.uniform(0.05, 0.95, (4, 20))),
    ]


def _ref_log_px_given_y(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    from scipy.stats import bernoulli

    return bernoulli.logpmf(x[None, :], theta).sum(axis=1)


def _right_log_px_given_y(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    return np.where(x == 1, np.log(theta), np.log1p(-theta)).sum(axis=1)


log_px_given_y = _exercise(
    "01.2", "log p(x | y) of naive Bayes", _ref_log_px_given_y, _pixel_cases, right=_right_log_px_given_y,
    mistakes=[
        (lambda x, t: (x * np.log(t)).sum(axis=1),
         "only the pixels that are on count here: add (1 - x) log(1 - theta) for the pixels that are off"),
        (lambda x, t: (x * np.log(t) + (1 - x) * np.log1p(-t)).sum(axis=0),
         "summed over the classes: sum over the pixels (axis=1) to get one number per class"),
        (lambda x, t: (t**x * (1 - t) ** (1 - x)).prod(axis=1),
         "a probability (a product), not a log-probability: sum the logs (the product underflows)"),
    ],
    hint="use x * log(theta) + (1 - x) * log(1 - theta), summed over pixels")


def _ref_naive_bayes_counts(C: int, M: int) -> tuple[int, float]:
    """Free parameters of y -> x_1..x_M counted from the Bayesian network's tables; log10 of C 2^M - 1."""
    from course_utils.pgm import BayesianNetwork, Factor

    parents = {"y": []} | {f"x{m}": ["y"] for m in range(M)}
    cpds = {"y": Factor(["y"], [C], np.full(C, 1 / C))} | {
        f"x{m}": Factor([f"x{m}", "y"], [2, C], np.full((2, C), 0.5)) for m in range(M)}
    return BayesianNetwork(parents, cpds).n_free_parameters(), math.log10(C * 2**M - 1)


def _right_naive_bayes_counts(C: int, M: int) -> tuple[int, float]:
    return (C - 1) + C * M, math.log10(C * 2**M - 1)   # Python's integers do not overflow


naive_bayes_counts = _exercise(
    "01.3", "counting the parameters of naive Bayes", _ref_naive_bayes_counts,
    lambda: [(10, 784), (2, 3), (5, 30)], right=_right_naive_bayes_counts,
    mistakes=[
        (lambda C, M: (C * M, math.log10(C * 2**M - 1)), "p(y) has C - 1 free numbers too"),
        (lambda C, M: ((C - 1) + 2 * C * M, math.log10(C * 2**M - 1)),
         "a Bernoulli pixel has one free number per class, θ (1 - θ is not free)"),
        (lambda C, M: ((C - 1) + C * M, math.log10(2**M - 1)),
         "the full table is over (x, y): C * 2**M entries"),
    ],
    hint="(C - 1) for p(y), plus one θ per class and pixel; the full table has C * 2**M entries, "
         "one of them fixed by the sum to 1",
    atol=1e-6, rtol=0.0)


# ============================================================================= 02 Bayesian networks
_LECTURE7 = {"x1": [], "x2": [], "x3": [], "x4": ["x1", "x2", "x3"], "x5": ["x1", "x3"],
             "x6": ["x4"], "x7": ["x4", "x5"]}
_LECTURE4 = {"x1": [], "x2": ["x1"], "x3": ["x1"], "x4": ["x2", "x3"]}


def _count_cases() -> list[Case]:
    return [
        (_LECTURE7, {v: 3 if v == "x4" else 2 for v in _LECTURE7}),       # the notebook's question
        (_LECTURE4, dict.fromkeys(_LECTURE4, 2)),                          # the lecture's 9
        ({"a": [], "b": ["a"], "c": ["a", "b"], "d": ["c"]}, {"a": 3, "b": 2, "c": 4, "d": 5}),
    ]


def _ref_n_free_parameters(parents: dict, card: dict) -> int:
    """Count, table by table, the entries that are not fixed by 'each column sums to 1'."""
    total = 0
    for v, pa in parents.items():
        table = np.zeros([card[v], *(card[p] for p in pa)])
        total += table[:-1].size            # every state but the last, in every column
    return total


def _right_n_free_parameters(parents: dict, card: dict) -> int:
    return sum((card[v] - 1) * math.prod(card[p] for p in pa) for v, pa in parents.items())


n_free_parameters = _exercise(
    "02.1", "the number of free parameters", _ref_n_free_parameters, _count_cases, right=_right_n_free_parameters,
    mistakes=[
        (lambda pa, c: sum(c[v] * math.prod(c[p] for p in ps) for v, ps in pa.items()),
         "each column of a CPD sums to 1: only |x_k| - 1 of its numbers are free"),
        (lambda pa, c: sum((c[v] - 1) * max(1, sum(c[p] for p in ps)) for v, ps in pa.items()),
         "the number of parent configurations is the product of the parents' numbers of states"),
        (lambda pa, c: math.prod(c.values()) - 1,
         "that is the full joint table: count the CPDs' parameters instead"),
    ],
    hint="sum over k of (|x_k| - 1) times the product of the parents' numbers of states")


@functools.cache
def _joint4_networks() -> list[tuple[np.ndarray, np.ndarray]]:
    """(joint table P over x1..x4, the CPD p(x3 | x1) that built it) for three random networks."""
    from course_utils.pgm import BayesianNetwork, Factor

    rng = np.random.default_rng(202)
    out = []
    for card in ({"x1": 2, "x2": 2, "x3": 2, "x4": 2}, {"x1": 3, "x2": 2, "x3": 2, "x4": 2},
                 {"x1": 2, "x2": 3, "x3": 4, "x4": 2}):
        cpds = {}
        for v, pa in _LECTURE4.items():
            shape = [card[v], *(card[p] for p in pa)]
            cols = rng.dirichlet(np.ones(card[v]), size=math.prod(shape[1:])).T
            cpds[v] = Factor([v, *pa], shape, cols.reshape(shape))
        bn = BayesianNetwork(_LECTURE4, cpds)
        out.append((bn.joint().permute(["x1", "x2", "x3", "x4"]).values, cpds["x3"].values))
    return out


def _cpd_behind(P: np.ndarray) -> np.ndarray:
    """The reference: the network's own CPD of x3, the table that built P (not computed from P)."""
    return next(cpd for joint, cpd in _joint4_networks() if np.array_equal(joint, P))


def _p13(P: np.ndarray) -> np.ndarray:
    return P.sum(axis=(1, 3))


p3_given_1 = _exercise(
    "02.2", "p(x3 | x1) from the joint", _cpd_behind, lambda: [(joint,) for joint, _ in _joint4_networks()],
    right=lambda P: (_p13(P) / _p13(P).sum(axis=1, keepdims=True)).T,
    mistakes=[
        (lambda P: _p13(P).T, "this is the joint p(x1, x3): divide by p(x1)"),
        (lambda P: _p13(P) / _p13(P).sum(axis=1, keepdims=True),
         "indexed [x1, x3]: transpose it to [x3, x1]"),
        (lambda P: (_p13(P) / _p13(P).sum(axis=0, keepdims=True)).T,
         "you divided by p(x3), which gives p(x1 | x3): divide by p(x1)"),
    ],
    hint="sum out x2 and x4, then divide by p(x1); transpose to [x3, x1]")


@functools.cache
def _network(name: str):
    """A bundled example network, read once (BayesianNetwork.example reads the shipped .bif)."""
    from course_utils.pgm import BayesianNetwork

    return BayesianNetwork.example(name)


@functools.cache
def _asia_cases() -> list[Case]:
    asia = _network("asia")
    small = [asia.sample(n, np.random.default_rng(n)) for n in (20, 200, 2000)]
    return [(small[0], 1.0), (small[1], 0.5), (small[2], 2.0)]


def _right_smoothed_dysp(data: np.ndarray, a: float) -> np.ndarray:
    col = {v: k for k, v in enumerate(_network("asia").variables)}
    counts = np.zeros((2, 2, 2))
    np.add.at(counts, (data[:, col["dysp"]], data[:, col["bronc"]], data[:, col["either"]]), 1)
    counts += a
    return counts / counts.sum(axis=0, keepdims=True)


def _dysp_counts(data: np.ndarray) -> np.ndarray:
    return _network("asia").counts("dysp", data).astype(float)


smoothed_dysp = _exercise(
    "02.3", "a smoothed CPD", lambda d, a: _network("asia").fit_mle(d, pseudocount=a).cpds["dysp"].values,
    _asia_cases, right=_right_smoothed_dysp,
    mistakes=[
        (lambda d, a: _dysp_counts(d) / _dysp_counts(d).sum(axis=0, keepdims=True),
         "no pseudocount: add a to every count (and a·|x| to each column's total)"),
        (lambda d, a: (_dysp_counts(d) + a) / (_dysp_counts(d).sum(axis=0, keepdims=True) + a),
         "the denominator needs a·|x| (a for each state of dysp): the columns do not sum to 1"),
        (lambda d, a: (_dysp_counts(d) + a) / (_dysp_counts(d) + a).sum(),
         "normalise each column (over dysp, axis 0), not the whole table"),
    ],
    hint="count with np.add.at, add a to every cell, normalise over axis 0")


# ============================================================================= 03 HMM and GMM
@functools.cache
def _hmm_cases() -> list[Case]:
    from hmmlearn.hmm import CategoricalHMM

    casino = (np.array([0.5, 0.5]), np.array([[0.95, 0.05], [0.10, 0.90]]),
              np.array([[1 / 6] * 6, [0.1] * 5 + [0.5]]))
    three = (np.array([0.6, 0.3, 0.1]), np.array([[0.8, 0.15, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]),
             np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.3, 0.3, 0.4]]))
    out = []
    for (pi, A, B), T, seed in ((casino, 300, 31), (casino, 200, 32), (three, 150, 33)):
        m = CategoricalHMM(n_components=len(pi), n_features=B.shape[1], init_params="", random_state=seed)
        m.startprob_, m.transmat_, m.emissionprob_ = pi, A, B
        x = m.sample(T)[0].ravel()
        out.append((x, pi, A, B))
    return out


def _hmmlearn_decode(x, pi, A, B, algorithm: str) -> np.ndarray:
    from hmmlearn.hmm import CategoricalHMM

    m = CategoricalHMM(n_components=len(pi), n_features=B.shape[1], init_params="")
    m.startprob_, m.transmat_, m.emissionprob_ = pi, A, B
    return m.decode(x.reshape(-1, 1), algorithm=algorithm)[1]


def _log_alpha(x, pi, A, B) -> np.ndarray:
    from scipy.special import logsumexp

    la = np.zeros((len(x), len(pi)))
    la[0] = np.log(pi) + np.log(B[:, x[0]])
    for t in range(1, len(x)):
        la[t] = np.log(B[:, x[t]]) + logsumexp(la[t - 1][:, None] + np.log(A), axis=0)
    return la


def _log_beta(x, pi, A, B) -> np.ndarray:
    from scipy.special import logsumexp

    lb = np.zeros((len(x), len(pi)))
    for t in range(len(x) - 2, -1, -1):
        lb[t] = logsumexp(np.log(A) + np.log(B[:, x[t + 1]]) + lb[t + 1], axis=1)
    return lb


posterior_decode = _exercise(
    "03.1", "posterior decoding", lambda x, pi, A, B: _hmmlearn_decode(x, pi, A, B, "map"), _hmm_cases,
    right=lambda x, pi, A, B: (_log_alpha(x, pi, A, B) + _log_beta(x, pi, A, B)).argmax(axis=1),
    mistakes=[
        (lambda x, pi, A, B: _hmmlearn_decode(x, pi, A, B, "viterbi"),
         "this is the Viterbi path (the most likely whole path): take the argmax of γ_t at each t on its own"),
        (lambda x, pi, A, B: _log_alpha(x, pi, A, B).argmax(axis=1),
         "the forward variables alone give p(y_t | x_1..x_t) (filtering): multiply by β_t"),
    ],
    hint="gamma = exp(log_alpha + log_beta - log p(x)); take argmax over states at each time")


@functools.cache
def _gmm_cases() -> list[Case]:
    rng = np.random.default_rng(303)
    out = []
    for K, D, N in ((3, 2, 50), (2, 2, 40), (4, 3, 30)):
        w = rng.dirichlet(np.full(K, 2.0))
        mu = rng.normal(0, 2, (K, D))
        L = rng.normal(0, 0.5, (K, D, D)) + np.eye(D)
        cov = L @ L.transpose(0, 2, 1) + 0.1 * np.eye(D)
        X = mu[rng.choice(K, N, p=w)] + rng.normal(0, 1.0, (N, D))
        out.append((X, w, mu, cov))
    return out


def _ref_responsibilities(X, w, mu, cov) -> np.ndarray:
    from sklearn.mixture import GaussianMixture

    g = GaussianMixture(len(w), covariance_type="full")
    g.weights_, g.means_, g.covariances_ = w, mu, cov
    g.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(cov))
    return g.predict_proba(X)


def _weighted_densities(X, w, mu, cov) -> np.ndarray:
    """w_k N(x_n; mu_k, cov_k), (N, K), written out (no scipy)."""
    D = X.shape[1]
    diff = X[:, None, :] - mu[None]                                         # (N, K, D)
    maha = np.einsum("nki,kij,nkj->nk", diff, np.linalg.inv(cov), diff)
    norm = np.sqrt((2 * np.pi) ** D * np.linalg.det(cov))
    return w * np.exp(-0.5 * maha) / norm


responsibilities = _exercise(
    "03.2", "the responsibilities", _ref_responsibilities, _gmm_cases,
    right=lambda X, w, mu, cov: _weighted_densities(X, w, mu, cov)
    / _weighted_densities(X, w, mu, cov).sum(axis=1, keepdims=True),
    mistakes=[
        (lambda X, w, mu, cov: _weighted_densities(X, w, mu, cov),
         "not normalised: divide each row by its sum over the components"),
        (lambda X, w, mu, cov: _weighted_densities(X, np.ones_like(w), mu, cov)
         / _weighted_densities(X, np.ones_like(w), mu, cov).sum(axis=1, keepdims=True),
         "the mixture weights w_k are missing from the numerator and the denominator"),
        (lambda X, w, mu, cov: _weighted_densities(X, w, mu, cov)
         / _weighted_densities(X, w, mu, cov).sum(axis=0, keepdims=True),
         "normalised over the data points: each row (one point, all components) must sum to 1"),
    ],
    hint="r_nk = w_k N(x_n; mu_k, cov_k) / sum_j w_j N(x_n; mu_j, cov_j)")


def _ref_gmm_parameters(K: int, D: int) -> int:
    """Read off scikit-learn's BIC = -2 log p(X) + n_params log N on a fitted mixture."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    X = np.random.default_rng(K * 10 + D).normal(size=(60, D))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the count does not need a converged fit
        g = GaussianMixture(K, covariance_type="full", max_iter=5, random_state=0).fit(X)
    return round((g.bic(X) + 2 * g.score(X) * len(X)) / math.log(len(X)))


gmm_parameters = _exercise(
    "03.3", "the parameters of a GMM", _ref_gmm_parameters, lambda: [(3, 2), (2, 5), (4, 1)],
    right=lambda K, D: (K - 1) + K * D + K * D * (D + 1) // 2,
    mistakes=[
        (lambda K, D: (K - 1) + K * D + K * D * D,
         "a covariance matrix is symmetric: D (D + 1) / 2 free numbers, not D²"),
        (lambda K, D: K + K * D + K * D * (D + 1) // 2,
         "the weights sum to 1: K - 1 of them are free"),
        (lambda K, D: (K - 1) + K * D + K * D,
         "full covariances, not diagonal ones: D (D + 1) / 2 numbers each"),
    ],
    hint="weights (K-1), means K*D, symmetric covariances K*D*(D+1)/2", atol=0.0, rtol=0.0)


# ============================================================================= 04 exact inference
def _counted_cost_x3_first(k: int) -> int:
    """Multiply out p(x1) Σ_x2 p(x2|x1) Σ_x3 p(x3|x1) p(x4|x2,x3) with factors of k states,
    counting one multiplication per entry of every product table."""
    from course_utils.pgm import Factor

    def cpd(v, pa):
        return Factor([v, *pa], [k] * (1 + len(pa)), np.full([k] * (1 + len(pa)), 1.0 / k))

    count = 0

    def times(f, g):
        nonlocal count
        out = f * g
        count += out.values.size
        return out

    tau3 = times(cpd("x3", ["x1"]), cpd("x4", ["x2", "x3"])).marginalize(["x3"])
    tau2 = times(cpd("x2", ["x1"]), tau3).marginalize(["x2"])
    times(cpd("x1", []), tau2)
    return count


cost_x3_first = _exercise(
    "04.1", "the cost of eliminating x3 first", _counted_cost_x3_first, lambda: [(2,), (3,), (5,)],
    right=lambda k: k**4 + k**3 + k**2,
    mistakes=[
        (lambda k: 3 * k**4, "that is the brute force (3 multiplications per term of the joint)"),
        (lambda k: k**4 + k**3, "the last product, p(x1) τ(x1, x4), has k² entries too"),
        (lambda k: k**3 + k**2 + k**2,
         "count the entries of each product ψ before its sum, not of the τ left after it"),
    ],
    hint="ψ(x1,x2,x3,x4) has k⁴ entries, ψ(x1,x2,x4) k³, p(x1) τ(x1,x4) k²", atol=0.0, rtol=0.0)


@functools.cache
def _factor_cases() -> list[Case]:
    from course_utils.pgm import Factor

    rng = np.random.default_rng(404)

    def cpd(v, pa, k=2):
        t = rng.random((k, *[k] * len(pa))) + 0.05
        return Factor((v, *pa), (k,) * (1 + len(pa)), t / t.sum(axis=0))

    lecture = [cpd("x1", ()), cpd("x2", ("x1",)), cpd("x3", ("x1",)), cpd("x4", ("x2", "x3"))]
    three = [cpd("a", (), 3), cpd("b", ("a",), 3), cpd("c", ("a", "b"), 3)]
    return [(lecture, "x2"), (lecture, "x1"), ([f.reduce({"x4": 1}) for f in lecture], "x3"), (three, "a")]


def _product(factors):
    out = factors[0]
    for f in factors[1:]:
        out = out * f
    return out


def _ref_eliminate_one(factors, v):
    from course_utils.pgm import sum_product

    used = [f for f in factors if v in f.variables]
    return sum_product(used, sorted({u for f in used for u in f.variables} - {v}))


eliminate_one = _exercise(
    "04.2", "one elimination step", _ref_eliminate_one, _factor_cases,
    right=lambda fs, v: _product([f for f in fs if v in f.variables]).marginalize([v]),
    mistakes=[
        (lambda fs, v: _product([f for f in fs if v in f.variables]),
         "v is still in the result: sum it out of the product (marginalize)"),
        (lambda fs, v: _product(list(fs)).marginalize([v]),
         "multiply only the factors that mention v; the others stay in the list untouched"),
        (lambda fs, v: _product([f.marginalize([v]) for f in fs if v in f.variables]),
         "summing v out of each factor on its own is not Σ_v of their product: multiply first, then sum"),
    ],
    hint="ψ is the product of the factors whose .variables contain v; the new factor is ψ with v summed out "
         "(.marginalize([v]))")


@functools.cache
def _message_cases() -> list[Case]:
    rng = np.random.default_rng(505)
    return [(rng.random((2, 3)), rng.random(2)), (rng.random((3, 3)), rng.random(3)),
            (rng.random((4, 2)), rng.random(4))]


def _ref_message(f, m_a):
    from course_utils.pgm import Factor, belief_propagation

    out = belief_propagation([Factor(("a", "b"), f.shape, f), Factor(("a",), m_a.shape, m_a)], tol=1e-14)
    return out.marginals["b"].values


message = _exercise(
    "04.3", "a factor-to-variable message", _ref_message, _message_cases,
    right=lambda f, m_a: np.einsum("ab,a->b", f, m_a) / np.einsum("ab,a->", f, m_a),
    mistakes=[
        (lambda f, m_a: f.T @ m_a, "not normalised: divide the message by its sum"),
        (lambda f, m_a: f.sum(axis=0) / f.sum(),
         "the incoming message m_a→f is missing: weight f(x_a, x_b) by m(x_a) before summing over x_a"),
        (lambda f, m_a: (f * m_a[:, None]).max(axis=0) / (f * m_a[:, None]).max(axis=0).sum(),
         "a max over x_a (max-product) is not the sum-product message: sum over x_a"),
    ],
    hint="f.T @ m_a (sum over a), then divide by its sum")


# ============================================================================= 05 approximate inference
@functools.cache
def _weight_cases() -> list[Case]:
    out = []
    for bn, ev_names, seed in ((_network("alarm"), {"CVP": "LOW", "BP": "LOW"}, 7),
                               (_network("alarm"), {"HRBP": "HIGH", "BP": "LOW", "SAO2": "HIGH"}, 8),
                               (_network("asia"), {"dysp": "yes", "xray": "yes"}, 9)):
        ev = {v: bn.states[v].index(s) for v, s in ev_names.items()}
        col = {v: i for i, v in enumerate(bn.variables)}
        for x in bn.sample(2, np.random.default_rng(seed)):
            for v, s in ev.items():
                x[col[v]] = s                      # likelihood weighting clamps the evidence
            out.append((bn, x, ev))
    return out


def _ref_weight(bn, x, ev) -> float:
    """Π_{v ∈ E} p(e_v | pa_v): each CPD reduced to the sample's family, read as a number."""
    col = {v: i for i, v in enumerate(bn.variables)}
    return math.prod(bn.cpds[v].reduce({u: int(x[col[u]]) for u in bn.cpds[v].variables}).scalar()
                     for v in ev)


def _cpd_entry(bn, x, v, parents_order=None) -> float:
    col = {u: i for i, u in enumerate(bn.variables)}
    pa = bn.parents[v] if parents_order is None else parents_order
    return float(bn.cpds[v].values[(int(x[col[v]]), *[int(x[col[u]]) for u in pa])])


likelihood_weight = _exercise(
    "05.1", "the likelihood weight", _ref_weight, _weight_cases,
    right=lambda bn, x, ev: float(np.prod([_cpd_entry(bn, x, v) for v in ev])),
    mistakes=[
        (lambda bn, x, ev: float(np.prod([_cpd_entry(bn, x, v) for v in bn.variables])),
         "the product over every variable is p(x): the weight multiplies only the evidence CPDs"),
        (lambda bn, x, ev: float(np.sum([_cpd_entry(bn, x, v) for v in ev])),
         "a sum of probabilities: the weight is their product"),
        (lambda bn, x, ev: float(np.prod([_cpd_entry(bn, x, v, bn.parents[v][::-1]) for v in ev])),
         "index the CPD with the parents in its own order, (state, *bn.parents[v])"),
    ],
    hint="for each evidence variable v: bn.cpds[v].values[(state, *parent states)]", atol=1e-12)


def _gauss_cases() -> list[Case]:
    g = np.random.default_rng(3)
    return [(g.normal(1.5, 1.0, 10), 0.0, 2.0, 1.0),        # the notebook's model
            (g.normal(-2.0, 1.0, 3), 1.0, 0.3, 1.0),        # a tight prior far from the data
            (g.normal(0.5, 2.0, 50), -1.0, 1.0, 2.0)]


def _ref_best_q(X, mu0, tau0, sigma) -> tuple[float, float]:
    """argmax of the closed-form ELBO over (m, log s), found numerically (no posterior formula)."""
    from scipy.optimize import minimize

    n = len(X)

    def neg_elbo(p):
        m, s2 = p[0], math.exp(2 * p[1])
        e_lik = -0.5 * n * math.log(2 * math.pi * sigma**2) - (((X - m) ** 2).sum() + n * s2) / (2 * sigma**2)
        e_prior = -0.5 * math.log(2 * math.pi * tau0**2) - ((m - mu0) ** 2 + s2) / (2 * tau0**2)
        return -(e_lik + e_prior + 0.5 * math.log(2 * math.pi * math.e * s2))

    res = minimize(neg_elbo, x0=np.array([float(np.mean(X)), 0.0]), method="BFGS", options={"gtol": 1e-10})
    return float(res.x[0]), float(math.exp(res.x[1]))


def _right_best_q(X, mu0, tau0, sigma) -> tuple[float, float]:
    precision = 1 / tau0**2 + len(X) / sigma**2
    return (mu0 / tau0**2 + X.sum() / sigma**2) / precision, math.sqrt(1 / precision)


best_q = _exercise(
    "05.2", "the best Q", _ref_best_q, _gauss_cases, right=_right_best_q,
    mistakes=[
        (lambda X, mu0, tau0, sigma: (_right_best_q(X, mu0, tau0, sigma)[0],
                                      _right_best_q(X, mu0, tau0, sigma)[1] ** 2),
         "s is a standard deviation: you gave the variance τ_n²"),
        (lambda X, mu0, tau0, sigma: (float(np.mean(X)), sigma / math.sqrt(len(X))),
         "this ignores the prior (the maximum-likelihood estimate and its standard error)"),
        (lambda X, mu0, tau0, sigma: (mu0, tau0), "that is the prior, not the posterior"),
    ],
    hint="ELBO = log p(X) - KL(Q‖posterior): use the posterior mean and standard deviation", atol=1e-5)


@functools.cache
def _cavi_cases() -> list[Case]:
    rng = np.random.default_rng(606)
    size = 4
    m = rng.uniform(-1, 1, size * size)
    nb = [[rr * size + cc for rr, cc in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1))
           if 0 <= rr < size and 0 <= cc < size] for i in range(size) for j in range(size)]
    return [(float(rng.normal()), 0.7, m, nb[i]) for i in (0, 5, 14)]


def _ref_cavi_update(h_i, J, m, nb) -> float:
    """The optimum of the ELBO over q_i: q_i(+1) = σ(2 (h_i + J Σ m_j)); its mean is 2 q_i(+1) - 1."""
    return 2 / (1 + math.exp(-2 * (h_i + J * sum(m[j] for j in nb)))) - 1


cavi_update = _exercise(
    "05.3", "one CAVI update", _ref_cavi_update, _cavi_cases,
    right=lambda h_i, J, m, nb: float(np.tanh(h_i + J * m[nb].sum())),
    mistakes=[
        (lambda h_i, J, m, nb: float(1 / (1 + np.exp(-2 * (h_i + J * m[nb].sum())))),
         "that is q_i(+1), a probability: the update returns the mean m_i = 2 q_i(+1) - 1 = tanh(·)"),
        (lambda h_i, J, m, nb: float(np.tanh(h_i)), "the neighbours' means are missing: add J Σ_j m_j"),
        (lambda h_i, J, m, nb: float(np.tanh(h_i + J * m.sum())),
         "only the neighbours nb of pixel i enter, not every pixel"),
    ],
    hint="np.tanh(h_i + J * m[nb].sum())")
