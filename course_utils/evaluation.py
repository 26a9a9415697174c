"""The course's evaluation classifier of generated digits (notebooks 08–14): a small CNN and its cache.

- ``EvalCNN``: a small convolutional classifier of 28×28 images (two conv blocks, a 128-unit
  feature layer, 10 logits). ``evaluation_classifier(dataset)`` trains it once on the real
  training split of MNIST or Fashion-MNIST and caches it with ``course_utils.checkpoints``
  (keyed by its config, structure and training data; shared by every notebook). It returns an
  ``Evaluator``: the model with its test accuracy and the data it was trained on.
- ``classifier_predict``, ``classifier_accuracy``: its labels of a batch of images; for a
  conditional GAN's samples G(z, y) the accuracy against y is the *conditional accuracy*.
- ``classifier_features``: its 128-d feature layer, the space in which ``course_utils.metrics``
  measures the classifier-FID and the spread within classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.i18n import t

#: the checkpoint folder of the evaluation classifiers (data/checkpoints/metrics/, the name it had
#: before this module was split out of course_utils.metrics: cached classifiers stay valid)
CHECKPOINT_FOLDER = "metrics"


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
    """How the evaluation CNN is trained (hashed into its checkpoint key)."""

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
    key = checkpoints.key(CHECKPOINT_FOLDER, f"eval_cnn_{dataset}", config=config, modules={"cnn": model},
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
        print(t("evaluation.classifier", dataset=dataset, acc=acc, n=len(test.images), name=key.name))
    return Evaluator(model.to(profile.device()), acc, dataset, train.source, len(train.images))
