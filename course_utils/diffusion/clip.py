"""A small CLIP of the course's own (Radford et al. 2021), for images with words, and its captions.

- ``class_words(dataset, lang)``: the ten class words (Fashion-MNIST's garments or MNIST's "zero" … "nine";
  in Chinese 裤子, 大衣 … or 数字0 … 数字9); ``load_with_words``: Fashion-MNIST when it is installed, else
  MNIST with digit words.
- ``Captioner``: captions from templates in English and in Chinese ("a photo of a {class}", "a {dark|light}
  {class}", "a {small|large} {class}", a group phrase such as "something you wear on your feet"; 一张裤子的
  照片, 一条深色的裤子, 一条较小的裤子, 可以穿在脚上的东西 …). The adjectives describe the image itself:
  its ink is darker or lighter, it covers less or more of the frame than the class median (medians from the
  training images). ``vocabulary()``: every word its captions use.
- ``Tokenizer``: words of the captions' vocabulary; English split at spaces and punctuation, Chinese by
  longest match over the Chinese words (``course_utils.i18n.segment``); <pad> = 0, <unk> = 1. A word it
  never saw becomes <unk> and ``unknown`` names it, in either language: what a tiny vocabulary cannot do, a
  real CLIP's byte-pair encoding over 400 million captions can.
- ``TextEncoder``: token + position embeddings, one pre-norm transformer layer, mean over the
  caption's tokens, a linear projection, unit length.
- ``ImageEncoder``: the noisy classifier's network (``guidance.NoisyClassifier``) with D outputs,
  unit length: f(x_t, t). The clean CLIP calls it at t = 0; the noise-aware copy that CLIP
  guidance differentiates is trained on noised images x_t (as GLIDE's noised CLIP).
- ``CLIP``: the two encoders and the learned temperature; ``info_nce`` the symmetric contrastive loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils import profile
from course_utils.diffusion.guidance import ClassifierConfig, NoisyClassifier
from course_utils.i18n.segment import Segmenter, is_chinese

WORDS = {
    "fashion_mnist": ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                      "ankle boot"),
    "mnist": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
}
#: The class words in Chinese, and the number word + measure word (量词) that goes before each: 一条裤子.
WORDS_ZH = {
    "fashion_mnist": ("T恤", "裤子", "套头衫", "连衣裙", "大衣", "凉鞋", "衬衫", "运动鞋", "包", "短靴"),
    "mnist": tuple(f"数字{c}" for c in range(10)),
}
MEASURES_ZH = {
    "fashion_mnist": ("一件", "一条", "一件", "一条", "一件", "一只", "一件", "一只", "一个", "一只"),
    "mnist": ("一个",) * 10,
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
#: The same groups in Chinese, a space between words (the caption is written without them).
GROUPS_ZH = {
    "fashion_mnist": {0: "可以 穿在 上身 的 东西", 2: "可以 穿在 上身 的 东西", 4: "可以 穿在 上身 的 东西",
                      6: "可以 穿在 上身 的 东西", 1: "可以 穿在 腿上 的 东西", 3: "可以 穿在 全身 的 东西",
                      5: "可以 穿在 脚上 的 东西", 7: "可以 穿在 脚上 的 东西", 9: "可以 穿在 脚上 的 东西",
                      8: "可以 随身 携带 的 东西"},
    "mnist": {c: "一个 偶数" if c % 2 == 0 else "一个 奇数" for c in range(10)},
}

#: The caption templates; {w} is the class word, {shade} dark/light, {size} small/large, {group} the group phrase.
TEMPLATES = ("a photo of a {w}", "a {w}", "a {shade} {w}", "a {size} {w}", "a photo of a {shade} {size} {w}",
             "{group}")
#: The same six in Chinese, in the same order; {m} is the class's 一条/一件/一只/一个. A space separates words
#: (the caption has none: 一条深色的裤子); "、" is punctuation, not a word.
TEMPLATES_ZH = ("一张 {w} 的 照片", "{m} {w}", "{m} {shade} 的 {w}", "{m} {size} 的 {w}",
                "一张 {shade} 、 {size} 的 {w} 的 照片", "{group}")
SHADES, SIZES = ("dark", "light"), ("small", "large")
SHADES_ZH = {"dark": "深色", "light": "浅色"}
SIZES_ZH = {"small": "较小", "large": "较大"}


def class_words(dataset: str, lang: str = "en") -> tuple[str, ...]:
    """The ten class words of ``dataset`` ("fashion_mnist" or "mnist") in ``lang`` ("en" or "zh")."""
    if dataset not in WORDS:
        raise ValueError(f"unknown data set {dataset!r}: valid ones are {', '.join(WORDS)}")
    if lang not in ("en", "zh"):
        raise ValueError(f"lang must be 'en' or 'zh', got {lang!r}")
    return WORDS[dataset] if lang == "en" else WORDS_ZH[dataset]


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

    def _lang(self, template: str, lang: str | None) -> str:
        if lang is None:
            return "zh" if is_chinese(template) else "en"
        if lang not in ("en", "zh"):
            raise ValueError(f"lang must be 'en', 'zh' or None (Chinese when the template is), got {lang!r}")
        return lang

    def _fill(self, template: str, label: int, shade: str, size: str, lang: str) -> str:
        if shade not in SHADES or size not in SIZES:
            raise ValueError(f"shade must be one of {SHADES} and size one of {SIZES}, got {shade!r}, {size!r}")
        if lang == "zh":
            return template.format(w=WORDS_ZH[self.dataset][label], m=MEASURES_ZH[self.dataset][label],
                                   shade=SHADES_ZH[shade], size=SIZES_ZH[size], group=GROUPS_ZH[self.dataset][label])
        return template.format(w=class_words(self.dataset)[label], shade=shade, size=size,
                               group=GROUPS[self.dataset][label])

    def caption(self, template: str, label: int, shade: str = "dark", size: str = "small",
                lang: str | None = None) -> str:
        """One caption: ``template`` (of TEMPLATES or TEMPLATES_ZH, or a new one) for class ``label``.

        ``lang``: the template's language (None: Chinese when it holds a Chinese character; "{group}" is
        English unless lang="zh"). Chinese is written without spaces: "{m} {shade} 的 {w}" → 一条深色的裤子.
        """
        text = self._fill(template, label, shade, size, self._lang(template, lang))
        return text.replace(" ", "") if self._lang(template, lang) == "zh" else text

    def caption_words(self, template: str, label: int, shade: str = "dark", size: str = "small",
                      lang: str | None = None) -> list[str]:
        """The words of one caption, lower-cased: English split at spaces and punctuation (as the tokenizer
        does), Chinese as the template and the phrases write them, a space between words ("、" is none)."""
        text = self._fill(template, label, shade, size, self._lang(template, lang))
        if self._lang(template, lang) == "zh":
            return [w.lower() for w in text.split() if Segmenter()(w)]
        return Segmenter()(text)

    def captions(self, images: Tensor, labels: Tensor) -> list[list[str]]:
        """Every template's caption of every image: a list (images) of lists (TEMPLATES, then TEMPLATES_ZH)."""
        shades, sizes = self.adjectives(images, labels)
        langs = ["en"] * len(TEMPLATES) + ["zh"] * len(TEMPLATES_ZH)
        return [[self.caption(tpl, int(c), sh, sz, lang) for tpl, lang in zip(TEMPLATES + TEMPLATES_ZH, langs)]
                for c, sh, sz in zip(labels.tolist(), shades, sizes)]

    def vocabulary(self) -> list[str]:
        """Every word of every caption this captioner can write (both languages), sorted."""
        cases = [(tpl, lang) for tpls, lang in ((TEMPLATES, "en"), (TEMPLATES_ZH, "zh")) for tpl in tpls]
        return sorted({w for tpl, lang in cases for c in range(len(WORDS[self.dataset])) for sh in SHADES
                       for sz in SIZES for w in self.caption_words(tpl, c, sh, sz, lang)})


