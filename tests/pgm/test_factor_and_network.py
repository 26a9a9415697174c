"""Unit tests of course_utils.pgm against known numbers and pgmpy."""

from __future__ import annotations

import functools
import itertools
import warnings

import numpy as np
import pytest

from course_utils.pgm import BayesianNetwork, Factor, example_network, read_bif

# pgmpy 1.1 warns (FutureWarning) about APIs it removes in 1.3; the course pins 1.1.2
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


# --------------------------------------------------------------------------------------------
# a textbook network: Koller & Friedman's "student" network (Fig. 3.4)
# --------------------------------------------------------------------------------------------
def student() -> BayesianNetwork:
    parents = {"D": [], "I": [], "G": ["I", "D"], "S": ["I"], "L": ["G"]}
    g = np.zeros((3, 2, 2))  # G | I, D: values[g, i, d]
    g[:, 0, 0] = [0.3, 0.4, 0.3]
    g[:, 0, 1] = [0.05, 0.25, 0.7]
    g[:, 1, 0] = [0.9, 0.08, 0.02]
    g[:, 1, 1] = [0.5, 0.3, 0.2]
    cpds = {
        "D": Factor(["D"], [2], [0.6, 0.4]),
        "I": Factor(["I"], [2], [0.7, 0.3]),
        "G": Factor(["G", "I", "D"], [3, 2, 2], g),
        "S": Factor(["S", "I"], [2, 2], [[0.95, 0.2], [0.05, 0.8]]),
        "L": Factor(["L", "G"], [2, 3], [[0.1, 0.4, 0.99], [0.9, 0.6, 0.01]]),
    }
    states = {"G": ["g1", "g2", "g3"], "L": ["l0", "l1"]}
    return BayesianNetwork(parents, cpds, states)


@pytest.fixture(scope="module")
def asia() -> BayesianNetwork:
    return example_network("asia")


@functools.cache
def _pgmpy(name: str):  # parsed once per test session: pgmpy's BIF reader takes seconds
    from pgmpy.utils import get_example_model

    with warnings.catch_warnings():  # deprecated in pgmpy 1.1, removed in 1.3 (pinned 1.1.2)
        warnings.simplefilter("ignore", FutureWarning)
        return get_example_model(name)


# --------------------------------------------------------------------------------------------
# Factor
# --------------------------------------------------------------------------------------------
def test_factor_validation():
    with pytest.raises(ValueError, match="shape"):
        Factor(["a", "b"], [2, 3], np.ones((3, 2)))
    with pytest.raises(ValueError, match="duplicate"):
        Factor(["a", "a"], [2, 2], np.ones((2, 2)))
    with pytest.raises(ValueError, match="cardinalit"):
        Factor(["a"], [2, 2], np.ones((2, 2)))
    with pytest.raises(TypeError):
        Factor("ab", [2, 2], np.ones((2, 2)))
    f = Factor(["a", "b"], [2, 3], np.arange(6))  # a flat list in C order is accepted
    assert f.values[1, 2] == 5


def test_factor_is_immutable():
    v = np.ones((2, 2))
    f = Factor(["a", "b"], [2, 2], v)
    v[0, 0] = 7.0  # the factor holds a copy
    assert f.values[0, 0] == 1.0
    with pytest.raises(ValueError):
        f.values[0, 0] = 3.0
    with pytest.raises(AttributeError):
        f.variables = ("x",)
    g = f.normalize()
    assert f.values.sum() == 4.0 and g.values.sum() == pytest.approx(1.0)


def test_product_matches_loops():
    rng = np.random.default_rng(0)
    f = Factor(["a", "b"], [2, 3], rng.random((2, 3)))
    g = Factor(["c", "b"], [4, 3], rng.random((4, 3)))
    h = f * g
    assert h.variables == ("a", "b", "c") and h.cardinality == (2, 3, 4)
    for a, b, c in itertools.product(range(2), range(3), range(4)):
        assert h.values[a, b, c] == pytest.approx(f.values[a, b] * g.values[c, b])
    assert (g * f).allclose(h)
    assert (f * Factor.unit()) == f
    assert (2 * f).values[1, 1] == pytest.approx(2 * f.values[1, 1])
    with pytest.raises(ValueError, match="cardinality"):
        f * Factor(["b"], [2], [1, 1])


