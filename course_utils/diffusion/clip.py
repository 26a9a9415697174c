"""A small CLIP of the course's own (Radford et al. 2021), for images with words, and its captions.

- ``class_words(dataset)``: the ten class words (Fashion-MNIST's garments or MNIST's "zero" … "nine");
  ``load_with_words``: Fashion-MNIST when it is installed, else MNIST with digit words.
- ``Captioner``: captions from templates ("a photo of a {class}", "a {dark|light} {class}",
  "a {small|large} {class}", a group phrase such as "something you wear on your feet"). The
  adjectives describe the image itself: its ink is darker or lighter, it covers less or more of
  the frame than the class median (medians from the training images).
- ``Tokenizer``: lower-case words ([a-z0-9]+) over the training captions; <pad> = 0, <unk> = 1.
  A word it never saw becomes <unk>: what a tiny vocabulary cannot do, a real CLIP's byte-pair
  encoding over 400 million captions can.
- ``TextEncoder``: token + position embeddings, one pre-norm transformer layer, mean over the
  caption's tokens, a linear projection, unit length.
- ``ImageEncoder``: the noisy classifier's network (``guidance.NoisyClassifier``) with D outputs,
  unit length: f(x_t, t). The clean CLIP calls it at t = 0; the noise-aware copy that CLIP
  guidance differentiates is trained on noised images x_t (as GLIDE's noised CLIP).
- ``CLIP``: the two encoders and the learned temperature; ``info_nce`` the symmetric contrastive loss.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils import profile
from course_utils.diffusion.guidance import ClassifierConfig, NoisyClassifier

WORDS = {
    "fashion_mnist": ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                      "ankle boot"),
    "mnist": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
}

#: Phrases that name a group of classes without naming the class (class index → phrase).
GROUPS = {
    "fashion_mnist": {0: "something you wear on your upper body", 2: "something you wear on your upper body",
                      4: "something you wear on your upper body", 6: "something you wear on your upper body",
                      1: "something you wear on your legs", 3: "something you wear on your whole body",
                      5: "something you wear on your feet", 7: "something you wear on your feet",
                      9: "something you wear on your feet", 8: "something you carry"},
    "mnist": {c: "an even digit" if c % 2 == 0 else "an odd digit" for c in range(10)},
}

#: The caption templates; {w} is the class word, {shade} dark/light, {size} small/large, {group} the group phrase.
TEMPLATES = ("a photo of a {w}", "a {w}", "a {shade} {w}", "a {size} {w}", "a photo of a {shade} {size} {w}",
             "{group}")


def class_words(dataset: str) -> tuple[str, ...]:
    """The ten class words of ``dataset`` ("fashion_mnist" or "mnist")."""
    if dataset not in WORDS:
        raise ValueError(f"unknown data set {dataset!r}: valid ones are {', '.join(WORDS)}")
    return WORDS[dataset]


def load_with_words(dataset: str, split: str = "train", *, strict: bool = False):
    """The images of ``dataset`` with words for their classes: Fashion-MNIST when asked for and found,
    else MNIST with digit words (printing why). ``strict`` (the full profile): the real data sets only.

    Returns a ``data.ImageSet``; its ``name`` says which path was taken.
    """
    from course_utils import data

    class_words(dataset)  # an unknown data set is an error here, not a silent fallback
    if dataset == "fashion_mnist":
        try:
            return data.load("fashion_mnist", split=split, strict=strict)
        except data.DataNotFoundError as err:
            print(f"{err}\n→ using MNIST with digit words instead")
    return data.load("mnist", split=split, strict=strict)


def image_attributes(images: Tensor) -> tuple[Tensor, Tensor]:
    """Per image: the mean brightness of its ink (pixels > 0.1) and the fraction of the frame it covers."""
    flat = images.flatten(1)
    ink = flat > 0.1
    area = ink.float().mean(1)
    brightness = (flat * ink).sum(1) / ink.sum(1).clamp(min=1)
    return brightness, area


@dataclass(frozen=True)
class Captioner:
    """Captions for images of one data set; the attribute thresholds are class medians of training images."""

    dataset: str
    brightness_median: tuple[float, ...]  # per class
    area_median: tuple[float, ...]        # per class

    @classmethod
    def fit(cls, dataset: str, images: Tensor, labels: Tensor) -> Captioner:
        k = len(class_words(dataset))
        b, a = image_attributes(images)
        return cls(dataset, tuple(b[labels == c].median().item() for c in range(k)),
                   tuple(a[labels == c].median().item() for c in range(k)))

    def adjectives(self, images: Tensor, labels: Tensor) -> tuple[list[str], list[str]]:
        """("dark" | "light", "small" | "large") of each image, relative to its class's median."""
        b, a = image_attributes(images)
        bm = torch.tensor(self.brightness_median)[labels]
        am = torch.tensor(self.area_median)[labels]
        return (["light" if v else "dark" for v in (b > bm).tolist()],
                ["large" if v else "small" for v in (a > am).tolist()])

    def caption(self, template: str, label: int, shade: str = "dark", size: str = "small") -> str:
        word = class_words(self.dataset)[label]
        return template.format(w=word, shade=shade, size=size, group=GROUPS[self.dataset][label])

    def captions(self, images: Tensor, labels: Tensor) -> list[list[str]]:
        """Every template's caption of every image: a list (images) of lists (templates)."""
        shades, sizes = self.adjectives(images, labels)
        return [[self.caption(tpl, int(c), sh, sz) for tpl in TEMPLATES]
                for c, sh, sz in zip(labels.tolist(), shades, sizes)]


