"""Variable elimination (lecture: 精确推断 → 变量消去法): evidence, elimination orders and costs,
cached einsum plans, and sum-product over a list of factors.

The hot loops work on plain ``(variables, ndarray)`` tables and do each product-and-sum-out in
one ``np.einsum`` call. What depends only on the structure of a network (the elimination order,
the einsum subscripts) is computed once and cached.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from course_utils.pgm.factor import Factor
from course_utils.pgm.network import BayesianNetwork

if TYPE_CHECKING:
    from course_utils.pgm.junction_tree import JunctionTree
from course_utils.pgm.tables import Scope, einsum_tables, reduce_table, run_einsum, subscripts

Heuristic = Literal["min_fill", "min_weight", "min_neighbors"]
HEURISTICS: tuple[str, ...] = get_args(Heuristic)


def _check_heuristic(heuristic: str) -> None:
    if heuristic not in HEURISTICS:
        raise ValueError(f"unknown heuristic {heuristic!r}: valid values are {', '.join(HEURISTICS)}")


def evidence_indices(bn: BayesianNetwork | JunctionTree, evidence: Mapping[str, int | str] | None) -> dict[str, int]:
    """Evidence as state indices: ``{"smoke": "yes"}`` → ``{"smoke": 0}`` (ints pass through).

    A state is a state name or an integer index, nothing else: ``True`` or ``1.7`` would pass
    ``int(s)`` and silently mean another state (as in ``Factor.reduce``, a TypeError).
    ``bn`` is anything with ``card`` and ``states`` (None when it has no state names).
    """
    out: dict[str, int] = {}
    for v, s in (evidence or {}).items():
        if v not in bn.card:
            raise ValueError(f"unknown evidence variable {v!r}: valid variables are {', '.join(bn.card)}")
        names = bn.states[v] if bn.states else None
        valid = (f"one of {', '.join(map(repr, names))} or an index 0..{bn.card[v] - 1}" if names
                 else f"an index 0..{bn.card[v] - 1}")
        if isinstance(s, str):
            if names is None or s not in names:
                has = f"states {', '.join(map(repr, names))}" if names else "no state names"
                raise ValueError(f"{v!r} has {has}, not {s!r}: give {valid}")
            s = names.index(s)
        elif isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"evidence for {v!r} must be a state name or an integer index ({valid}), "
                            f"got {s!r} of type {type(s).__name__}")
        if not 0 <= s < bn.card[v]:
            raise ValueError(f"state index {s} out of range for {v!r} ({bn.card[v]} states): give {valid}")
        out[v] = int(s)
    return out


def _names(variables: str | Iterable[str]) -> tuple[str, ...]:
    """A variable name or a collection of names as a tuple (a string is one name, not its letters)."""
    return (variables,) if isinstance(variables, str) else tuple(variables)


def check_variables(names: Sequence[str], known: Iterable[str], what: str) -> None:
    """ValueError for names that are repeated or not among ``known`` (listing the valid ones)."""
    known = list(known)
    have = set(known)
    unknown = [v for v in names if v not in have]
    if unknown:
        raise ValueError(f"{what}: unknown variable(s) {unknown}; valid variables are {', '.join(known)}")
    repeated = sorted({v for v in names if names.count(v) > 1})
    if repeated:
        raise ValueError(f"{what}: repeated variable(s) {repeated}; name each variable once")


def check_query(bn: BayesianNetwork, variables: Sequence[str], observed: Iterable[str]) -> None:
    """A query is a non-empty list of distinct variables of ``bn``, none of them observed."""
    if not variables:
        raise ValueError(f"the query needs a non-empty list of variables; valid variables are {', '.join(bn.card)}")
    check_variables(variables, bn.card, "query")
    both = [v for v in variables if v in set(observed)]
    if both:
        raise ValueError(f"variables {both} are both queried and observed: drop them from the query "
                         "(an observed variable's posterior is its observed state)")


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
    return greedy_order(scopes, bn.card, todo, heuristic)


# ----------------------------------------------------------------------------- variable elimination
def _structure(bn: BayesianNetwork) -> tuple:
    return tuple((v, bn.parents[v], bn.card[v]) for v in bn.variables)


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
        spec = subscripts([alive[i] for i in ids], out)
        for i in ids:
            del alive[i]
        alive[len(scopes) + len(steps)] = out
        steps.append((ids, spec))
    ids = tuple(alive)
    spec = subscripts([alive[i] for i in ids], variables)
    cost = elimination_cost(scopes, card, order)
    return _VEPlan(cpds, tuple(reducers), tuple(steps), (ids, spec), order, cost)


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
    variables = _names(variables)
    ev = evidence_indices(bn, evidence)
    _check_heuristic(heuristic)
    check_query(bn, variables, ev)
    plan = _ve_plan(_structure(bn), variables, tuple(sorted(ev)), heuristic)
    tables = [reduce_table(bn.cpds[v].values, r, ev) for v, r in zip(plan.cpds, plan.reducers)]
    for ids, spec in plan.steps:
        tables.append(run_einsum([tables[i] for i in ids], spec))
    ids, spec = plan.final
    values = run_einsum([tables[i] for i in ids], spec)
    total = values.sum()
    if not total > 0:
        raise ValueError(f"the evidence {evidence} has probability zero")
    return Factor(variables, tuple(bn.card[v] for v in variables), values / total)


def clear_plan_cache() -> None:
    """Forget every cached elimination plan (benchmarks use it to time first-seen queries)."""
    _ve_plan.cache_clear()


def ve_plan(bn: BayesianNetwork, variables: str | Sequence[str],
            evidence: Iterable[str] = (), heuristic: Heuristic = "min_fill") -> _VEPlan:
    """The cached plan (pruned CPDs, elimination order, cost) VE uses for this query shape."""
    variables, evidence = _names(variables), _names(evidence)
    _check_heuristic(heuristic)
    check_variables(evidence, bn.card, "evidence")
    check_query(bn, variables, evidence)
    return _ve_plan(_structure(bn), variables, tuple(sorted(evidence)), heuristic)


def sum_product(factors: Sequence[Factor], keep: str | Sequence[str] = (),
                heuristic: Heuristic = "min_fill") -> Factor:
    """Σ_{all but keep} Π factors (unnormalised; with keep=() the partition function Z).

    ``keep`` is one variable name or a list of distinct variables of the factors.
    """
    keep = _names(keep)
    scopes = [f.variables for f in factors]
    card = {v: c for f in factors for v, c in zip(f.variables, f.cardinality)}
    check_variables(keep, card, "sum_product keep")
    order = greedy_order(scopes, card, [v for v in card if v not in keep], heuristic)
    pool = [(f.variables, f.values) for f in factors]
    for v in order:
        used = [t for t in pool if v in t[0]]
        pool = [t for t in pool if v not in t[0]]
        out = tuple(dict.fromkeys(u for s, _ in used for u in s if u != v))
        pool.append((out, einsum_tables(used, out)))
    return Factor(keep, tuple(card[v] for v in keep), einsum_tables(pool, keep))




def renormalized(bn: BayesianNetwork) -> BayesianNetwork:
    """The same network with every CPD column rescaled to sum to exactly 1.

    Bundled networks are rounded (alarm's columns sum to 1 ± 1e-7): then p(e) computed with
    and without pruning barren nodes (Σ_x p(x | pa) = 1, which pgmpy's and our VE assume)
    differs at that level. Cross-checks to 1e-9 compare renormalised networks.
    """
    cpds = {v: Factor(f.variables, f.cardinality, f.values / f.values.sum(axis=0, keepdims=True))
            for v, f in bn.cpds.items()}
    return BayesianNetwork(bn.parents, cpds, bn.states)