def test_marginalize_reduce_normalize_permute():
    rng = np.random.default_rng(1)
    vals = rng.random((2, 3, 4))
    f = Factor(["a", "b", "c"], [2, 3, 4], vals)
    m = f.marginalize(["b"])
    assert m.variables == ("a", "c")
    np.testing.assert_allclose(m.values, vals.sum(axis=1))
    assert f.marginalize(["a", "b", "c"]).scalar() == pytest.approx(vals.sum())
    with pytest.raises(ValueError, match="not in"):
        f.marginalize(["z"])
    r = f.reduce({"b": 2, "zz": 0})  # unknown variables are ignored
    assert r.variables == ("a", "c")
    np.testing.assert_allclose(r.values, vals[:, 2, :])
    with pytest.raises(ValueError, match="out of range"):
        f.reduce({"b": 3})
    with pytest.raises(TypeError):
        f.reduce({"b": "yes"})
    n = f.normalize()
    assert n.total() == pytest.approx(1.0)
    p = f.permute(["c", "a", "b"])
    assert p.cardinality == (4, 2, 3)
    assert p.values[3, 1, 2] == vals[1, 2, 3]
    assert p == f
    with pytest.raises(ValueError, match="permutation"):
        f.permute(["a", "b"])
    with pytest.raises(ValueError, match="sum to"):
        Factor(["a"], [2], [0, 0]).normalize()
    with pytest.raises(ValueError, match="scalar"):
        f.scalar()


def test_divide_and_maximize():
    f = Factor(["a", "b"], [2, 2], [[1.0, 0.0], [3.0, 4.0]])
    g = Factor(["b"], [2], [2.0, 0.0])
    np.testing.assert_allclose((f / g).values, [[0.5, 0.0], [1.5, 0.0]])
    np.testing.assert_allclose(f.maximize(["a"]).values, [3.0, 4.0])


# --------------------------------------------------------------------------------------------
# BayesianNetwork on the textbook network
# --------------------------------------------------------------------------------------------
def test_student_joint_known_numbers():
    bn = student()
    assert bn.variables == ("D", "I", "G", "S", "L")
    j = bn.joint()
    assert j.variables == bn.variables
    assert j.total() == pytest.approx(1.0)
    # K&F eq. 3.9: P(i1, d0, g2, s1, l0) = 0.3 * 0.6 * 0.08 * 0.8 * 0.4 = 0.004608
    assert j.values[0, 1, 1, 1, 0] == pytest.approx(0.004608)
    # K&F section 3.2.1.3 (causal reasoning): P(l1) ~ 0.502, P(l1 | i0) ~ 0.389,
    # P(l1 | i0, d0) ~ 0.513; evidential: P(i1 | g3) ~ 0.079, P(i1 | l0) ~ 0.14
    assert j.marginalize(["D", "I", "G", "S"]).values[1] == pytest.approx(0.502, abs=5e-4)
    assert j.reduce({"I": 0}).normalize().marginalize(["D", "G", "S"]).values[1] == \
        pytest.approx(0.389, abs=5e-4)
    assert j.reduce({"I": 0, "D": 0}).normalize().marginalize(["G", "S"]).values[1] == \
        pytest.approx(0.513, abs=5e-4)
    assert j.reduce({"G": 2}).normalize().marginalize(["D", "S", "L"]).values[1] == \
        pytest.approx(0.079, abs=5e-4)
    assert j.reduce({"L": 0}).normalize().marginalize(["D", "G", "S"]).values[1] == \
        pytest.approx(0.14, abs=5e-3)
    assert bn.n_free_parameters() == 1 + 1 + 8 + 2 + 3
    assert bn.states["G"] == ["g1", "g2", "g3"] and bn.states["D"] == ["0", "1"]


def test_cpd_axis_order_is_canonicalised():
    bn = student()
    g = bn.cpds["G"].permute(["D", "G", "I"])
    cpds = dict(bn.cpds, G=g)
    bn2 = BayesianNetwork(bn.parents, cpds)
    assert bn2.cpds["G"].variables == ("G", "I", "D")
    assert bn2.joint() == bn.joint()


