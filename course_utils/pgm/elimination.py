"""Variable elimination (lecture: 精确推断 → 变量消去法): evidence, elimination orders and costs,
cached einsum plans, and sum-product over a list of factors.

The hot loops work on plain ``(variables, ndarray)`` tables and do each product-and-sum-out in
one ``np.einsum`` call. What depends only on the structure of a network (the elimination order,
the einsum subscripts) is computed once and cached.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import chain
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from course_utils.pgm.factor import Factor
from course_utils.pgm.network import BayesianNetwork

if TYPE_CHECKING:
    from course_utils.pgm.junction_tree import JunctionTree
from course_utils.pgm.tables import LETTERS, Scope, einsum_tables, reduce_table, run_einsum, subscripts

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
    Scores are updated, not recomputed: eliminating v changes the neighbourhood of v's
    neighbours only, and for min_fill each fill-in edge (a, b) saves one edge to the vertices
    next to both a and b.
    """
    _check_heuristic(heuristic)
    adj: dict[str, set[str]] = {}
    for scope in scopes:
        for v in scope:
            adj.setdefault(v, set()).update(scope)
    for v, nb in adj.items():
        nb.discard(v)
    todo = set(eliminate)
    for v in todo:
        adj.setdefault(v, set())

    def weight(v: str) -> int:
        return math.prod(map(cardinality.__getitem__, adj[v])) * cardinality[v]

    def fill(v: str) -> int:  # pairs of neighbours that are not adjacent: Σ_a |nb − adj(a) − {a}| / 2
        nb = adj[v]
        return (sum([len(nb - adj[a]) for a in nb]) - len(nb)) // 2

    primary = {"min_fill": fill, "min_weight": weight, "min_neighbors": lambda v: len(adj[v])}[heuristic]
    scores = {v: [primary(v), weight(v), v] for v in todo}  # compared as (score, weight, name)
    order: list[str] = []
    while scores:
        v = min(scores, key=scores.__getitem__)
        del scores[v]
        order.append(v)
        nb = adj.pop(v)
        added = [(a, b) for a in nb for b in nb - adj[a] if a < b] if heuristic == "min_fill" else ()
        for a in nb:  # connect the neighbours (the fill-in edges), drop v
            adj[a] |= nb
            adj[a].discard(a)
            adj[a].discard(v)
        for u in nb:  # their neighbourhood changed: rescore
            if u in scores:
                scores[u] = [primary(u), weight(u), u]
        for a, b in added:  # any other vertex next to both ends of a fill-in edge: one pair less to fill
            for u in adj[a] & adj[b]:
                if u in scores and u not in nb:
                    scores[u][0] -= 1
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


@dataclass(frozen=True)
class _Network:
    """What every plan of one network reads: families, cardinalities, ancestors, who mentions whom."""

    variables: tuple[str, ...]
    family: dict[str, Scope]             # v → (v, *parents): the scope of p(v | parents)
    card: dict[str, int]
    ancestors: dict[str, frozenset]      # v → v and all its ancestors
    mentioned_by: dict[str, tuple[str, ...]]  # u → the CPDs whose scope holds u (its own, its children's)


@lru_cache(maxsize=64)
def _network(structure: tuple) -> _Network:
    family = {v: (v, *pa) for v, pa, _ in structure}
    ancestors: dict[str, frozenset] = {}
    for v, pa, _ in structure:  # topological order: parents first
        ancestors[v] = frozenset({v}).union(*(ancestors[p] for p in pa))
    mentioned_by = {v: tuple(c for c in family if v in family[c]) for v in family}
    return _Network(tuple(family), family, {v: c for v, _, c in structure}, ancestors, mentioned_by)


@dataclass(frozen=True)
class _VEPlan:
    cpds: tuple[str, ...]                    # which CPDs take part (barren nodes pruned)
    reducers: tuple[tuple, ...]              # per CPD: positions of evidence vars in its scope
    steps: tuple[tuple[tuple[int, ...], str], ...]  # (operand ids, einsum subscripts)
    final: tuple[tuple[int, ...], str]
    order: tuple[str, ...]
    scopes: tuple[Scope, ...]                # the CPDs' scopes once the evidence is reduced away
    card: Mapping[str, int]

    @cached_property
    def cost(self) -> dict[str, int]:
        """``elimination_cost`` of this order (computed when asked for, not for every query)."""
        return elimination_cost(self.scopes, self.card, self.order)


