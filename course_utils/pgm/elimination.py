"""Variable elimination (lecture: 精确推断 → 变量消去法): cached einsum plans for a network's
queries, and sum-product over a list of factors (orders: :mod:`~course_utils.pgm.ordering`).

The hot loops work on plain ``(variables, ndarray)`` tables and do each product-and-sum-out in
one ``np.einsum`` call. A query's plan (pruning, elimination order, einsum subscripts) depends
only on the network's structure and on which variables are queried and observed: it is built
once per query shape and cached (what the network alone determines, once per network). Building
it is what a query seen for the first time pays, so it is kept cheap: the greedy order updates
its scores instead of recomputing them, and the einsum steps follow from the elimination itself
(bucket elimination).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from course_utils.pgm.factor import Factor
from course_utils.pgm.network import BayesianNetwork
from course_utils.pgm.ordering import (
    Heuristic,
    check_heuristic,
    elimination_cost,
    greedy_elimination,
    greedy_order,
)
from course_utils.pgm.queries import as_names, check_query, check_variables, evidence_indices
from course_utils.pgm.tables import LETTERS, Scope, einsum_tables, reduce_table, subscripts


# ----------------------------------------------------------------------------- variable elimination
def _structure(bn: BayesianNetwork) -> tuple:
    return bn.structure_key


@dataclass(frozen=True)
class _Network:
    """What every plan of one network reads: families, cardinalities, ancestors, who mentions whom."""

    variables: tuple[str, ...]
    family: dict[str, Scope]             # v → (v, *parents): the scope of p(v | parents)
    card: dict[str, int]
    ancestors: dict[str, frozenset]      # v → v and all its ancestors
    mentioned_by: dict[str, tuple[str, ...]]  # u → the CPDs whose scope holds u (its own, its children's)
    letter: dict[str, str] | None        # one einsum letter per variable (None: more than 52 variables)
    code: dict[str, str] | None          # v → its family's einsum subscript ("abc" for (v, *parents))


@lru_cache(maxsize=64)
def _network(structure: tuple) -> _Network:
    family = {v: (v, *pa) for v, pa, _ in structure}
    ancestors: dict[str, frozenset] = {}
    for v, pa, _ in structure:  # topological order: parents first
        ancestors[v] = frozenset({v}).union(*(ancestors[p] for p in pa))
    mentioned_by = {v: tuple(c for c in family if v in family[c]) for v in family}
    letter = dict(zip(family, LETTERS)) if len(family) <= len(LETTERS) else None
    code = {v: "".join(map(letter.__getitem__, f)) for v, f in family.items()} if letter else None
    return _Network(tuple(family), family, {v: c for v, _, c in structure}, ancestors, mentioned_by,
                    letter, code)


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
    reducers, scopes = [], []
    for v in cpds:
        family = net.family[v]
        if ev.isdisjoint(family):
            reducers.append(())
            scopes.append(family)
        else:  # fix the observed axes: their positions, and the scope that is left
            reducers.append(tuple((i, u) for i, u in enumerate(family) if u in ev))
            scopes.append(tuple(u for u in family if u not in ev))
    hidden = [v for v in cpds if v not in ev and v not in variables]
    eliminated = greedy_elimination(scopes, net.card, hidden, heuristic)  # type: ignore[arg-type]
    if net.letter:  # the network's letters; a CPD untouched by the evidence has its subscript ready
        letter = net.letter.__getitem__
        codes = [net.code[v] if not r else "".join(map(letter, s)) for v, r, s in zip(cpds, reducers, scopes)]
        steps, final = _bucket_steps(scopes, eliminated, variables, letter, codes)
    else:
        steps, final = _bucket_steps(scopes, eliminated, variables)
    order = tuple(v for v, _ in eliminated)
    return _VEPlan(cpds, tuple(reducers), steps, final, order, tuple(scopes), net.card)


def _bucket_steps(scopes: Sequence[Scope], eliminated: Sequence[tuple[str, set[str]]], variables: Scope,
                  letter: Callable[[str], str] | None = None, codes: Sequence[str] = ()) -> tuple[tuple, tuple]:
    """The einsum steps of an elimination: (operand ids, subscripts) per step, then the final product.

    Bucket elimination: a table goes to the bucket of its first variable in the order (the step
    that consumes it); step k multiplies bucket k and sums out v_k, τ = Σ_v Π_{φ ∋ v} φ, over
    v_k's neighbours when it is eliminated (``eliminated`` pairs each v_k with them), and τ
    (table id len(scopes) + k) goes to its own first bucket. Tables with no variable left to
    eliminate make the final product over ``variables``. With ``letter`` (each variable's einsum
    letter) and the scopes' subscripts ``codes``, subscripts are joined; else built per step.
    """
    n = len(eliminated)
    rank = dict.fromkeys(variables, n)  # the final product is bucket n
    rank.update((v, k) for k, (v, _) in enumerate(eliminated))
    first = rank.__getitem__
    buckets: list[list[int]] = [[] for _ in range(n + 1)]
    table = list(scopes)
    for i, scope in enumerate(table):
        buckets[min(map(first, scope), default=n)].append(i)
    code = list(codes)
    steps = []
    for k, (_, nb) in enumerate(eliminated):
        ids = tuple(buckets[k])
        tau = tuple(sorted(nb, key=first))  # in elimination order: its first variable is its bucket
        buckets[first(tau[0]) if tau else n].append(len(table))
        table.append(tau)
        if letter:
            code.append("".join(map(letter, tau)))
            steps.append((ids, ",".join([code[i] for i in ids]) + "->" + code[-1]))
        else:
            steps.append((ids, subscripts([table[i] for i in ids], tau)))
    final = tuple(buckets[n])
    spec = (",".join([code[i] for i in final]) + "->" + "".join(map(letter, variables)) if letter
            else subscripts([table[i] for i in final], variables))
    return tuple(steps), (final, spec)


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
    variables = as_names(variables)
    ev = evidence_indices(bn, evidence)
    check_heuristic(heuristic)
    check_query(bn, variables, ev)
    plan = _ve_plan(_structure(bn), variables, tuple(sorted(ev)), heuristic)
    cpds = bn.cpds
    tables = [reduce_table(cpds[v].values, r, ev) for v, r in zip(plan.cpds, plan.reducers)]
    for ids, spec in plan.steps:
        tables.append(np.einsum(spec, *[tables[i] for i in ids]))
    ids, spec = plan.final
    values = np.einsum(spec, *[tables[i] for i in ids])
    total = values.sum()
    if not total > 0:
        raise ValueError(f"the evidence {evidence} has probability zero")
    return Factor._wrap(variables, tuple(bn.card[v] for v in variables), values / total)


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
    variables, evidence = as_names(variables), as_names(evidence)
    check_heuristic(heuristic)
    check_variables(evidence, bn.card, "evidence")
    check_query(bn, variables, evidence)
    return _ve_plan(_structure(bn), variables, tuple(sorted(evidence)), heuristic)


def sum_product(factors: Sequence[Factor], keep: str | Sequence[str] = (),
                heuristic: Heuristic = "min_fill") -> Factor:
    """Σ_{all but keep} Π factors (unnormalised; with keep=() the partition function Z).

    ``keep`` is one variable name or a list of distinct variables of the factors.
    """
    keep = as_names(keep)
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