def test_bad_networks_raise_clear_errors():
    bn = student()
    with pytest.raises(ValueError, match="cycle"):
        BayesianNetwork({"a": ["b"], "b": ["a"]},
                        {"a": Factor(["a", "b"], [2, 2], np.full((2, 2), 0.5)),
                         "b": Factor(["b", "a"], [2, 2], np.full((2, 2), 0.5))})
    with pytest.raises(ValueError, match="not normalised"):
        BayesianNetwork({"a": []}, {"a": Factor(["a"], [2], [0.5, 0.6])})
    with pytest.raises(ValueError, match="negative"):
        BayesianNetwork({"a": []}, {"a": Factor(["a"], [2], [1.5, -0.5])})
    with pytest.raises(ValueError, match="missing CPDs"):
        BayesianNetwork(bn.parents, {k: v for k, v in bn.cpds.items() if k != "L"})
    with pytest.raises(ValueError, match="expected the variables"):
        BayesianNetwork(dict(bn.parents, L=["S"]), bn.cpds)
    with pytest.raises(ValueError, match="unknown variables"):
        BayesianNetwork(dict(bn.parents, L=["Q"]), bn.cpds)
    with pytest.raises(ValueError, match="cardinality"):
        BayesianNetwork(bn.parents, dict(bn.cpds, L=Factor(["L", "G"], [2, 2],
                                                           np.full((2, 2), 0.5))))
    with pytest.raises(ValueError, match="state names"):
        BayesianNetwork(bn.parents, bn.cpds, {"G": ["a", "b"]})
    with pytest.raises(ValueError, match="shape"):
        bn.log_likelihood(np.zeros((3, 4), dtype=int))
    with pytest.raises(ValueError, match="out of range"):
        bn.log_likelihood(np.array([[0, 0, 3, 0, 0]]))
    with pytest.raises(ValueError, match="unknown example network"):
        example_network("no-such-net")


def test_joint_refuses_large_networks():
    bn = example_network("alarm")
    with pytest.raises(ValueError, match="variable elimination"):
        bn.joint()


def test_mle_recovers_counts_exactly():
    # a -> b, a -> c: hand-made data set, counted by hand
    parents = {"a": [], "b": ["a"], "c": ["a"]}
    half = {"a": Factor(["a"], [2], [0.5, 0.5]),
            "b": Factor(["b", "a"], [2, 2], np.full((2, 2), 0.5)),
            "c": Factor(["c", "a"], [3, 2], np.full((3, 2), 1 / 3))}
    bn = BayesianNetwork(parents, half)
    data = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 1], [0, 0, 2],
                     [1, 1, 0], [1, 1, 0]])
    fit = bn.fit_mle(data)
    np.testing.assert_allclose(fit.cpds["a"].values, [4 / 6, 2 / 6])
    np.testing.assert_allclose(fit.cpds["b"].values, [[3 / 4, 0], [1 / 4, 1]])
    np.testing.assert_allclose(fit.cpds["c"].values, [[1 / 4, 1], [2 / 4, 0], [1 / 4, 0]])
    # pseudocount (Laplace): (N + 1) / (N_pa + card)
    lap = bn.fit_mle(data, pseudocount=1.0)
    np.testing.assert_allclose(lap.cpds["c"].values[:, 1], [3 / 5, 1 / 5, 1 / 5])
    # parent configuration never seen -> uniform
    only_a0 = bn.fit_mle(data[:4])
    np.testing.assert_allclose(only_a0.cpds["c"].values[:, 1], [1 / 3] * 3)
    # log-likelihood: sum of the per-variable terms, and equal to log of the joint
    ll = fit.log_likelihood(data)
    assert ll == pytest.approx(sum(fit.log_likelihood_terms(data).values()))
    j = fit.joint().values
    assert ll == pytest.approx(np.log(j[tuple(data.T)]).sum())
    # the MLE maximises the likelihood: beats the truth-agnostic uniform network
    assert ll > bn.log_likelihood(data)


def test_sampling_frequencies_match_joint():
    bn = student()
    data = bn.sample(200_000, np.random.default_rng(0))
    assert data.shape == (200_000, 5) and data.dtype.kind == "i"
    freq = np.bincount(np.ravel_multi_index(tuple(data.T), (2, 2, 3, 2, 2)),
                       minlength=48).reshape(2, 2, 3, 2, 2) / len(data)
    assert np.abs(freq - bn.joint().values).max() < 5e-3
    same = bn.sample(10, np.random.default_rng(7))
    np.testing.assert_array_equal(same, bn.sample(10, np.random.default_rng(7)))