class Tokenizer:
    """Word-level tokens: lower-case [a-z0-9]+ words; 0 is <pad>, 1 is <unk>, then the vocabulary."""

    PAD, UNK = 0, 1

    def __init__(self, vocabulary: Iterable[str], max_len: int = 10) -> None:
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"max_len must be a whole number >= 1 (tokens per text), got {max_len!r}")
        self.words = sorted(set(vocabulary))
        self.index = {w: i + 2 for i, w in enumerate(self.words)}
        self.max_len = max_len

    @staticmethod
    def split(text: str) -> list[str]:
        return re.findall(r"[a-z0-9]+", text.lower())

    @classmethod
    def from_captions(cls, captions: Iterable[str], max_len: int = 10) -> Tokenizer:
        return cls((w for c in captions for w in cls.split(c)), max_len)

    def __len__(self) -> int:
        return len(self.words) + 2

    def unknown(self, text: str) -> list[str]:
        """The words of ``text`` this tokenizer never saw."""
        return [w for w in self.split(text) if w not in self.index]

    def encode(self, texts: str | Sequence[str]) -> Tensor:
        """(B, max_len) token ids, padded with 0; raises on a text with no words or too many."""
        if not isinstance(texts, str) and not (isinstance(texts, Sequence) and all(isinstance(t, str) for t in texts)):
            raise TypeError(f"texts must be a caption (str) or a sequence of captions, got {texts!r}")
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = torch.zeros(len(texts), self.max_len, dtype=torch.long)
        for i, text in enumerate(texts):
            ids = [self.index.get(w, self.UNK) for w in self.split(text)]
            if not ids:
                raise ValueError(f"the text {text!r} has no words (letters or digits)")
            if len(ids) > self.max_len:
                raise ValueError(f"the text {text!r} has {len(ids)} words; at most {self.max_len} fit")
            out[i, :len(ids)] = torch.tensor(ids)
        return out


@dataclass(frozen=True)
class CLIPConfig:
    """Sizes and training of the small CLIP (hashed into its checkpoint key)."""

    embed_dim: int = 64                    # D, the joint embedding space
    channels: tuple[int, ...] = (16, 32, 64)  # image encoder width at 28, 14, 7 pixels
    time_dim: int = 64                     # the image encoder's time embedding (t = 0 for clean images)
    width: int = 64                        # text encoder width
    heads: int = 4                         # attention heads in the text encoder
    layers: int = 1                        # transformer layers in the text encoder
    max_len: int = 10                      # tokens per caption
    epochs: int = 3                        # passes over the training images
    batch_size: int = 256                  # image–caption pairs per step (the negatives of InfoNCE)
    lr: float = 2e-3                       # AdamW
    n_train: int | None = None             # training images (None: all)
    seed: int = 0                          # initialisation and batch order


