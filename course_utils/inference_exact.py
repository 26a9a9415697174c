"""Exact inference on discrete graphical models: variable elimination, belief propagation,
junction tree (lecture: 基于概率图的推断 → 精确推断).

Everything takes and returns ``course_utils.pgm.Factor`` values. Inside, the hot loops work on
plain ``(variables, ndarray)`` tables and do each product-and-sum-out in one ``np.einsum`` call:
no Python loop over table entries. What depends only on the structure of a network (the
elimination order, the einsum subscripts, the clique tree) is computed once and cached.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, get_args

import numpy as np

from course_utils.pgm import BayesianNetwork, Factor

Heuristic = Literal["min_fill", "min_weight", "min_neighbors"]
HEURISTICS: tuple[str, ...] = get_args(Heuristic)
Scope = tuple[str, ...]


# ----------------------------------------------------------------------------- small helpers
def _einsum(operands: Sequence[tuple[Scope, np.ndarray]], out: Scope) -> np.ndarray:
    """Π operands, summed onto ``out``: one einsum call (at most 52 variables per call)."""
    return np.einsum(_subscripts([s for s, _ in operands], out), *[a for _, a in operands])


def _subscripts(operands: Sequence[Scope], out: Scope) -> str:
    """Einsum subscripts like ``"ab,bc->ac"`` for these scopes (letters assigned in order)."""
    ids: dict[str, str] = {}
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    subs = ["".join(ids.setdefault(v, letters[len(ids)]) for v in scope) for scope in operands]
    return ",".join(subs) + "->" + "".join(ids.setdefault(v, letters[len(ids)]) for v in out)


def _run(arrays: Sequence[np.ndarray], spec: str) -> np.ndarray:
    return np.einsum(spec, *arrays)


def _check_heuristic(heuristic: str) -> None:
    if heuristic not in HEURISTICS:
        raise ValueError(f"unknown heuristic {heuristic!r}: valid values are {', '.join(HEURISTICS)}")


def evidence_indices(bn: BayesianNetwork | JunctionTree, evidence: Mapping[str, int | str] | None) -> dict[str, int]:
    """Evidence as state indices: ``{"smoke": "yes"}`` → ``{"smoke": 0}`` (ints pass through).

    ``bn`` is anything with ``cardinality`` and ``states`` (None when it has no state names).
    """
    out: dict[str, int] = {}
    for v, s in (evidence or {}).items():
        if v not in bn.cardinality:
            raise ValueError(f"unknown evidence variable {v!r}")
        if isinstance(s, str):
            if not bn.states or s not in bn.states[v]:
                names = bn.states[v] if bn.states else "no state names (give an index)"
                raise ValueError(f"{v!r} has states {names}, not {s!r}")
            s = bn.states[v].index(s)
        if not 0 <= int(s) < bn.cardinality[v]:
            raise ValueError(f"state index {s} out of range for {v!r} ({bn.cardinality[v]} states)")
        out[v] = int(s)
    return out


# ----------------------------------------------------------------------------- elimination order
def greedy_order(scopes: Iterable[Scope], cardinality: Mapping[str, int],
                 eliminate: Iterable[str], heuristic: Heuristic = "min_fill") -> tuple[str, ...]:
    """Greedy elimination order on the interaction graph of ``scopes``.

    min_fill: fewest edges added; min_weight: smallest Π card(neighbours ∪ v);
    min_neighbors: fewest neighbours. Ties go to the smaller weight, then to the name.
    """
    _check_heuristic(heuristic)
    adj: dict[str, set[str]] = {}
    for scope in scopes:
        for v in scope:
            adj.setdefault(v, set()).update(u for u in scope if u != v)
    todo = set(eliminate)
    for v in todo:
        adj.setdefault(v, set())
    order: list[str] = []

    def weight(v: str) -> float:
        return math.prod(cardinality[u] for u in adj[v]) * cardinality[v]

    def fill(v: str) -> int:
        nb = list(adj[v])
        return sum(1 for i, a in enumerate(nb) for b in nb[i + 1:] if b not in adj[a])

    score = {"min_fill": fill, "min_weight": weight, "min_neighbors": lambda v: len(adj[v])}[heuristic]
    while todo:
        v = min(todo, key=lambda u: (score(u), weight(u), u))
        nb = adj.pop(v)
        for a in nb:  # connect the neighbours (the fill-in edges), drop v
            adj[a].discard(v)
            adj[a].update(nb - {a})
        todo.remove(v)
        order.append(v)
    return tuple(order)


def elimination_cost(scopes: Iterable[Scope], cardinality: Mapping[str, int],
                     order: Sequence[str]) -> dict[str, int]:
    """Cost of eliminating ``order`` from factors with these scopes.

    Returns ``largest_factor`` (entries of the biggest intermediate product ψ = Π φ before
    Σ_v), ``multiplications`` (Σ over steps of |ψ|·(#factors − 1)) and ``additions``
    (Σ |ψ| − |τ|, the sums of Σ_v).
    """
    pool = [frozenset(s) for s in scopes]
    largest = mult = add = 0
    for v in order:
        used = [s for s in pool if v in s]
        pool = [s for s in pool if v not in s]
        psi = frozenset().union(*used) if used else frozenset({v})
        size = math.prod(cardinality[u] for u in psi)
        largest = max(largest, size)
        mult += size * max(len(used) - 1, 0)
        add += size - size // cardinality[v]
        pool.append(psi - {v})
    return {"largest_factor": largest, "multiplications": mult, "additions": add}


def elimination_order(bn: BayesianNetwork, variables: Iterable[str] = (),
                      evidence: Iterable[str] = (), heuristic: Heuristic = "min_fill",
                      ) -> tuple[str, ...]:
    """Order to eliminate every variable of ``bn`` that is neither queried nor observed."""
    keep = set(variables) | set(evidence)
    scopes = [tuple(u for u in (v, *bn.parents[v]) if u not in evidence) for v in bn.variables]
    todo = [v for v in bn.variables if v not in keep]
    return greedy_order(scopes, bn.cardinality, todo, heuristic)


# ----------------------------------------------------------------------------- variable elimination
def _structure(bn: BayesianNetwork) -> tuple:
    return tuple((v, bn.parents[v], bn.cardinality[v]) for v in bn.variables)


def _ancestors(parents: Mapping[str, Scope], nodes: Iterable[str]) -> set[str]:
    seen, stack = set(), list(nodes)
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            stack.extend(parents[v])
    return seen


@dataclass(frozen=True)
class _VEPlan:
    cpds: tuple[str, ...]                    # which CPDs take part (barren nodes pruned)
    reducers: tuple[tuple, ...]              # per CPD: positions of evidence vars in its scope
    steps: tuple[tuple[tuple[int, ...], str], ...]  # (operand ids, einsum subscripts)
    final: tuple[tuple[int, ...], str]
    order: tuple[str, ...]
    cost: dict = field(default_factory=dict)


@lru_cache(maxsize=4096)
def _ve_plan(structure: tuple, variables: Scope, evidence: tuple[str, ...],
             heuristic: str) -> _VEPlan:
    parents = {v: pa for v, pa, _ in structure}
    card = {v: c for v, _, c in structure}
    ev = set(evidence)
    # Barren nodes (no query or evidence below them) sum to one: drop them before eliminating.
    relevant = _ancestors(parents, (*variables, *evidence))
    cpds = tuple(v for v, _, _ in structure if v in relevant)
    # Evidence cuts the graph: a factor not connected to the query (once the observed
    # variables are reduced away) only contributes a constant, so it is dropped too.
    root = {v: v for v in cpds}

    def find(v: str) -> str:
        while root[v] != v:
            root[v] = root[root[v]]
            v = root[v]
        return v

    for v in cpds:  # the reduced factor links all of its unobserved variables
        free = [u for u in (v, *parents[v]) if u not in ev]
        for u in free[1:]:
            root[find(u)] = find(free[0])
    linked = {find(q) for q in variables}
    cpds = tuple(v for v in cpds
                 if all(u in ev for u in (v, *parents[v]))  # a constant: kept, p(e) = 0 shows
                 or any(find(u) in linked for u in (v, *parents[v]) if u not in ev))
    scopes: list[Scope] = []
    reducers = []
    for v in cpds:
        full = (v, *parents[v])
        reducers.append(tuple((i, u) for i, u in enumerate(full) if u in ev))
        scopes.append(tuple(u for u in full if u not in ev))
    hidden = [v for v in cpds if v not in ev and v not in variables]
    order = greedy_order(scopes, card, hidden, heuristic)  # type: ignore[arg-type]
    alive = dict(enumerate(scopes))
    steps = []
    for v in order:
        ids = tuple(i for i, s in alive.items() if v in s)
        out = tuple(dict.fromkeys(u for i in ids for u in alive[i] if u != v))
        spec = _subscripts([alive[i] for i in ids], out)
        for i in ids:
            del alive[i]
        alive[len(scopes) + len(steps)] = out
        steps.append((ids, spec))
    ids = tuple(alive)
    spec = _subscripts([alive[i] for i in ids], variables)
    cost = elimination_cost(scopes, card, order)
    return _VEPlan(cpds, tuple(reducers), tuple(steps), (ids, spec), order, cost)


def _reduce(values: np.ndarray, reducer: tuple, evidence: Mapping[str, int]) -> np.ndarray:
    if not reducer:
        return values
    index: list = [slice(None)] * values.ndim
    for i, u in reducer:
        index[i] = evidence[u]
    return values[tuple(index)]


def variable_elimination(bn: BayesianNetwork, variables: str | Sequence[str],
                         evidence: Mapping[str, int | str] | None = None, *,
                         heuristic: Heuristic = "min_fill") -> Factor:
    """Posterior p(variables | evidence) by variable elimination, a Factor over ``variables``.

    reduce evidence → elimination order (greedy ``heuristic``, cached per query shape) →
    for v in order: τ = Σ_v Π_{φ ∋ v} φ → normalise Π(remaining φ). Barren nodes and factors
    cut off from the query by the evidence are dropped first (they only scale the result), so
    evidence of probability zero raises ValueError only when it touches the query's part of
    the network; ``JunctionTree.log_partition`` gives log p(e) for all of it.
    """
    variables = (variables,) if isinstance(variables, str) else tuple(variables)
    ev = evidence_indices(bn, evidence)
    _check_heuristic(heuristic)
    unknown = [v for v in variables if v not in bn.cardinality]
    if unknown or not variables:
        raise ValueError(f"query variables must be a non-empty subset of the network: {unknown}")
    if set(variables) & set(ev):
        raise ValueError(f"variables {set(variables) & set(ev)} are both queried and observed")
    plan = _ve_plan(_structure(bn), variables, tuple(sorted(ev)), heuristic)
    tables = [_reduce(bn.cpds[v].values, r, ev) for v, r in zip(plan.cpds, plan.reducers)]
    for ids, spec in plan.steps:
        tables.append(_run([tables[i] for i in ids], spec))
    ids, spec = plan.final
    values = _run([tables[i] for i in ids], spec)
    total = values.sum()
    if not total > 0:
        raise ValueError(f"the evidence {evidence} has probability zero")
    return Factor(variables, tuple(bn.cardinality[v] for v in variables), values / total)


def ve_plan(bn: BayesianNetwork, variables: str | Sequence[str],
            evidence: Iterable[str] = (), heuristic: Heuristic = "min_fill") -> _VEPlan:
    """The cached plan (pruned CPDs, elimination order, cost) VE uses for this query shape."""
    variables = (variables,) if isinstance(variables, str) else tuple(variables)
    return _ve_plan(_structure(bn), variables, tuple(sorted(evidence)), heuristic)


def sum_product(factors: Sequence[Factor], keep: Sequence[str] = (),
                heuristic: Heuristic = "min_fill") -> Factor:
    """Σ_{all but keep} Π factors (unnormalised; with keep=() the partition function Z)."""
    scopes = [f.variables for f in factors]
    card = {v: c for f in factors for v, c in zip(f.variables, f.cardinality)}
    order = greedy_order(scopes, card, [v for v in card if v not in keep], heuristic)
    pool = [(f.variables, f.values) for f in factors]
    for v in order:
        used = [t for t in pool if v in t[0]]
        pool = [t for t in pool if v not in t[0]]
        out = tuple(dict.fromkeys(u for s, _ in used for u in s if u != v))
        pool.append((out, _einsum(used, out)))
    keep = tuple(keep)
    return Factor(keep, tuple(card[v] for v in keep), _einsum(pool, keep))


# ----------------------------------------------------------------------------- belief propagation
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
            plans[a, v] = (others, _subscripts([f.variables, *[(u,) for u in others]], (v,)))
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
            m = _run([factors[a].values, *[v2f[u, a] for u in others]], spec)
            s = m.sum()
            m = m / s if s > 0 else np.full(card[v], 1.0 / card[v])
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


# ----------------------------------------------------------------------------- junction tree
class JunctionTree:
    """Clique tree of a Bayesian network (or of any list of factors), calibrated by two passes.

    Build: moralise (each CPD's scope becomes a clique of the graph) → triangulate by a
    greedy elimination order → maximal cliques → maximum-weight spanning tree on separator
    sizes (running intersection property). Query: reduce the clique potentials by the
    evidence, pass messages leaves→root then root→leaves (2·(#cliques−1) einsums), and read
    each marginal from the smallest clique that holds the variable.
    """

    def __init__(self, model: BayesianNetwork | Sequence[Factor],
                 heuristic: Heuristic = "min_fill") -> None:
        factors = list(model.cpds.values()) if hasattr(model, "cpds") else list(model)
        self.states = getattr(model, "states", None)
        self.cardinality = {v: c for f in factors for v, c in zip(f.variables, f.cardinality)}
        self.variables = tuple(self.cardinality)
        scopes = [f.variables for f in factors]
        self.order = greedy_order(scopes, self.cardinality, self.variables, heuristic)
        self.cliques = self._cliques(scopes, self.order)
        self.edges = self._spanning_tree(self.cliques)
        # assign every factor to the smallest clique that contains its scope; ψ_C = Π assigned
        potentials = [(c, np.ones([self.cardinality[v] for v in c])) for c in self.cliques]
        for f in factors:
            k = min((i for i, c in enumerate(self.cliques) if set(f.variables) <= set(c)),
                    key=lambda i: len(self.cliques[i]))
            c = self.cliques[k]
            potentials[k] = (c, _einsum([potentials[k], (f.variables, f.values)], c))
        self.potentials = tuple(p for _, p in potentials)
        self._schedule = self._make_schedule()
        self.home = {v: min((i for i, c in enumerate(self.cliques) if v in c),
                            key=lambda i: self.potentials[i].size) for v in self.variables}
        self._compiled: dict[tuple[str, ...], tuple] = {}

    @property
    def treewidth(self) -> int:
        """Largest clique size minus one (for this triangulation)."""
        return max(len(c) for c in self.cliques) - 1

    @staticmethod
    def _cliques(scopes: Sequence[Scope], order: Sequence[str]) -> tuple[Scope, ...]:
        adj: dict[str, set[str]] = {}
        for s in scopes:  # moral graph: parents of a common child are married by the CPD scope
            for v in s:
                adj.setdefault(v, set()).update(u for u in s if u != v)
        found: list[frozenset] = []
        for v in order:  # elimination = triangulation; {v} ∪ nbrs(v) is a clique
            nb = adj.pop(v)
            c = frozenset(nb | {v})
            if not any(c <= d for d in found):
                found.append(c)
            for a in nb:
                adj[a].discard(v)
                adj[a].update(nb - {a})
        rank = {v: i for i, v in enumerate(order)}
        return tuple(tuple(sorted(c, key=rank.__getitem__)) for c in found)

    @staticmethod
    def _spanning_tree(cliques: Sequence[Scope]) -> tuple[tuple[int, int], ...]:
        n = len(cliques)
        cand = sorted(((len(set(cliques[i]) & set(cliques[j])), i, j)
                       for i in range(n) for j in range(i + 1, n)), reverse=True)
        root = list(range(n))

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        edges = []
        for _, i, j in cand:  # Kruskal, heaviest separators first
            a, b = find(i), find(j)
            if a != b:
                root[a] = b
                edges.append((i, j))
        return tuple(edges)

    def _make_schedule(self) -> tuple[tuple[int, ...], dict[int, int], dict[int, list[int]]]:
        nbrs: dict[int, list[int]] = {i: [] for i in range(len(self.cliques))}
        for i, j in self.edges:
            nbrs[i].append(j)
            nbrs[j].append(i)
        seen, bfs, parent = {0}, [0], {0: -1}
        for i in bfs:
            for j in nbrs[i]:
                if j not in seen:
                    seen.add(j)
                    parent[j] = i
                    bfs.append(j)
        children = {i: [j for j in nbrs[i] if parent.get(j) == i] for i in bfs}
        return tuple(bfs), parent, children

    def _compile(self, observed: tuple[str, ...]) -> tuple:
        """Einsum subscripts of the two passes for this set of observed variables."""
        obs = set(observed)
        scope = [tuple(v for v in c if v not in obs) for c in self.cliques]
        reducers = [tuple((i, v) for i, v in enumerate(c) if v in obs) for c in self.cliques]
        bfs, parent, children = self._schedule

        def sep(i: int, j: int) -> Scope:  # one ordering for both directions of an edge
            a, b = min(i, j), max(i, j)
            return tuple(v for v in scope[a] if v in scope[b])

        # upward: partial_i = ψ_i Π_{children c} δ_{c→i};  δ_{i→parent} = Σ_{C_i \ S} partial_i
        up = []
        for i in reversed(bfs):
            ch = children[i]
            partial = _subscripts([scope[i], *[sep(c, i) for c in ch]], scope[i])
            msg = _subscripts([scope[i]], sep(i, parent[i])) if parent[i] >= 0 else None
            up.append((i, ch, partial, msg))
        # downward (Hugin): β_j = partial_j · δ_{i→j},  δ_{i→j} = Σ_{C_i \ S} β_i / δ_{j→i}
        down = []
        for j in bfs[1:]:
            i = parent[j]
            msg = _subscripts([scope[i], sep(i, j)], sep(i, j))
            belief = _subscripts([scope[j], sep(i, j)], scope[j])
            down.append((i, j, msg, belief))
        readout = {}
        for v in self.variables:
            if v not in obs:
                i = self.home[v]
                readout[v] = (i, tuple(a for a, u in enumerate(scope[i]) if u != v))
        return reducers, up, down, readout

    def _evidence(self, evidence: Mapping[str, int | str] | None) -> dict[str, int]:
        return evidence_indices(self, evidence)

    def calibrate(self, evidence: Mapping[str, int | str] | None = None,
                  ) -> tuple[list[np.ndarray], float, dict]:
        """Clique beliefs β_i ∝ p(C_i, e) (evidence variables reduced away) and log Z(e)."""
        ev = self._evidence(evidence)
        key = tuple(sorted(ev))
        if key not in self._compiled:
            self._compiled[key] = self._compile(key)
        reducers, up, down, readout = self._compiled[key]
        psi = [_reduce(p, r, ev) for p, r in zip(self.potentials, reducers)]
        partial: list = [None] * len(psi)
        to_parent: dict[int, np.ndarray] = {}
        log_z = 0.0
        for i, ch, pspec, msg in up:
            partial[i] = _run([psi[i], *[to_parent[c] for c in ch]], pspec) if ch else psi[i]
            m = partial[i].sum() if msg is None else _run([partial[i]], msg)
            s = float(m.sum())
            if not s > 0:
                raise ValueError(f"the evidence {evidence} has probability zero")
            log_z += math.log(s)
            if msg is not None:
                to_parent[i] = m / s
        belief = partial
        for i, j, mspec, bspec in down:
            inv = np.divide(1.0, to_parent[j], out=np.zeros_like(to_parent[j]),
                            where=to_parent[j] > 0)
            m = _run([belief[i], inv], mspec)
            belief[j] = _run([partial[j], m / m.sum()], bspec)
        return belief, log_z, {"readout": readout, "evidence": ev}

    def log_partition(self, evidence: Mapping[str, int | str] | None = None) -> float:
        """log Z(e) = log Σ_x Π φ(x, e); for a Bayesian network, log p(e)."""
        return self.calibrate(evidence)[1]

    def marginals(self, evidence: Mapping[str, int | str] | None = None) -> dict[str, Factor]:
        """p(x_v | evidence) for every variable v (observed ones one-hot), one calibration."""
        belief, _, info = self.calibrate(evidence)
        ev, readout = info["evidence"], info["readout"]
        out: dict[str, Factor] = {}
        for v in self.variables:
            card = self.cardinality[v]
            if v in ev:
                b = np.zeros(card)
                b[ev[v]] = 1.0
            else:
                i, axes = readout[v]
                b = belief[i].sum(axis=axes) if axes else belief[i]
                b = b / b.sum()
            out[v] = Factor((v,), (card,), b)
        return out


def renormalized(bn: BayesianNetwork) -> BayesianNetwork:
    """The same network with every CPD column rescaled to sum to exactly 1.

    Bundled networks are rounded (alarm's columns sum to 1 ± 1e-7): then p(e) computed with
    and without pruning barren nodes (Σ_x p(x | pa) = 1, which pgmpy's and our VE assume)
    differs at that level. Cross-checks to 1e-9 compare renormalised networks.
    """
    cpds = {v: Factor(f.variables, f.cardinality, f.values / f.values.sum(axis=0, keepdims=True))
            for v, f in bn.cpds.items()}
    return BayesianNetwork(bn.parents, cpds, bn.states)
