"""Odd arguments give clear errors, never a silently wrong answer (issue 10, items 5 and 6)."""

import numpy as np
import pytest

from course_utils.pgm import (
    Factor,
    JunctionTree,
    evidence_indices,
    example_network,
    forward_sample,
    gibbs_sampling,
    likelihood_weighting,
    rejection_sampling,
    sum_product,
    variable_elimination,
    ve_plan,
)

SAMPLERS = {"rejection": rejection_sampling, "likelihood weighting": likelihood_weighting,
            "Gibbs": gibbs_sampling}
IMPOSSIBLE = {"tub": "yes", "either": "no"}  # asia: either = tub OR lung


@pytest.fixture(scope="module")
def asia():
    return example_network("asia")


# ------------------------------------------------------------------------ item 5: evidence states
@pytest.mark.parametrize("state", [True, False, 1.7, 1.0, np.float64(0.0), None, [0]])
def test_evidence_must_be_a_state_name_or_an_integer_index(asia, state):
    # True was int(True) = 1 = "no": VE answered for smoke = "no" without a word
    with pytest.raises(TypeError, match="state name or an integer index"):
        evidence_indices(asia, {"smoke": state})
    with pytest.raises(TypeError, match="'yes', 'no'"):
        variable_elimination(asia, "lung", {"smoke": state})
    with pytest.raises(TypeError, match="state name or an integer index"):
        JunctionTree(asia).marginals({"smoke": state})


def test_evidence_names_and_indices_agree(asia):
    assert evidence_indices(asia, {"smoke": "no", "xray": np.int64(0), "tub": 1}) == {
        "smoke": 1, "xray": 0, "tub": 1}
    by_name = variable_elimination(asia, "lung", {"smoke": "no"})
    by_index = variable_elimination(asia, "lung", {"smoke": 1})
    assert by_name == by_index
    # and "no" is really the second state: p(lung | smoke=no) < p(lung | smoke=yes) in asia
    assert by_name.values[0] < variable_elimination(asia, "lung", {"smoke": "yes"}).values[0]


# ------------------------------------------------------------------------ item 6: samplers
@pytest.mark.parametrize("name", SAMPLERS)
def test_samplers_name_an_unknown_query_variable(asia, name):
    with pytest.raises(ValueError, match=r"unknown query variable 'lungs'.*asia.*lung"):
        SAMPLERS[name](asia, "lungs", {}, 200, np.random.default_rng(0))


@pytest.mark.parametrize("name", SAMPLERS)
def test_samplers_refuse_a_query_that_is_also_observed(asia, name):
    with pytest.raises(ValueError, match="'lung' is both queried and observed"):
        SAMPLERS[name](asia, "lung", {"lung": "yes"}, 200, np.random.default_rng(0))


@pytest.mark.parametrize("name", SAMPLERS)
def test_zero_probability_evidence_is_an_error_not_a_uniform_answer(asia, name):
    # before: rejection and LW returned [0.5, 0.5] (LW with acceptance rate 1.0), Gibbs a NaN error
    with pytest.raises(ValueError, match="probability zero"):
        SAMPLERS[name](asia, "lung", IMPOSSIBLE, 500, np.random.default_rng(0))


def test_rejection_with_no_accepted_sample_says_so(asia):
    # p(e) > 0 but far below 1/n: no sample agrees; an error, not the uniform histogram
    rare = {"tub": "yes", "lung": "yes", "bronc": "yes", "asia": "yes"}
    with pytest.raises(ValueError, match="none of the 50 samples"):
        rejection_sampling(asia, "dysp", rare, 50, np.random.default_rng(0))


def test_likelihood_weighting_reports_the_fraction_of_usable_samples(asia):
    # the samples with weight > 0: here p(either = yes | tub = no, lung) > 0 only for lung = yes
    ev = {"tub": "no", "either": "yes"}
    lw = likelihood_weighting(asia, "dysp", ev, 4000, np.random.default_rng(0))
    p_lung = variable_elimination(asia, "lung", {"tub": "no"}).values[0]  # p(lung = yes | tub = no)
    assert abs(lw.acceptance_rate - p_lung) < 4 * np.sqrt(p_lung / 4000)
    assert lw.acceptance_rate < 0.2  # not the old constant 1.0


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("n", [0, -5, 2.5, True])
def test_samplers_need_a_positive_whole_number_of_samples(asia, name, n):
    with pytest.raises(ValueError, match=f"n must be a positive whole number of samples, got {n!r}"):
        SAMPLERS[name](asia, "lung", {"smoke": "yes"}, n, np.random.default_rng(0))


def test_forward_sample_checks_n(asia):
    with pytest.raises(ValueError, match="positive whole number"):
        forward_sample(asia, 0, np.random.default_rng(0))


def test_gibbs_uses_the_n_it_is_given(asia):
    # before: n=1 gave 100 samples (one sweep of 100 chains), n=150 gave 200
    with pytest.raises(ValueError, match="n=50 is fewer than n_chains=100"):
        gibbs_sampling(asia, "lung", {"smoke": "yes"}, 50, np.random.default_rng(0))
    est = gibbs_sampling(asia, "lung", {"smoke": "yes"}, 150, np.random.default_rng(0), burn_in=5)
    assert est.n_samples == 150
    with pytest.raises(ValueError, match="n_chains must be a positive whole number"):
        gibbs_sampling(asia, "lung", {}, 100, np.random.default_rng(0), n_chains=0)
    with pytest.raises(ValueError, match="burn_in must be a whole number >= 0"):
        gibbs_sampling(asia, "lung", {}, 100, np.random.default_rng(0), burn_in=-1)


# ------------------------------------------------------------------------ item 6: ve_plan, sum_product
def test_ve_plan_names_unknown_and_repeated_variables(asia):
    with pytest.raises(ValueError, match=r"unknown variable\(s\) \['lungs'\].*valid"):
        ve_plan(asia, "lungs")
    with pytest.raises(ValueError, match=r"unknown variable\(s\) \['smokes'\]"):
        ve_plan(asia, "lung", evidence=["smokes"])
    with pytest.raises(ValueError, match=r"repeated.*\['lung'\]"):
        ve_plan(asia, ["lung", "lung"])
    with pytest.raises(ValueError, match=r"repeated.*\['xray'\]"):
        ve_plan(asia, "lung", evidence=["xray", "xray"])
    with pytest.raises(ValueError, match="both queried and observed"):
        ve_plan(asia, "lung", evidence=["lung"])
    with pytest.raises(ValueError, match="non-empty"):
        ve_plan(asia, [])
    assert ve_plan(asia, "lung", evidence="xray") is ve_plan(asia, "lung", evidence=["xray"])
    with pytest.raises(ValueError, match=r"repeated.*\['lung'\]"):
        variable_elimination(asia, ["lung", "lung"])


def test_sum_product_names_unknown_and_repeated_variables(asia):
    factors = asia.factors
    with pytest.raises(ValueError, match=r"unknown variable\(s\) \['lungs'\].*valid"):
        sum_product(factors, ["lungs"])
    with pytest.raises(ValueError, match=r"repeated.*\['lung'\]"):
        sum_product(factors, ["lung", "lung"])
    assert sum_product(factors, "lung") == sum_product(factors, ["lung"])  # one name, as in VE
    # what it computes stays right: Σ_{others} Π CPDs = p(lung, smoke)
    got = sum_product(factors, ["lung", "smoke"])
    want = asia.joint().marginalize([v for v in asia.variables if v not in ("lung", "smoke")])
    assert got.allclose(want)
    assert Factor(("lung", "smoke"), (2, 2), got.values) == got
