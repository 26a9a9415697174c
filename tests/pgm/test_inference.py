"""Exact and approximate inference: VE, belief propagation, junction tree, samplers."""

import math
import warnings

import numpy as np
import pytest

from course_utils.pgm import (
    BayesianNetwork,
    Factor,
    JunctionTree,
    belief_propagation,
    elimination_cost,
    elimination_order,
    example_network,
    gibbs_sampling,
    greedy_order,
    likelihood_weighting,
    rejection_sampling,
    renormalized,
    sum_product,
    variable_elimination,
    ve_plan,
)


def lecture_network() -> BayesianNetwork:
    """x1 → x2, x1 → x3, (x2, x3) → x4 with random binary CPDs (the lecture's VE example)."""
    rng = np.random.default_rng(3)

    def cpd(v, pa):
        t = rng.random((2, *[2] * len(pa))) + 0.1
        return Factor((v, *pa), (2,) * (1 + len(pa)), t / t.sum(axis=0))

    parents = {"x1": (), "x2": ("x1",), "x3": ("x1",), "x4": ("x2", "x3")}
    return BayesianNetwork(parents, {v: cpd(v, pa) for v, pa in parents.items()})


def random_tree_mrf(n: int, rng: np.random.Generator) -> list[Factor]:
    """Pairwise MRF on a random tree (unary + edge factors, 2–3 states)."""
    card = {f"v{i}": int(rng.integers(2, 4)) for i in range(n)}
    factors = [Factor((v,), (c,), rng.random(c) + 0.1) for v, c in card.items()]
    for i in range(1, n):
        a, b = f"v{int(rng.integers(i))}", f"v{i}"
        factors.append(Factor((a, b), (card[a], card[b]), rng.random((card[a], card[b])) + 0.1))
    return factors


def ising_grid(h: int, w: int, coupling: float, rng: np.random.Generator) -> list[Factor]:
    """Binary grid MRF: exp(J s_i s_j) on edges, random fields exp(b_i s_i), s ∈ {-1, +1}."""
    s = np.array([-1.0, 1.0])
    name = [[f"s{r}_{c}" for c in range(w)] for r in range(h)]
    out = [Factor((name[r][c],), (2,), np.exp(rng.normal(0, 0.5) * s))
           for r in range(h) for c in range(w)]
    pair = np.exp(coupling * np.outer(s, s))
    for r in range(h):
        for c in range(w):
            if r + 1 < h:
                out.append(Factor((name[r][c], name[r + 1][c]), (2, 2), pair))
            if c + 1 < w:
                out.append(Factor((name[r][c], name[r][c + 1]), (2, 2), pair))
    return out


def sampled_evidence(bn: BayesianNetwork, k: int, rng: np.random.Generator) -> dict[str, int]:
    """k evidence variables with states from one ancestral sample (so p(e) > 0)."""
    x = bn.sample(1, rng)[0]
    chosen = rng.choice(len(bn.variables), size=k, replace=False)
    return {bn.variables[i]: int(x[i]) for i in chosen}


# ------------------------------------------------------------------------ variable elimination
def test_ve_equals_brute_force_on_lecture_example_and_asia():
    bn = lecture_network()
    joint = bn.joint()
    brute = joint.marginalize(["x2", "x3"]).permute(["x1", "x4"]).normalize()
    assert np.allclose(variable_elimination(bn, ["x1", "x4"]).values, brute.values, atol=1e-12)

    asia = example_network("asia")
    joint = asia.joint()
    for query, evidence in [("lung", {"dysp": "yes", "smoke": 0}), (["tub", "bronc"], {"xray": 1}),
                            ("either", None)]:
        got = variable_elimination(asia, query, evidence)
        ev = {v: asia.states[v].index(s) if isinstance(s, str) else s
              for v, s in (evidence or {}).items()}
        q = [query] if isinstance(query, str) else query
        want = joint.reduce(ev).marginalize([v for v in asia.variables if v not in q and v not in ev])
        assert np.allclose(got.values, want.permute(q).normalize().values, atol=1e-12)


def test_elimination_cost_and_orders():
    bn = lecture_network()
    scopes = [f.variables for f in bn.cpds.values()]
    # Σ_x2 first: ψ(x1,x2,x3,x4) = p(x2|x1) p(x4|x2,x3): 16 entries, 16 products; then
    # Σ_x3: ψ(x1,x3,x4) = p(x3|x1) τ(x1,x3,x4): 8 entries, 8 products.
    cost = elimination_cost(scopes, bn.card, ["x2", "x3"])
    assert cost == {"largest_factor": 16, "multiplications": 24, "additions": 12}
    # a chain a-b-c-d-e with 10 states: eliminating the middle first builds a bigger factor
    card = dict.fromkeys("abcde", 10)
    chain = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")]
    good = greedy_order(chain, card, "abcd", "min_fill")
    assert elimination_cost(chain, card, good)["largest_factor"] == 100
    assert elimination_cost(chain, card, ["c", "b", "d", "a"])["largest_factor"] == 1000
    for h in ("min_fill", "min_weight", "min_neighbors"):
        order = elimination_order(bn, ["x4"], heuristic=h)
        assert sorted(order) == ["x1", "x2", "x3"]
    with pytest.raises(ValueError, match="min_fill"):
        elimination_order(bn, ["x4"], heuristic="smallest")


