"""Evaluation of generated digits: a small CNN classifier, conditional accuracy, Fréchet distance.

- ``EvalCNN``: a small convolutional classifier of 28×28 images (two conv blocks, a 128-unit
  feature layer, 10 logits). ``evaluation_classifier(dataset)`` trains it once on the real
  training split of MNIST or Fashion-MNIST and caches it with ``course_utils.checkpoints``
  (keyed by its config, structure and training data; shared by every notebook). It returns an
  ``Evaluator``: the model with its test accuracy and the data it was trained on.
- ``classifier_accuracy``: the fraction of images the classifier labels as ``labels``; for a
  conditional GAN's samples G(z, y) this is the *conditional accuracy*.
- ``frechet_distance``: FD = ||mu_a - mu_b||² + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}) between the
  Gaussians fitted to two feature sets. In the classifier's 128-d feature space it is a
  "classifier-FID" (the FID of Heusel et al. 2017 uses Inception-v3 features instead, which
  we cannot download here; numbers are therefore not comparable with published FIDs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class EvalCNN(nn.Module):
    """x (N×1×28×28 in [0, 1]) -> logits (N×10); ``features(x)`` gives the N×128 layer."""

    feature_dim = 128

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 28 -> 14
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 7
            nn.Flatten(), nn.Linear(32 * 7 * 7, self.feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(self.feature_dim, n_classes)

    @staticmethod
    def _prepare(x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.shape[-2:] != (28, 28):
            x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 128-d penultimate layer (after ReLU), used for the Fréchet distance."""
        return self.body(self._prepare(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass(frozen=True)
class ClassifierConfig:
    epochs: int = 6            # passes over the training split
    batch_size: int = 64
    lr: float = 1e-3           # Adam
    augment_shift: int = 2     # random translations of up to this many pixels (robustness)
    seed: int = 0
    n_train: int | None = None  # a fixed subset of the training split (None: all of it)


def _shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    if max_shift <= 0:
        return x
    pad = F.pad(x, (max_shift,) * 4)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2,), generator=generator).tolist()
    return pad[..., dy:dy + x.shape[-2], dx:dx + x.shape[-1]]


def train_classifier(images: torch.Tensor, labels: torch.Tensor,
                     config: ClassifierConfig = ClassifierConfig(), *, progress: bool = True) -> EvalCNN:
    """Train an EvalCNN with cross-entropy on images (N×1×28×28 in [0, 1]) and labels (N,)."""
    from course_utils import profile
    from course_utils.train import fit

    gen = torch.Generator().manual_seed(config.seed)
    with profile.seeded(config.seed):  # reproducible init, the caller's generator untouched
        model = EvalCNN(int(labels.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)

    def step(batch):
        x, y = batch
        loss = F.cross_entropy(model(_shift(x, config.augment_shift, gen)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    fit(step, (images, labels), epochs=config.epochs, batch_size=config.batch_size, modules={"cnn": model},
        optimizers={"adam": opt}, seed=config.seed, desc="evaluation CNN", drop_last=False, progress=progress)
    return model


@torch.no_grad()
def classifier_predict(model: EvalCNN, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Predicted class argmax_k p(k | x) for images (N×1×H×W in [0, 1]) -> (N,)."""
    model.eval()
    dev = next(model.parameters()).device
    out = [model(images[i:i + batch_size].to(dev)).argmax(1).cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def classifier_accuracy(model: EvalCNN, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of images (N×1×H×W in [0, 1]) classified as their labels (N,)."""
    return float((classifier_predict(model, images) == labels.cpu()).float().mean())


@torch.no_grad()
def classifier_features(model: EvalCNN, images: torch.Tensor,
                        batch_size: int = 500) -> torch.Tensor:
    """The classifier's 128-d features of images (N×1×H×W in [0, 1]) -> (N×128)."""
    model.eval()
    dev = next(model.parameters()).device
    out = [model.features(images[i:i + batch_size].to(dev)).cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out)


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


@dataclass(frozen=True)
class Evaluator:
    """The evaluation classifier of a data set, with its accuracy on that data set's real test split."""

    model: EvalCNN
    test_accuracy: float  # on every real test image of ``dataset``
    dataset: str          # "mnist" or "fashion_mnist"
    source: str           # where its training images came from (course_utils.data's source line)
    n_train: int          # how many training images


def evaluation_classifier(dataset: str = "mnist", config: ClassifierConfig | None = None, *,
                          verbose: bool = True) -> Evaluator:
    """The evaluation CNN trained on the real training split of ``dataset``, cached in data/checkpoints.

    The first call trains it (seconds to a minute on a CPU); later calls, from any notebook, load
    it. The cache key holds the config, the network's structure and the training data (source and
    size), so installing the full data set retrains it instead of reusing the embedded-data model.
    """
    from course_utils import checkpoints, data, profile

    if config is None:  # smoke: a quick model that proves the pipeline; cpu/full: the real one
        config = profile.pick(smoke=ClassifierConfig(epochs=1, n_train=2000, batch_size=32),
                              cpu=ClassifierConfig(),
                              full=ClassifierConfig(epochs=10))
    train = data.load(dataset, split="train", n=config.n_train, verbose=verbose)
    test = data.load(dataset, split="test", verbose=verbose)
    model = EvalCNN(len(train.classes))
    key = checkpoints.key("metrics", f"eval_cnn_{dataset}", config=config, modules={"cnn": model},
                          data=train)
    state = checkpoints.load(key)
    if state is not None:
        model.load_state_dict(state["model"])
        acc = float(state["test_accuracy"])
    else:
        model = train_classifier(train.images, train.labels, config, progress=verbose)
        acc = classifier_accuracy(model, test.images, test.labels)
        if not profile.dry_run():  # a capped (dry) run's classifier is not worth keeping
            checkpoints.save(key, {"model": model.state_dict(), "test_accuracy": acc})
    model.eval()
    if verbose:
        print(f"evaluation classifier ({dataset}): test accuracy {acc:.4f} on {len(test.images)} real "
              f"test images ({key.name})")
    return Evaluator(model.to(profile.device()), acc, dataset, train.source, len(train.images))
