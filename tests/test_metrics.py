"""Tests of course_utils.metrics (the Fréchet distance against closed forms, spread, floor) and
course_utils.evaluation (the classifier)."""

import numpy as np
import pytest
import torch

from course_utils import evaluation, metrics


def _samples_with_exact_moments(mu: np.ndarray, cov: np.ndarray, n: int,
                                rng: np.random.Generator) -> np.ndarray:
    """n samples whose empirical mean and (unbiased) covariance equal mu and cov exactly."""
    x = rng.standard_normal((n, len(mu)))
    x -= x.mean(0)
    emp = np.atleast_2d(np.cov(x, rowvar=False))
    whiten = np.linalg.inv(np.linalg.cholesky(emp))
    return x @ whiten.T @ np.linalg.cholesky(cov).T + mu


def test_frechet_diagonal_closed_form():
    # commuting (diagonal) covariances: FD = ||dmu||² + Σ_i (σ_a,i - σ_b,i)²
    mu_a, mu_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    sa, sb = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.5, 0.5])
    want = np.sum((mu_a - mu_b) ** 2) + np.sum((sa - sb) ** 2)
    got = metrics.frechet_distance_gaussians(mu_a, np.diag(sa**2), mu_b, np.diag(sb**2))
    assert got == pytest.approx(want, abs=1e-9)


def test_frechet_general_against_scipy_sqrtm():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    cov_a, cov_b = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    mu_a, mu_b = rng.standard_normal(4), rng.standard_normal(4)
    want = (np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b)
            - 2 * np.real(np.trace(sqrtm(cov_a @ cov_b))))
    got = metrics.frechet_distance_gaussians(mu_a, cov_a, mu_b, cov_b)
    assert got == pytest.approx(want, rel=1e-8)
    # symmetric, zero for identical Gaussians, and not zero for different ones
    assert metrics.frechet_distance_gaussians(mu_b, cov_b, mu_a, cov_a) == pytest.approx(got)
    assert metrics.frechet_distance_gaussians(mu_a, cov_a, mu_a, cov_a) == pytest.approx(
        0.0, abs=1e-9)
    assert got > 1.0


def test_frechet_distance_from_features_matches_gaussian_formula():
    rng = np.random.default_rng(1)
    mu_a, mu_b = np.array([0.0, 0.0]), np.array([3.0, -1.0])
    cov_a = np.array([[2.0, 0.5], [0.5, 1.0]])
    cov_b = np.array([[1.0, -0.3], [-0.3, 0.5]])
    xa = _samples_with_exact_moments(mu_a, cov_a, 400, rng)
    xb = _samples_with_exact_moments(mu_b, cov_b, 300, rng)
    want = metrics.frechet_distance_gaussians(mu_a, cov_a, mu_b, cov_b)
    got = metrics.frechet_distance(torch.tensor(xa), torch.tensor(xb))
    assert got == pytest.approx(want, rel=1e-6)
    # 1-D closed form: (m_a - m_b)² + (s_a - s_b)²
    x1 = _samples_with_exact_moments(np.array([1.0]), np.array([[4.0]]), 50, rng)
    x2 = _samples_with_exact_moments(np.array([-1.0]), np.array([[1.0]]), 60, rng)
    assert metrics.frechet_distance(x1, x2) == pytest.approx(4.0 + 1.0, rel=1e-6)


def test_frechet_distance_rejects_mismatched_features():
    with pytest.raises(ValueError):
        metrics.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))


def test_eval_cnn_shapes_and_resizing():
    model = evaluation.EvalCNN()
    x = torch.rand(6, 1, 28, 28)
    assert model(x).shape == (6, 10)
    assert evaluation.classifier_features(model, x).shape == (6, evaluation.EvalCNN.feature_dim)
    # 32×32 inputs are resized to 28×28
    assert model(torch.rand(3, 1, 32, 32)).shape == (3, 10)


def test_classifier_learns_a_separable_toy_task():
    # two classes: a bright left half vs a bright right half (plus noise)
    g = torch.Generator().manual_seed(0)
    n = 256
    y = torch.randint(0, 2, (n,), generator=g)
    x = 0.2 * torch.rand(n, 1, 28, 28, generator=g)
    x[y == 0, :, :, :14] += 0.7
    x[y == 1, :, :, 14:] += 0.7
    untrained = evaluation.EvalCNN(2)
    cfg = evaluation.ClassifierConfig(epochs=2, batch_size=32, augment_shift=0)
    model = evaluation.train_classifier(x, y, cfg)
    acc = evaluation.classifier_accuracy(model, x, y)
    assert acc > 0.95
    assert acc > evaluation.classifier_accuracy(untrained, x, y)
    # the same class gives a small FD, different classes a large one
    same = metrics.classifier_fid(model, x[y == 0][:60], x[y == 0][60:])
    diff = metrics.classifier_fid(model, x[y == 0], x[y == 1])
    assert diff > 5 * same


def test_feature_spread_is_the_mean_within_class_rms_distance():
    from course_utils.evaluation import EvalCNN, classifier_features
    from course_utils.metrics import feature_spread

    torch.manual_seed(0)
    model = EvalCNN().eval()
    images = torch.rand(12, 1, 28, 28)
    labels = torch.tensor([0, 1, 2] * 4)
    feats = classifier_features(model, images).numpy()
    want = np.mean([np.sqrt(np.mean([np.sum((feats[i] - feats[labels.numpy() == c].mean(0)) ** 2)
                                     for i in np.flatnonzero(labels.numpy() == c)])) for c in range(3)])
    assert feature_spread(model, images, labels) == pytest.approx(float(want), rel=1e-5)
    # the same image repeated within each class: no spread at all
    same = images[:3].repeat(4, 1, 1, 1)
    assert feature_spread(model, same, labels) == pytest.approx(0.0, abs=1e-5)


def test_real_fid_floor_draws_per_class_from_the_pool():
    from course_utils.evaluation import EvalCNN
    from course_utils.metrics import real_fid_floor

    torch.manual_seed(0)
    model = EvalCNN().eval()
    ref = torch.rand(9, 1, 28, 28)
    ref_labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    # a pool that is the reference itself: every draw takes all of each class, a permutation, FID 0
    floors = real_fid_floor(model, ref, ref_labels, ref, {0: 3, 1: 3, 2: 3}, draws=3)
    assert floors.shape == (3,)
    assert floors.abs().max().item() < 1e-3
    # a pool of other images is not the reference: FID > 0, different draws differ
    pool = torch.rand(30, 1, 28, 28)
    pool_labels = torch.arange(3).repeat(10)
    other = real_fid_floor(model, pool, pool_labels, ref, {0: 3, 1: 3, 2: 3}, draws=3)
    assert other.min().item() > 1e-3 and other.std().item() > 0
    with pytest.raises(ValueError, match="the pool has 10 images of class 1"):
        real_fid_floor(model, pool, pool_labels, ref, {1: 11})