def test_ve_plan_is_cached_and_prunes_barren_nodes():
    asia = example_network("asia")
    plan = ve_plan(asia, "smoke", evidence=["lung"])
    assert set(plan.cpds) == {"smoke", "lung"}  # nothing below lung matters
    assert ve_plan(asia.copy(), "smoke", evidence=["lung"]) is plan


def test_ve_errors():
    asia = example_network("asia")
    with pytest.raises(ValueError, match="both queried and observed"):
        variable_elimination(asia, "lung", {"lung": 0})
    with pytest.raises(ValueError, match="probability zero"):  # either = tub OR lung
        variable_elimination(asia, "dysp", {"tub": 0, "either": 1})
    with pytest.raises(ValueError, match="states"):
        variable_elimination(asia, "dysp", {"tub": "maybe"})
    with pytest.raises(ValueError, match="out of range"):
        JunctionTree(asia).marginals({"tub": 2})
    with pytest.raises(ValueError, match="probability zero"):
        JunctionTree(asia).marginals({"tub": 0, "either": 1})


# ------------------------------------------------------------------------ pgmpy cross-check
@pytest.mark.parametrize("name", ["asia", "alarm", "child", "insurance"])
def test_ve_and_junction_tree_match_pgmpy(name):
    from pgmpy.inference import VariableElimination

    bn = renormalized(example_network(name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pgmpy_ve = VariableElimination(bn.to_pgmpy())
    jt = JunctionTree(bn)
    rng = np.random.default_rng(sum(map(ord, name)))
    for _ in range(3):
        ev = sampled_evidence(bn, 3, rng)
        marg = jt.marginals(ev)
        hidden = [v for v in bn.variables if v not in ev]
        queries = rng.choice(hidden, size=4, replace=False)
        for q in queries:
            want = pgmpy_ve.query([q], evidence={v: bn.states[v][s] for v, s in ev.items()},
                                  show_progress=False)
            assert want.state_names[q] == bn.states[q]
            assert np.allclose(variable_elimination(bn, q, ev).values, want.values,
                               atol=1e-9, rtol=0)
            assert np.allclose(marg[q].values, want.values, atol=1e-9, rtol=0)
        for v in hidden:  # every other marginal against our own VE (itself checked above)
            assert np.allclose(marg[v].values, variable_elimination(bn, v, ev).values, atol=1e-9)
        for v, s in ev.items():
            assert marg[v].values[s] == 1.0


# ------------------------------------------------------------------------ junction tree
def test_junction_tree_log_partition_and_mrf():
    asia = example_network("asia")
    joint = asia.joint()
    ev = {"dysp": 0, "xray": 1}
    assert math.isclose(JunctionTree(asia).log_partition(ev),
                        math.log(joint.reduce(ev).total()), rel_tol=1e-12)
    rng = np.random.default_rng(0)
    grid = ising_grid(3, 4, 0.8, rng)
    jt = JunctionTree(grid)
    assert math.isclose(jt.log_partition(), math.log(sum_product(grid).scalar()), rel_tol=1e-12)
    marg = jt.marginals({"s1_1": 1})
    reduced = [f.reduce({"s1_1": 1}) for f in grid]
    for v in ("s0_0", "s2_3", "s1_2"):
        assert np.allclose(marg[v].values, sum_product(reduced, [v]).normalize().values,
                           atol=1e-12)


# ------------------------------------------------------------------------ belief propagation
def test_bp_exact_on_a_tree():
    rng = np.random.default_rng(1)
    factors = random_tree_mrf(12, rng)
    res = belief_propagation(factors, max_iter=50, tol=1e-13)
    assert res.converged
    for v, b in res.marginals.items():
        assert np.allclose(b.values, sum_product(factors, [v]).normalize().values, atol=1e-10)


def test_loopy_bp_is_approximate_on_a_grid():
    rng = np.random.default_rng(2)
    grid = ising_grid(4, 4, 0.4, rng)
    res = belief_propagation(grid, max_iter=200, tol=1e-12)
    assert res.converged
    exact = JunctionTree(grid).marginals()
    err = max(float(np.abs(res.marginals[v].values - exact[v].values).max()) for v in exact)
    assert 1e-6 < err < 0.05  # close, but not exact: the grid has cycles
    with pytest.raises(ValueError, match="damping"):
        belief_propagation(grid, damping=1.0)


# ------------------------------------------------------------------------ samplers
def test_samplers_converge_to_the_exact_posterior():
    asia = example_network("asia")
    ev = {"dysp": "yes", "smoke": "yes"}
    exact = variable_elimination(asia, "lung", ev).values
    p_e = math.exp(JunctionTree(asia).log_partition(ev))
    rng = np.random.default_rng(0)
    rs = rejection_sampling(asia, "lung", ev, 40_000, rng)
    assert abs(rs.acceptance_rate - p_e) < 0.01
    assert np.abs(rs.probs - exact).max() < 0.02
    lw = likelihood_weighting(asia, "lung", ev, 40_000, rng)
    assert np.abs(lw.probs - exact).max() < 0.02 and lw.n_effective < 40_000
    gb = gibbs_sampling(asia, "lung", ev, 20_000, rng, n_chains=200, burn_in=20)
    assert np.abs(gb.probs - exact).max() < 0.03
    # and they are estimates, not copies of the answer: a tiny sample is off
    small = likelihood_weighting(asia, "lung", ev, 20, np.random.default_rng(1))
    assert np.abs(small.probs - exact).max() > 1e-4