class Tokenizer:
    """Word-level tokens; 0 is <pad>, 1 is <unk>, then the vocabulary (sorted).

    English words are split at spaces and punctuation; Chinese words (any with a Chinese character) are
    found by longest match (``course_utils.i18n.segment.Segmenter``), and Chinese characters that begin no
    known word make one unknown word. Lower-cased.
    """

    PAD, UNK = 0, 1

    def __init__(self, vocabulary: Iterable[str], max_len: int = 10) -> None:
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"max_len must be a whole number >= 1 (tokens per text), got {max_len!r}")
        self.words = sorted({w.lower() for w in vocabulary})
        self.index = {w: i + 2 for i, w in enumerate(self.words)}
        self.max_len = max_len
        self.segmenter = Segmenter(w for w in self.words if is_chinese(w))

    def split(self, text: str) -> list[str]:
        """The words of ``text``: known ones, and unknown ones (English words, runs of Chinese characters)."""
        return self.segmenter(text)

    @classmethod
    def from_captions(cls, captions: Iterable[str], max_len: int = 10) -> Tokenizer:
        """A tokenizer of the words of English captions; Chinese ones have no spaces to split at (a ValueError:
        pass their words, e.g. ``Captioner.vocabulary()``)."""
        captions = list(captions)
        chinese = [c for c in captions if is_chinese(c)]
        if chinese:
            raise ValueError(f"{chinese[0]!r} is Chinese: its words are not separated by spaces, so they cannot be "
                             "read off the caption; build the tokenizer from its words (Tokenizer(words), "
                             "Captioner.vocabulary())")
        return cls((w for c in captions for w in Segmenter()(c)), max_len)

    def __len__(self) -> int:
        return len(self.words) + 2

    def unknown(self, text: str) -> list[str]:
        """The words of ``text`` this tokenizer never saw (English words, or runs of Chinese characters)."""
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
                raise ValueError(f"the text {text!r} has no words (letters, digits or Chinese characters)")
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
