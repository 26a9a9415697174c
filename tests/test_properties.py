"""Property-based tests (hypothesis): the schedule, the factor algebra, the tokenizer and the data loader
against independent computations, for inputs drawn at random (issue 21, item 6)."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course_utils import data
from course_utils.diffusion.clip import Tokenizer
from course_utils.diffusion.schedule import NoiseSchedule
from course_utils.pgm.factor import Factor

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# --------------------------------------------------------------------------- schedule
@st.composite
def schedule_case(draw):
    T = draw(st.integers(2, 60))
    beta_1 = draw(st.floats(1e-5, 1e-2))
    beta_T = draw(st.floats(beta_1, 0.5))
    B = draw(st.integers(1, 4))
    rest = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    t = draw(st.lists(st.integers(1, T), min_size=B, max_size=B))
    seed = draw(st.integers(0, 2**16))
    return T, beta_1, beta_T, (B, *rest), t, seed


def _alpha_bar_numpy(T, beta_1, beta_T):
    """ᾱ_t for t = 1..T by a running product in numpy (the schedule uses torch.cumprod)."""
    beta = np.linspace(beta_1, beta_T, T)
    out, prod = [], 1.0
    for b in beta:
        prod *= 1 - b
        out.append(prod)
    return beta, np.array(out)


@FAST
@given(schedule_case())
def test_q_sample_is_the_closed_form_for_any_t_and_shape(case):
    T, beta_1, beta_T, shape, t, seed = case
    S = NoiseSchedule.linear(T, beta_1, beta_T, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    x0, eps = torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64)
    _, ab = _alpha_bar_numpy(T, beta_1, beta_T)
    want = np.stack([np.sqrt(ab[ti - 1]) * x0[i].numpy() + np.sqrt(1 - ab[ti - 1]) * eps[i].numpy()
                     for i, ti in enumerate(t)])
    got = S.q_sample(x0, torch.tensor(t), noise=eps)
    assert got.shape == x0.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


@FAST
@given(schedule_case())
def test_the_posterior_is_bayes_rule_of_two_gaussians(case):
    """q(x_{t-1} | x_t, x_0) ∝ q(x_t | x_{t-1}) q(x_{t-1} | x_0): precision-weighted product, in numpy."""
    T, beta_1, beta_T, shape, t, seed = case
    S = NoiseSchedule.linear(T, beta_1, beta_T, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    x0, x_t = torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64)
    beta, ab = _alpha_bar_numpy(T, beta_1, beta_T)
    mean, var = S.q_posterior(x0, x_t, torch.tensor(t))
    for i, ti in enumerate(t):
        a_t, ab_prev = 1 - beta[ti - 1], (ab[ti - 2] if ti > 1 else 1.0)
        # q(x_t | x_{t-1}) = N(√α_t x_{t-1}, β_t): as a Gaussian in x_{t-1}, mean x_t/√α_t, variance β_t/α_t
        prec_1, mu_1 = a_t / beta[ti - 1], x_t[i].numpy() / np.sqrt(a_t)
        if ti == 1:  # x_{t-1} = x_0 exactly
            np.testing.assert_allclose(mean[i].numpy(), x0[i].numpy(), atol=1e-9)
            continue
        prec_2, mu_2 = 1 / (1 - ab_prev), np.sqrt(ab_prev) * x0[i].numpy()
        want_var = 1 / (prec_1 + prec_2)
        want_mean = want_var * (prec_1 * mu_1 + prec_2 * mu_2)
        np.testing.assert_allclose(mean[i].numpy(), want_mean, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(float(var.flatten()[i] if var.ndim else var), want_var, rtol=1e-7)


@FAST
@given(st.integers(2, 50), st.one_of(st.integers(-5, -1), st.integers(51, 80)))
def test_a_timestep_outside_0_to_T_is_refused(T, t):
    S = NoiseSchedule.linear(T)
    bad = t if t < 0 else T + (t - 50)
    with pytest.raises(ValueError, match=rf"t must be an integer timestep in 0\.\.{T}"):
        S.q_sample(torch.zeros(2, 3), bad)
    with pytest.raises(ValueError, match="t must be"):
        S.q_sample(torch.zeros(2, 3), torch.tensor([1, bad]))


# --------------------------------------------------------------------------- factor algebra
NAMES = ("a", "b", "c", "d")


@st.composite
def factor(draw, card):
    scope = draw(st.lists(st.sampled_from(NAMES), min_size=0, max_size=3, unique=True))
    shape = [card[v] for v in scope]
    values = draw(st.lists(st.floats(0, 5), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return Factor(scope, shape, np.array(values).reshape(shape))


@st.composite
def factors(draw):
    card = {v: draw(st.integers(1, 3)) for v in NAMES}
    return card, draw(st.lists(factor(card), min_size=1, max_size=3))


def _brute_joint(fs, card):
    """The product of factors over every joint assignment of a..d, by explicit loops."""
    joint = np.zeros([card[v] for v in NAMES])
    for assignment in itertools.product(*(range(card[v]) for v in NAMES)):
        x = dict(zip(NAMES, assignment))
        p = 1.0
        for f in fs:
            p *= f.values[tuple(x[v] for v in f.variables)]
        joint[assignment] = p
    return joint


@FAST
@given(factors(), st.lists(st.sampled_from(NAMES), unique=True))
def test_product_and_marginalize_match_the_brute_force_joint(case, summed):
    card, fs = case
    prod = fs[0]
    for f in fs[1:]:
        prod = prod.product(f)
    scope = sorted(set().union(*(f.variables for f in fs)))
    joint = _brute_joint(fs, card)  # over a..d; variables outside every scope appear as a constant factor
    outside = [i for i, v in enumerate(NAMES) if v not in scope]
    want = joint.sum(axis=tuple(outside)) / np.prod([card[NAMES[i]] for i in outside]) if outside else joint
    np.testing.assert_allclose(prod.permute(scope).values, want, rtol=1e-10, atol=1e-12)
    drop = [v for v in summed if v in scope]
    keep = [v for v in scope if v not in drop]
    marg = prod.marginalize(drop)
    np.testing.assert_allclose(marg.permute(keep).values, want.sum(axis=tuple(scope.index(v) for v in drop)),
                               rtol=1e-10, atol=1e-10)


@FAST
@given(factors(), st.data())
def test_reduce_is_indexing_the_joint(case, drawn):
    card, fs = case
    f = fs[0]
    evidence = {v: drawn.draw(st.integers(0, card[v] - 1)) for v in f.variables[:1]}
    r = f.reduce(evidence)
    index = tuple(evidence.get(v, slice(None)) for v in f.variables)
    np.testing.assert_array_equal(r.values, f.values[index])
    bad = {v: card[v] for v in f.variables[:1]}  # one past the last state
    if bad:
        with pytest.raises(ValueError, match="out of range"):
            f.reduce(bad)


# --------------------------------------------------------------------------- tokenizer
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)


@FAST
@given(st.lists(WORDS, min_size=1, max_size=12, unique=True), st.data(), st.integers(1, 8))
def test_tokenizer_ids_are_the_vocabulary_positions_padded_with_zero(vocab, drawn, max_len):
    tok = Tokenizer(vocab, max_len=max_len)
    words = drawn.draw(st.lists(st.one_of(st.sampled_from(vocab), WORDS), min_size=1, max_size=max_len))
    ids = tok.encode(" ".join(words)).tolist()[0]
    ordered = sorted(set(vocab))
    want = [ordered.index(w) + 2 if w in ordered else Tokenizer.UNK for w in words]
    assert ids == want + [Tokenizer.PAD] * (max_len - len(words))
    assert tok.unknown(" ".join(words)) == [w for w in words if w not in ordered]
    with pytest.raises(ValueError, match=f"at most {max_len} fit"):
        tok.encode(" ".join([vocab[0]] * (max_len + 1)))


# --------------------------------------------------------------------------- data loader
@pytest.fixture(scope="module")
def all_digits():
    return data.load("digits", verbose=False)


@FAST
@given(n=st.integers(1, 1500), seed=st.integers(0, 2**31))
def test_a_subset_is_n_distinct_examples_of_the_full_set_fixed_by_its_seed(all_digits, n, seed):
    sub = data.load("digits", n=n, seed=seed, verbose=False)
    total = len(all_digits)
    assert len(sub) == min(n, total) and sub.images.shape[1:] == all_digits.images.shape[1:]
    flat = all_digits.images.flatten(1)
    rows = {tuple(r.tolist()) + (int(y),): i for i, (r, y) in enumerate(zip(flat, all_digits.labels))}
    found = [rows.get(tuple(r.tolist()) + (int(y),)) for r, y in zip(sub.images.flatten(1), sub.labels)]
    assert None not in found  # every example (image and label together) is one of the full set's
    assert len(set(found)) == len(found) or len(rows) < total  # distinct (the digits set has duplicates)
    again = data.load("digits", n=n, seed=seed, verbose=False)
    assert torch.equal(again.images, sub.images) and sub.seed == seed


@FAST
@given(n=st.one_of(st.integers(-10, 0), st.floats(0.1, 50), st.booleans()))
def test_a_bad_n_is_a_clear_error(n):
    with pytest.raises(ValueError, match="n must be a whole number >= 1"):
        data.load("digits", n=n, verbose=False)