class ImageEncoder(nn.Module):
    """f(x_t, t): images (B, C, H, W) in [−1, 1] and t (B,) or int (0: clean) → unit vectors (B, D)."""

    def __init__(self, config: CLIPConfig, in_channels: int = 1) -> None:
        super().__init__()
        trunk = ClassifierConfig(channels=config.channels, emb_dim=config.time_dim, n_classes=config.embed_dim)
        self.net = NoisyClassifier(trunk, in_channels)

    def forward(self, x_t: Tensor, t: Tensor | int = 0) -> Tensor:
        return F.normalize(self.net(x_t, t), dim=-1)


class TextEncoder(nn.Module):
    """g(c): token ids (B, L) → unit vectors (B, D)."""

    def __init__(self, config: CLIPConfig, vocab_size: int) -> None:
        super().__init__()
        self.token = nn.Embedding(vocab_size, config.width, padding_idx=Tokenizer.PAD)
        self.position = nn.Parameter(torch.randn(config.max_len, config.width) * 0.02)
        layer = nn.TransformerEncoderLayer(config.width, config.heads, 2 * config.width, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.width)
        self.proj = nn.Linear(config.width, config.embed_dim)

    def forward(self, tokens: Tensor) -> Tensor:
        pad = tokens == Tokenizer.PAD
        h = self.token(tokens) + self.position[: tokens.shape[1]]
        h = self.norm(self.blocks(h, src_key_padding_mask=pad))
        keep = (~pad).unsqueeze(-1).to(h.dtype)
        return F.normalize(self.proj((h * keep).sum(1) / keep.sum(1).clamp(min=1)), dim=-1)


class CLIP(nn.Module):
    """An image encoder f, a text encoder g, and the learned inverse temperature exp(logit_scale)."""

    def __init__(self, config: CLIPConfig, vocab_size: int) -> None:
        super().__init__()
        self.config = config
        self.image = ImageEncoder(config)
        self.text = TextEncoder(config, vocab_size)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))  # CLIP's initial temperature 0.07

    def scale(self) -> Tensor:
        """exp(logit_scale), clipped at 100 as in CLIP."""
        return self.logit_scale.exp().clamp(max=100.0)


def info_nce(image_emb: Tensor, text_emb: Tensor, scale: Tensor | float) -> Tensor:
    """CLIP's symmetric contrastive loss: pair i's image and caption are the positives of row and column i.

    logits = scale · F Gᵀ (unit vectors), loss = ½ [CE(logits, i) + CE(logitsᵀ, i)].
    """
    if not bool(torch.isfinite(torch.as_tensor(scale)).all()) or not bool((torch.as_tensor(scale) > 0).all()):
        raise ValueError(f"scale (the inverse temperature) must be finite and > 0, got {scale!r}")
    logits = scale * image_emb @ text_emb.T
    target = torch.arange(len(logits), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


#: The small CLIP per profile (cpu: 3 passes over Fashion-MNIST's 60,000 images, about 700 steps).
CLIP_CONFIGS = {
    "smoke": CLIPConfig(embed_dim=32, channels=(8, 16, 16), time_dim=32, width=32, epochs=2, n_train=1024,
                        batch_size=128),
    "cpu": CLIPConfig(),
    "full": CLIPConfig(embed_dim=128, channels=(32, 64, 128), time_dim=128, width=128, layers=2, epochs=20,
                       lr=1e-3),
}


def clip_config(profile_name: str | None = None) -> CLIPConfig:
    """The small CLIP's config at the active profile (or ``profile_name``)."""
    return profile.pick(**CLIP_CONFIGS, profile=profile_name)