def test_mle_converges_on_alarm():
    bn = example_network("alarm")
    rng = np.random.default_rng(0)
    data = bn.sample(50_000, rng)

    def err(n):
        fit = bn.fit_mle(data[:n], pseudocount=1.0)
        return np.mean([np.abs(fit.cpds[v].values - bn.cpds[v].values).mean()
                        for v in bn.variables])

    assert err(50_000) < err(5_000) < err(500)


# --------------------------------------------------------------------------------------------
# pgmpy round trip
# --------------------------------------------------------------------------------------------
def test_asia_round_trip_matches_pgmpy(asia):
    from pgmpy.inference import VariableElimination

    model = _pgmpy("asia")
    assert set(asia.variables) == {str(v) for v in model.nodes()}
    # CPD of dysp: pgmpy's get_evidence() is reversed w.r.t. its values' axes
    c = model.get_cpds("dysp")
    f = asia.cpds["dysp"]
    for idx in itertools.product(*(range(k) for k in f.cardinality)):
        names = {v: asia.states[v][i] for v, i in zip(f.variables, idx)}
        assert f.values[idx] == pytest.approx(c.get_value(**names))
    ve = VariableElimination(model)
    joint = asia.joint()
    for v in asia.variables:
        ours = joint.marginalize([u for u in asia.variables if u != v]).values
        theirs = ve.query([v], show_progress=False)
        order = [theirs.state_names[v].index(s) for s in asia.states[v]]
        np.testing.assert_allclose(ours, theirs.values[order], atol=1e-12)
    # a conditional too
    ev = {"smoke": "yes", "dysp": "yes"}
    theirs = ve.query(["lung"], evidence=ev, show_progress=False)
    idx = {k: asia.states[k].index(s) for k, s in ev.items()}
    ours = joint.reduce(idx).normalize().marginalize(
        [u for u in asia.variables if u not in ("lung", *ev)])
    order = [theirs.state_names["lung"].index(s) for s in asia.states["lung"]]
    np.testing.assert_allclose(ours.values, theirs.values[order], atol=1e-12)
    # known numbers (Lauritzen & Spiegelhalter 1988): P(tub)=0.0104, P(lung)=0.055
    yes = {v: asia.states[v].index("yes") for v in ("tub", "lung")}
    assert joint.marginalize([u for u in asia.variables if u != "tub"]).values[yes["tub"]] \
        == pytest.approx(0.0104)
    assert joint.marginalize([u for u in asia.variables if u != "lung"]).values[yes["lung"]] \
        == pytest.approx(0.055)


def test_to_pgmpy_and_back_and_state_reordering():
    bn = student()
    back = BayesianNetwork.from_pgmpy(bn.to_pgmpy())
    assert back.joint().allclose(bn.joint())
    assert back.states == bn.states
    # a child CPD listing a parent's states in another order must be re-aligned
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    m = DiscreteBayesianNetwork([("A", "B")])
    m.add_cpds(TabularCPD("A", 2, [[0.2], [0.8]], state_names={"A": ["x", "y"]}),
               TabularCPD("B", 2, [[0.9, 0.3], [0.1, 0.7]], evidence=["A"], evidence_card=[2],
                          state_names={"B": ["u", "v"], "A": ["y", "x"]}))
    net = BayesianNetwork.from_pgmpy(m)
    # p(B=u | A=x) = 0.3 (the column of "x" is the second one in B's CPD)
    assert net.cpds["B"].values[0, net.states["A"].index("x")] == pytest.approx(0.3)


def test_pgmpy_marginals_on_child_by_sampling():
    """child (20 variables, 1e9-entry joint): compare sampled marginals with pgmpy's VE."""
    from pgmpy.inference import VariableElimination

    bn = example_network("child")
    model = _pgmpy("child")
    data = bn.sample(40_000, np.random.default_rng(3))
    ve = VariableElimination(model)
    for k, v in enumerate(bn.variables[:8]):
        q = ve.query([v], show_progress=False)
        want = q.values[[q.state_names[v].index(s) for s in bn.states[v]]]
        freq = np.bincount(data[:, k], minlength=bn.card[v]) / len(data)
        assert np.abs(freq - want).max() < 0.015, v  # > 6 standard errors