@lru_cache(maxsize=4096)
def _ve_plan(structure: tuple, variables: Scope, evidence: tuple[str, ...],
             heuristic: str) -> _VEPlan:
    net = _network(structure)
    ev = set(evidence)
    # Barren nodes (no query or evidence below them) sum to one: keep the ancestors only.
    relevant = frozenset().union(*(net.ancestors[v] for v in (*variables, *evidence)))
    # Evidence cuts the graph: a factor not connected to the query (once the observed variables
    # are reduced away) only contributes a constant, so it is dropped too. Search from the query
    # through the factors that mention a reached unobserved variable.
    reached, stack, linked = set(variables), list(variables), set()
    while stack:
        for c in net.mentioned_by[stack.pop()]:
            if c in relevant and c not in linked:
                linked.add(c)
                for u in net.family[c]:
                    if u not in ev and u not in reached:
                        reached.add(u)
                        stack.append(u)
    # a factor over observed variables only is a constant: kept, so that p(e) = 0 shows
    cpds = tuple(v for v in net.variables if v in linked
                 or (v in relevant and ev.issuperset(net.family[v])))
    reducers = tuple(tuple((i, u) for i, u in enumerate(net.family[v]) if u in ev) for v in cpds)
    scopes = tuple(tuple(u for u in net.family[v] if u not in ev) for v in cpds)
    hidden = [v for v in cpds if v not in ev and v not in variables]
    order = greedy_order(scopes, net.card, hidden, heuristic)  # type: ignore[arg-type]
    steps, final = _bucket_steps(scopes, order, variables)
    return _VEPlan(cpds, reducers, steps, final, order, scopes, net.card)


def _bucket_steps(scopes: Sequence[Scope], order: Sequence[str], variables: Scope) -> tuple[tuple, tuple]:
    """The einsum steps of eliminating ``order``: (operand ids, subscripts) per step, then the final one.

    Bucket elimination: a table goes to the bucket of its first variable in ``order`` (the step
    that consumes it); step k multiplies bucket k and sums out order[k], τ = Σ_v Π_{φ ∋ v} φ, and
    τ (table id len(scopes) + k) goes to its own first bucket. Tables with no variable left to
    eliminate make the final product over ``variables``.
    """
    rank = {v: k for k, v in enumerate(order)}
    buckets: list[list[int]] = [[] for _ in order]
    final: list[int] = []
    table = list(scopes)

    def place(i: int) -> None:
        first = min([rank[u] for u in table[i] if u in rank], default=None)
        (final if first is None else buckets[first]).append(i)

    for i in range(len(table)):
        place(i)
    code = _letters(table, variables)
    steps = []
    for k, v in enumerate(order):
        ids = tuple(buckets[k])
        names = dict.fromkeys(chain.from_iterable(table[i] for i in ids))
        names.pop(v, None)
        table.append(tuple(names))
        place(len(table) - 1)
        steps.append((ids, code([table[i] for i in ids], table[-1])))
    return tuple(steps), (tuple(final), code([table[i] for i in final], variables))


def _letters(scopes: Sequence[Scope], variables: Scope):
    """subscripts(), with one letter per variable for the whole plan when it has at most 52."""
    names = dict.fromkeys(chain(*scopes, variables))
    if len(names) > len(LETTERS):
        return subscripts  # letters assigned per einsum call instead
    letter = dict(zip(names, LETTERS)).__getitem__

    def code(operands: Sequence[Scope], out: Scope) -> str:
        return ",".join(["".join(map(letter, s)) for s in operands]) + "->" + "".join(map(letter, out))

    return code


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


def clear_plan_cache(*, networks: bool = False) -> None:
    """Forget every cached elimination plan (benchmarks use it to time first-seen queries).

    ``networks=True`` also forgets what was read once per network (families, ancestors).
    """
    _ve_plan.cache_clear()
    if networks:
        _network.cache_clear()


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
