"""The fast paths of exact inference against slow, obvious versions (issue 10: first-seen queries)."""

import itertools
import math
import random
import warnings

import numpy as np
import pytest

from course_utils.pgm import (
    HEURISTICS,
    JunctionTree,
    clear_plan_cache,
    example_network,
    greedy_order,
    renormalized,
    variable_elimination,
    ve_plan,
)


def reference_greedy_order(scopes, card, eliminate, heuristic):
    """Every score recomputed from the graph at every step: the definition, without updates."""
    adj = {}
    for scope in scopes:
        for v in scope:
            adj.setdefault(v, set()).update(u for u in scope if u != v)
    todo = set(eliminate)
    for v in todo:
        adj.setdefault(v, set())
    order = []

    def weight(v):
        return math.prod(card[u] for u in adj[v]) * card[v]

    def fill(v):
        return sum(1 for a, b in itertools.combinations(sorted(adj[v]), 2) if b not in adj[a])

    score = {"min_fill": fill, "min_weight": weight, "min_neighbors": lambda v: len(adj[v])}[heuristic]
    while todo:
        v = min(todo, key=lambda u: (score(u), weight(u), u))
        nb = adj.pop(v)
        for a in nb:
            adj[a].discard(v)
            adj[a].update(nb - {a})
        todo.remove(v)
        order.append(v)
    return tuple(order)


def test_incremental_scores_give_the_reference_order():
    """Random graphs with much fill-in (where the score updates matter) and the bundled networks."""
    rng = random.Random(0)
    for _ in range(400):
        n = rng.randint(2, 18)
        names = [f"v{i}" for i in range(n)]
        card = {v: rng.randint(1, 4) for v in names}
        scopes = [tuple(rng.sample(names, k=rng.randint(1, min(4, n)))) for _ in range(rng.randint(1, 20))]
        eliminate = rng.sample(names, k=rng.randint(0, n))
        for h in HEURISTICS:
            assert greedy_order(scopes, card, eliminate, h) == reference_greedy_order(scopes, card, eliminate, h)
    for name in ("alarm", "insurance", "hailfinder"):
        bn = example_network(name)
        scopes = [(v, *bn.parents[v]) for v in bn.variables]
        for h in HEURISTICS:
            assert greedy_order(scopes, bn.card, bn.variables, h) == reference_greedy_order(
                scopes, bn.card, bn.variables, h)


def test_plans_are_rebuilt_after_clearing_and_give_the_same_answer():
    alarm = example_network("alarm")
    ev = {"HRBP": "HIGH", "BP": "LOW", "CVP": "HIGH"}
    plan = ve_plan(alarm, "LVFAILURE", ev)
    before = variable_elimination(alarm, "LVFAILURE", ev)
    clear_plan_cache(networks=True)
    again = ve_plan(alarm, "LVFAILURE", ev)
    assert again is not plan and again.order == plan.order and again.steps == plan.steps
    assert variable_elimination(alarm, "LVFAILURE", ev) == before
    # the cost is computed when asked for, from the plan's own scopes and order
    assert plan.cost["largest_factor"] >= max(math.prod(alarm.card[v] for v in s) for s in plan.scopes)


def test_more_variables_than_einsum_letters():
    """hailfinder has 56 variables (einsum has 52 letters): plans fall back to letters per step."""
    from pgmpy.inference import VariableElimination

    bn = renormalized(example_network("hailfinder"))
    assert len(bn.variables) > 52
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pgmpy_ve = VariableElimination(bn.to_pgmpy())
    jt = JunctionTree(bn)
    rng = np.random.default_rng(5)
    for row in bn.sample(3, rng):
        idx = rng.choice(len(bn.variables), size=4, replace=False)
        q, ev = bn.variables[idx[0]], {bn.variables[i]: int(row[i]) for i in idx[1:]}
        want = pgmpy_ve.query([q], evidence={v: bn.states[v][s] for v, s in ev.items()}, show_progress=False)
        assert np.allclose(variable_elimination(bn, q, ev).values, want.values, atol=1e-9, rtol=0)
        assert np.allclose(jt.marginals(ev)[q].values, want.values, atol=1e-9, rtol=0)


@pytest.mark.parametrize("evidence", [{"either": "no"}, {"either": "no", "dysp": "yes"},
                                      {"tub": "no", "lung": "no", "xray": "yes"}, {"either": "yes", "asia": "yes"}])
def test_junction_tree_with_impossible_states_in_messages(evidence):
    """asia's `either` is deterministic: messages hold zeros (the Hugin division's 0/0 = 0)."""
    asia = example_network("asia")
    ev = {v: asia.states[v].index(s) for v, s in evidence.items()}
    joint = asia.joint().reduce(ev)
    marg = JunctionTree(asia).marginals(evidence)
    for v in asia.variables:
        if v in ev:
            continue
        want = joint.marginalize([u for u in joint.variables if u != v]).normalize().values
        assert np.allclose(marg[v].values, want, atol=1e-12), v
        assert np.allclose(variable_elimination(asia, v, evidence).values, want, atol=1e-12), v


def test_junction_tree_when_evidence_covers_a_whole_clique():
    """A clique with every variable observed is a 0-d table; its children's messages still multiply in."""
    asia = example_network("asia")
    jt = JunctionTree(asia)
    rng = np.random.default_rng(0)
    for k in (2, 3, 4):
        for observed in itertools.combinations(asia.variables, k):
            x = asia.sample(1, rng)[0]  # states of one sample: p(e) > 0
            ev = {v: int(x[asia.variables.index(v)]) for v in observed}
            marg = jt.marginals(ev)
            for v in asia.variables:
                if v not in ev:
                    assert np.allclose(marg[v].values, variable_elimination(asia, v, ev).values, atol=1e-12)