# free parameters as documented by the bnlearn repository (https://www.bnlearn.com/bnrepository/)
BNLEARN_PARAMETERS = {"asia": 18, "cancer": 10, "earthquake": 10, "survey": 21, "sachs": 178,
                      "child": 230, "insurance": 1008, "alarm": 509}


@pytest.mark.parametrize("name", list(BNLEARN_PARAMETERS))
def test_shipped_networks_load_with_known_sizes(name):
    bn = example_network(name)  # data/networks/<name>.bif.gz through read_bif
    assert bn.n_free_parameters() == BNLEARN_PARAMETERS[name]
    assert example_network(name) is not bn  # fresh copies of a cached network


@pytest.mark.parametrize("name", ["asia", "sachs", "child", "alarm"])
def test_read_bif_matches_pgmpy(name):
    bn = example_network(name)
    model = _pgmpy(name)
    ref = BayesianNetwork.from_pgmpy(model)
    assert set(bn.variables) == set(ref.variables) == {str(v) for v in model.nodes()}
    assert bn.states == {v: ref.states[v] for v in bn.variables}
    for v in bn.variables:
        assert bn.cpds[v].allclose(ref.cpds[v], atol=1e-12), v
        c = model.get_cpds(v)  # and entry by entry against pgmpy's own lookup
        f = bn.cpds[v]
        for idx in itertools.islice(itertools.product(*(range(k) for k in f.cardinality)), 12):
            names = {u: bn.states[u][i] for u, i in zip(f.variables, idx)}
            assert f.values[idx] == pytest.approx(c.get_value(**names))


def test_read_bif_text_and_errors():
    text = """network t { }
    variable A { type discrete [ 2 ] { a0, a1 }; }
    variable B { type discrete [ 3 ] { lo, mid, hi }; property note 1 ; }
    // a comment
    probability ( A ) { table 0.25, 0.75; }
    probability ( B | A ) { (a1) 0.1, 0.2, 0.7; (a0) 0.5, 0.5, 0.0; }
    """
    bn = read_bif(text)
    assert bn.variables == ("A", "B") and bn.states["B"] == ["lo", "mid", "hi"]
    np.testing.assert_allclose(bn.cpds["B"].values, [[0.5, 0.1], [0.5, 0.2], [0.0, 0.7]])
    with pytest.raises(ValueError, match="misses"):
        read_bif(text.replace("(a0) 0.5, 0.5, 0.0;", ""))
    with pytest.raises(ValueError, match="unknown state"):
        read_bif(text.replace("(a0)", "(zz)"))
    with pytest.raises(ValueError, match="not normalised"):
        read_bif(text.replace("0.25, 0.75", "0.25, 0.8"))
    with pytest.raises(ValueError, match="no probability block"):
        read_bif(text.replace("probability ( A ) { table 0.25, 0.75; }", ""))


def test_draw_network_returns_figure():
    import matplotlib

    matplotlib.use("Agg")
    from course_utils.pgm import draw_network

    fig = draw_network(student(), highlight=["L"], title="student")
    assert len(fig.axes) == 1
    fig2 = draw_network({"a": [], "b": ["a"]})
    assert fig2 is not fig
    import matplotlib.pyplot as plt

    plt.close("all")


def test_example_cache_is_keyed_on_the_data_folder_and_file(tmp_path, monkeypatch):
    """Two data folders with different networks of the same name: each gives its own (issue 9)."""
    text = """network t { }
    variable A { type discrete [ 2 ] { a0, a1 }; }
    probability ( A ) { table P0, P1; }
    """
    for folder, p in (("one", 0.25), ("two", 0.6)):
        (tmp_path / folder / "networks").mkdir(parents=True)
        (tmp_path / folder / "networks" / "mynet.bif").write_text(
            text.replace("P0", str(p)).replace("P1", str(1 - p)))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "one"))
    assert example_network("mynet").cpds["A"].values[0] == 0.25
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "two"))
    assert example_network("mynet").cpds["A"].values[0] == 0.6
    # the file itself edited in place: read again
    path = tmp_path / "two" / "networks" / "mynet.bif"
    path.write_text(text.replace("P0", "0.125").replace("P1", "0.875"))
    assert example_network("mynet").cpds["A"].values[0] == 0.125
    (tmp_path / "three").mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "three"))
    with pytest.raises(ValueError, match="unknown example network 'mynet'"):
        example_network("mynet")
