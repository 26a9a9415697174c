"""Measures of generated images in a feature space: Fréchet distance, spread within classes, the real floor.

- ``frechet_distance``: FD = ||mu_a - mu_b||² + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}) between the
  Gaussians fitted to two feature sets. In the evaluation classifier's 128-d feature space
  (``course_utils.evaluation``) it is a "classifier-FID" (the FID of Heusel et al. 2017 uses
  Inception-v3 features instead, which we cannot download here; numbers are therefore not
  comparable with published FIDs).
- ``feature_spread``: the diversity within classes in that feature space.
- ``real_fid_floor``: the classifier-FID that real images score against the reference at the same n
  (what a perfect generator would score).
"""

from __future__ import annotations

import numpy as np
import torch

from course_utils.evaluation import EvalCNN, classifier_features


def frechet_distance_gaussians(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray,
                               cov_b: np.ndarray) -> float:
    """FD between N(mu_a, S_a) and N(mu_b, S_b): ||mu_a-mu_b||² + Tr(S_a+S_b-2(S_a S_b)^½).

    Tr (S_a S_b)^½ = Σ_i sqrt(λ_i(A S_b A)) with A = S_a^½ (A S_b A is symmetric PSD and has
    the eigenvalues of S_a S_b), so only symmetric eigen-decompositions are needed.
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    w, v = np.linalg.eigh((cov_a + cov_a.T) / 2)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = sqrt_a @ cov_b @ sqrt_a
    lam = np.linalg.eigvalsh((m + m.T) / 2)
    tr_sqrt = float(np.sqrt(np.clip(lam, 0, None)).sum())
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt)


def frechet_distance(feats_a: torch.Tensor | np.ndarray, feats_b: torch.Tensor | np.ndarray) -> float:
    """FD between Gaussians fitted to two feature sets (N_a×F and N_b×F; unbiased covariances)."""
    a = np.asarray(feats_a.detach().cpu() if hasattr(feats_a, "detach") else feats_a, np.float64)
    b = np.asarray(feats_b.detach().cpu() if hasattr(feats_b, "detach") else feats_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected two N×F feature matrices, got {a.shape} and {b.shape}")
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    return frechet_distance_gaussians(a.mean(0), cov_a, b.mean(0), cov_b)


def classifier_fid(model: EvalCNN, images_a: torch.Tensor, images_b: torch.Tensor) -> float:
    """Fréchet distance between two image sets in the classifier's feature space."""
    return frechet_distance(classifier_features(model, images_a),
                            classifier_features(model, images_b))


def feature_spread(model: EvalCNN, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Diversity within classes: the mean over the classes present of the RMS distance of the
    classifier's features to their class mean (0 when every image of a class is the same)."""
    feats = classifier_features(model, images)
    labels = labels.to(feats.device)
    rms = [(feats[labels == c] - feats[labels == c].mean(0)).pow(2).sum(1).mean().sqrt()
           for c in labels.unique()]
    return torch.stack(rms).mean().item()


def real_fid_floor(model: EvalCNN, pool_images: torch.Tensor, pool_labels: torch.Tensor, reference: torch.Tensor,
                   per_class: dict[int, int], draws: int = 5) -> torch.Tensor:
    """The classifier-FID a perfect generator would score: real images against ``reference``, at the same n.

    Each draw takes ``per_class[c]`` random images of class c from the pool (real training images, never
    the reference itself); returns the ``draws`` FIDs. FID from a few hundred images is biased upwards
    (covariances of 128 features) and one draw is noisy, so a notebook reports their mean as the floor.
    """
    out = []
    for seed in range(draws):
        gen = torch.Generator().manual_seed(seed)
        idx = []
        for c, n in per_class.items():
            members = torch.nonzero(pool_labels == c).flatten()
            if len(members) < n:
                raise ValueError(f"the pool has {len(members)} images of class {c}, the draw needs {n}")
            idx.append(members[torch.randperm(len(members), generator=gen)[:n]])
        out.append(classifier_fid(model, pool_images[torch.cat(idx)], reference))
    return torch.tensor(out)
