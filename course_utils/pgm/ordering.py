"""Elimination orders (lecture: 变量消去法): greedy heuristics on the interaction graph, and their cost.

Shared by variable elimination (the order of the sums) and the junction tree (the cliques of the
triangulated graph are the variables' neighbourhoods when they are eliminated).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import Literal, get_args

from course_utils.pgm.network import BayesianNetwork
from course_utils.pgm.tables import Scope

Heuristic = Literal["min_fill", "min_weight", "min_neighbors"]
HEURISTICS: tuple[str, ...] = get_args(Heuristic)


def check_heuristic(heuristic: str) -> None:
    """ValueError for a heuristic that is not one of ``HEURISTICS`` (listing the valid ones)."""
    if heuristic not in HEURISTICS:
        raise ValueError(f"unknown heuristic {heuristic!r}: valid values are {', '.join(HEURISTICS)}")


def greedy_order(scopes: Iterable[Scope], cardinality: Mapping[str, int],
                 eliminate: Iterable[str], heuristic: Heuristic = "min_fill") -> tuple[str, ...]:
    """Greedy elimination order on the interaction graph of ``scopes``.

    min_fill: fewest edges added; min_weight: smallest Π card(neighbours ∪ v);
    min_neighbors: fewest neighbours. Ties go to the smaller weight, then to the name.
    """
    return tuple(v for v, _ in greedy_elimination(scopes, cardinality, eliminate, heuristic))


def greedy_elimination(scopes: Iterable[Scope], cardinality: Mapping[str, int], eliminate: Iterable[str],
                       heuristic: Heuristic = "min_fill") -> list[tuple[str, set[str]]]:
    """``greedy_order``, each variable with its neighbours when it is eliminated.

    Those neighbours are the scope of τ_v = Σ_v Π_{φ ∋ v} φ, and with v a clique of the
    triangulated graph (the junction tree's cliques). Scores are updated, not recomputed.
    Eliminating v changes the neighbourhoods of v's neighbours only: those at the end of a
    fill-in edge are rescored, the others just lose v (and for min_fill the pairs (v, x) with x
    not next to v); and each fill-in edge (a, b) saves one pair to fill to every other vertex
    next to both a and b.
    """
    check_heuristic(heuristic)
    adj: dict[str, set[str]] = {}  # the interaction graph: variables that share a scope
    for scope in scopes:
        for v in scope:
            if v in adj:
                adj[v].update(scope)
            else:
                adj[v] = set(scope)
    for v, nb in adj.items():
        nb.discard(v)
    eliminate = list(eliminate)
    for v in eliminate:
        adj.setdefault(v, set())
    card = cardinality.__getitem__
    min_fill = heuristic == "min_fill"

    def score(v: str) -> list:  # [heuristic's score, weight, name]: compared in this order
        nb = adj[v]
        weight = math.prod(map(card, nb)) * cardinality[v]
        if min_fill:  # pairs of neighbours that are not adjacent: Σ_a |nb − adj(a) − {a}| / 2
            return [(sum([len(nb - adj[a]) for a in nb]) - len(nb)) // 2, weight, v]
        return [weight if heuristic == "min_weight" else len(nb), weight, v]

    scores = {v: score(v) for v in eliminate}
    order: list[tuple[str, set[str]]] = []
    while scores:
        v = min(scores, key=scores.__getitem__)
        fill = scores.pop(v)[0]
        nb = adj.pop(v)
        order.append((v, nb))  # nb is not changed below: the other vertices' sets are
        if min_fill and fill == 0:
            # v is simplicial (its neighbours are a clique): a neighbour u loses v, and with it the
            # pairs (v, x) for its neighbours x outside the clique: |adj(u)| − (|nb| − 1) of them
            clique, card_v = len(nb) - 1, cardinality[v]
            for u in nb:
                adj_u = adj[u]
                adj_u.discard(v)
                if u in scores:
                    score_u = scores[u]
                    score_u[0] -= len(adj_u) - clique
                    score_u[1] //= card_v
            continue
        added = [(a, b) for a in nb for b in nb - adj[a] if a < b] if min_fill else []
        ends = set(chain.from_iterable(added))  # the neighbours that gain neighbours
        for a in nb:  # connect the neighbours (the fill-in edges), drop v
            adj[a] |= nb
            adj[a].discard(a)
            adj[a].discard(v)
        for u in nb:
            if u not in scores:
                continue
            if min_fill and u not in ends:  # as for a simplicial v: u only lost v
                scores[u][0] -= len(adj[u]) - len(nb) + 1
                scores[u][1] //= cardinality[v]
            else:  # a new neighbourhood: rescore
                scores[u] = score(u)
        for a, b in added:  # a fill-in edge (a, b): one pair less to fill for vertices next to both
            for u in adj[a] & adj[b]:
                if u not in ends and u in scores:
                    scores[u][0] -= 1
    return order


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
