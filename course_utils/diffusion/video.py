"""Text-to-video, tiny and real (notebook 14): moving-digit clips, their prompts, a space-time ε-network.

- ``make_clips``: clips (N, 1, F, S, S) of a digit, shrunk to ``patch``×``patch`` pixels and pasted
  into an S×S canvas, moving at ``speed`` pixels per frame in one of four directions
  (``DIRECTIONS``); ``prompt(digit, direction)`` is its caption, "a three moving right".
- ``tokenize``: a prompt's words → token ids over the closed vocabulary ``VOCAB`` (the text encoder
  is the network's ``PromptEncoder``: an embedding per word, summed).
- ``VideoUNet``: ε_θ(x_t, t, tokens) over (frames, height, width), factorised over space and time:
  2-D convolutions within each frame followed by 1-D (dilated) convolutions across frames at every
  pixel (the (2+1)-D convolutions of Tran et al. 2018, the pseudo-3-D convolutions of Make-A-Video,
  Singer et al. 2022), and attention across frames (with a learned frame position) at the lowest
  resolution (Video Diffusion Models, Ho et al. 2022, relate frames by this attention alone: their
  convolutions are space-only, 1×3×3); the time step, the prompt and each frame's index scale and
  shift the features (FiLM). Its training config is ``ddpm.DDPMConfig`` with a ``VideoUNetConfig``
  as the network, built by ``ddpm.build``.
- ``centre_of_mass``, ``motion``, ``follows``, ``direction_score``, ``frame_windows``: the
  measurements the notebook's checks use (where the digit is in each frame, which way it went,
  whether that is the prompt's way, the digit cut back out of each frame).

Image coordinates: rows grow downwards, so "down" is +row and "up" is −row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.diffusion.unet import timestep_embedding

DIRECTIONS = ("right", "left", "down", "up")
#: (Δrow, Δcol) of one step in each direction (rows grow downwards)
VELOCITY = torch.tensor([[0.0, 1.0], [0.0, -1.0], [1.0, 0.0], [-1.0, 0.0]])
#: the index of the opposite direction: right ↔ left, down ↔ up
OPPOSITE = torch.tensor([1, 0, 3, 2])
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PAD, NULL = 0, 1  # token ids: padding (embeds to 0) and the empty prompt ∅ (classifier-free guidance)
VOCAB = ("<pad>", "<null>", "a", "moving", *DIGIT_WORDS, *DIRECTIONS)
_IDS = {w: i for i, w in enumerate(VOCAB)}
PROMPT_LENGTH = 4  # "a <digit> moving <direction>"


def prompt(digit: int, direction: int) -> str:
    """The caption of a clip: ``prompt(3, 0)`` = "a three moving right"."""
    if not 0 <= int(digit) <= 9 or not 0 <= int(direction) < len(DIRECTIONS):
        raise ValueError(f"digit must be in 0..9 and direction in 0..{len(DIRECTIONS) - 1} "
                         f"({', '.join(DIRECTIONS)}), got {digit}, {direction}")
    return f"a {DIGIT_WORDS[int(digit)]} moving {DIRECTIONS[int(direction)]}"


def tokenize(prompts: Sequence[str], length: int = PROMPT_LENGTH) -> Tensor:
    """Prompts → token ids (B, length), padded with ``PAD``; the empty prompt "" is [NULL, PAD, …].

    Words are split on spaces and lower-cased; a word outside ``VOCAB`` is a ValueError (this toy
    text encoder knows 18 words, and says so rather than guess).
    """
    out = torch.full((len(prompts), length), PAD, dtype=torch.long)
    for i, text in enumerate(prompts):
        words = text.lower().split() or ["<null>"]
        if len(words) > length:
            raise ValueError(f"prompt {text!r} has {len(words)} words, at most {length} fit")
        unknown = [w for w in words if w not in _IDS or w in ("<pad>",)]
        if unknown:
            raise ValueError(f"unknown words {unknown} in {text!r}: the vocabulary is {', '.join(VOCAB[2:])}")
        out[i, :len(words)] = torch.tensor([_IDS[w] for w in words])
    return out


def null_tokens(n: int, length: int = PROMPT_LENGTH, device: torch.device | str | None = None) -> Tensor:
    """The empty prompt ∅ for n clips: (n, length) = [NULL, PAD, …] (what ``tokenize([""])`` gives)."""
    out = torch.full((n, length), PAD, dtype=torch.long, device=device)
    out[:, 0] = NULL
    return out


# ------------------------------------------------------------------------------------------ clips

def shift(frames: Tensor, d_row: int, d_col: int) -> Tensor:
    """Move the content of frames (..., H, W) by whole pixels (+row: down, +col: right); what leaves is lost.

    Not ``torch.roll``: nothing wraps around to the other side, the uncovered pixels are 0.
    """
    h, w = frames.shape[-2:]
    out = torch.zeros_like(frames)
    r0, r1 = max(d_row, 0), min(h + d_row, h)
    c0, c1 = max(d_col, 0), min(w + d_col, w)
    if r0 < r1 and c0 < c1:
        out[..., r0:r1, c0:c1] = frames[..., r0 - d_row:r1 - d_row, c0 - d_col:c1 - d_col]
    return out


def shrink(images: Tensor, patch: int) -> Tensor:
    """Images (N, 1, 28, 28) → (N, 1, patch, patch) by area averaging, each rescaled to peak 1
    (averaging thins faint strokes; the rescaling keeps the digit as bright as the original)."""
    small = F.interpolate(images, size=(patch, patch), mode="area")
    return small / small.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-6)


def make_clips(images: Tensor, directions: Tensor, *, size: int = 16, patch: int = 10, frames: int = 8,
               speed: int = 1, jitter: int = 1, generator: torch.Generator | None = None) -> Tensor:
    """Clips (N, 1, frames, size, size) in [0, 1] of each image (N, 1, H, W) moving in its direction.

    The image is shrunk to patch×patch (``shrink``) and placed so that its path of
    speed·(frames − 1) pixels is centred along the motion (± ``jitter`` pixels at random) and at a
    random place across it; frame k is frame 0 shifted by k·speed pixels in the direction
    (``VELOCITY``). The patch's empty border may leave the canvas; the digit (MNIST centres each
    digit's mass in a 20×20 box of its 28×28 frame) stays inside when patch + speed·(frames − 1) ≤ size + 2.
    """
    n = images.shape[0]
    travel = speed * (frames - 1)
    small = shrink(images, patch)[:, 0]                                  # (N, p, p)
    pad = patch + travel + jitter
    big = size + 2 * pad
    start_along = (size - patch - travel) // 2                            # top-left along the motion
    along = start_along + torch.randint(-jitter, jitter + 1, (n,), generator=generator)
    across = torch.randint(0, max(size - patch, 0) + 1, (n,), generator=generator)
    clips = torch.zeros(n, frames, size, size)
    for i in range(n):
        d = int(directions[i])
        v_row, v_col = (int(v) for v in VELOCITY[d])
        # the top-left corner of frame 0 such that the path runs along the direction of motion
        a = int(along[i]) if (v_row + v_col) > 0 else size - patch - int(along[i])
        r, c = (a, int(across[i])) if v_row != 0 else (int(across[i]), a)
        canvas = torch.zeros(big, big)
        canvas[pad + r:pad + r + patch, pad + c:pad + c + patch] = small[i]
        for k in range(frames):
            moved = shift(canvas, k * speed * v_row, k * speed * v_col)
            clips[i, k] = moved[pad:pad + size, pad:pad + size]
    return clips[:, None].clamp(0, 1)


# ------------------------------------------------------------------------------------------ measurements

def centre_of_mass(frames: Tensor) -> Tensor:
    """(row, col) of the centre of mass of frames (..., H, W) with non-negative values → (..., 2).

    Σ_ij p_ij (i, j) / Σ_ij p_ij, pixel indices from 0 (scipy.ndimage.center_of_mass's convention);
    an empty frame gives the frame's centre.
    """
    h, w = frames.shape[-2:]
    p = frames.clamp_min(0)
    mass = p.sum(dim=(-2, -1))
    rows = torch.arange(h, dtype=p.dtype, device=p.device)
    cols = torch.arange(w, dtype=p.dtype, device=p.device)
    r = (p.sum(-1) * rows).sum(-1)
    c = (p.sum(-2) * cols).sum(-1)
    centre = torch.stack([torch.full_like(mass, (h - 1) / 2), torch.full_like(mass, (w - 1) / 2)], -1)
    com = torch.stack([r, c], -1) / mass.clamp_min(1e-12)[..., None]
    return torch.where(mass[..., None] > 1e-6, com, centre)


def motion(clips: Tensor) -> tuple[Tensor, Tensor]:
    """Which way each clip (N, 1, F, H, W) moves: (direction index (N,), displacement (N, 2)).

    The displacement is the centre of mass in the last frame minus that in the first (row, col);
    the direction is the one of ``DIRECTIONS`` whose unit step has the largest dot product with it.
    """
    com = centre_of_mass(clips[:, 0])               # (N, F, 2)
    disp = com[:, -1] - com[:, 0]
    return (disp @ VELOCITY.to(disp).T).argmax(1), disp


def follows(clips: Tensor, directions: Tensor, min_shift: float) -> Tensor:
    """Whether each clip moves in its named direction: that direction's dot product with the
    displacement is the largest of the four and at least ``min_shift`` pixels → bool (N,)."""
    direction, disp = motion(clips)
    along = (disp * VELOCITY.to(disp)[directions.long()]).sum(1)
    return (direction == directions.to(direction.device)) & (along >= min_shift)


def direction_score(clips: Tensor, directions: Tensor, min_shift: float) -> float:
    """How much more often clips (N, 1, F, H, W) move their named way than the opposite way, in [−1, 1].

    score = P(follows(d)) − P(follows(opposite of d)), over the N clips with named directions d (N,).
    +1: every clip moves its named way; −1: every clip moves backwards (a clip played in reverse);
    ≈ 0 for clips that do not depend on the named direction when the four directions are named
    equally often (the clips named d and those named its opposite are then alike).
    """
    d = directions.long().cpu()
    named = follows(clips, d, min_shift).float().mean()
    backwards = follows(clips, OPPOSITE[d], min_shift).float().mean()
    return (named - backwards).item()


def frame_windows(clips: Tensor, window: int, out: int = 28) -> Tensor:
    """The digit cut back out of every frame: a window×window crop centred on the frame's centre
    of mass (rounded to a pixel; outside the frame is 0), resized to out×out (bilinear) → (N, F, 1, out, out).

    With window = the clip maker's patch, a real clip's frames give back the shrunk digit, with its
    mass centred as in MNIST's own 28×28 frames, so the course's evaluation classifier can read it.
    """
    n, _, f, h, w = clips.shape
    x = clips[:, 0].reshape(n * f, h, w)
    com = centre_of_mass(x).round().long()           # (NF, 2)
    half = window // 2
    padded = F.pad(x, (window, window, window, window))
    rows = com[:, 0] - half + window                  # top-left in the padded frame
    cols = com[:, 1] - half + window
    idx = torch.arange(window, device=x.device)
    r_idx = (rows[:, None] + idx)[:, :, None]         # (NF, window, 1)
    c_idx = (cols[:, None] + idx)[:, None, :]         # (NF, 1, window)
    crops = padded[torch.arange(n * f, device=x.device)[:, None, None], r_idx, c_idx]
    big = F.interpolate(crops[:, None], size=(out, out), mode="bilinear", align_corners=False)
    return big.clamp(0, 1).reshape(n, f, 1, out, out)


# ------------------------------------------------------------------------------------------ the network

@dataclass(frozen=True)
class VideoUNetConfig:
    """Sizes of a ``VideoUNet`` (hashed into the checkpoint key)."""

    channels: tuple[int, ...] = (32, 64)  # width at each resolution, full resolution first (16 → 8)
    emb_dim: int = 64                     # size of the time and prompt embeddings
    groups: int = 8                       # GroupNorm groups
    frames: int = 8                       # clip length (the temporal attention's learned positions)
    temporal_kernel: int = 3              # frames seen by each temporal convolution
    temporal_dilations: tuple[int, ...] = (1, 2, 4)  # dilation of the blocks' temporal convolutions, cycled
    #                                       # through the blocks in order (down…, mid, up…): every frame sees all 8
    frame_positions: bool = True          # a learned embedding of each frame's index added to the conditions
    scale_shift: bool = True              # conditions scale and shift the normalised features (FiLM) rather than add
    temporal_attention: bool = True       # attention across frames after every block below full resolution


class SpatialConv(nn.Module):
    """A 2-D convolution applied to every frame alone: (B, F, C, H, W) → (B, F, C', H', W'); a 3-D
    convolution with a 1×k×k kernel (Video Diffusion Models' "space-only" convolution).

    Inside the network a clip is laid out frames-first, (B, F, C, H, W), so that the per-frame
    layers see a batch of B·F images without copying.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2)

    def forward(self, x: Tensor) -> Tensor:
        b, f = x.shape[:2]
        y = self.conv(x.flatten(0, 1))
        return y.reshape(b, f, *y.shape[1:])


class FrameNorm(nn.Module):
    """GroupNorm of every frame alone (as an image model's): (B, F, C, H, W) → the same shape."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(groups, channels), channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.flatten(0, 1)).reshape(x.shape)


class TemporalConv(nn.Module):
    """A 1-D convolution across frames at every pixel (zero padding, so F frames stay F):
    (B, F, C, H, W) → (B, F, C', H, W); a 3-D convolution with a k×1×1 kernel. With ``dilation`` d
    it reads frames f − d, f, f + d (k = 3): blocks with dilations 1, 2, 4 see 1 + 2·(1+2+4) = 15 frames.
    After a ``SpatialConv`` it makes a (2+1)-D, or pseudo-3-D, convolution (Make-A-Video's): one
    3-D convolution whose k×k×k kernel is the product of the two kernels, summed over the channels between."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, padding=dilation * (kernel // 2), dilation=dilation)

    def forward(self, x: Tensor) -> Tensor:
        b, f, c, h, w = x.shape
        y = self.conv(x.permute(0, 3, 4, 2, 1).reshape(b * h * w, c, f))   # (BHW, C', F)
        return y.reshape(b, h, w, -1, f).permute(0, 4, 3, 1, 2)


class TemporalAttention(nn.Module):
    """Single-head self-attention across the F frames at every pixel, with a learned position per
    frame (without it attention would not know the frames' order), and a residual:
    (B, F, C, H, W) → the same shape."""

    def __init__(self, channels: int, frames: int, groups: int) -> None:
        super().__init__()
        self.norm = FrameNorm(channels, groups)
        self.pos = nn.Parameter(torch.randn(frames, channels) * 0.02)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = nn.Linear(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        b, f, c, h, w = x.shape
        seq = self.norm(x).permute(0, 3, 4, 1, 2).reshape(b * h * w, f, c) + self.pos[:f]
        q, k, v = self.qkv(seq).chunk(3, dim=-1)
        attn = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1)   # (BHW, F, F)
        y = self.out(attn @ v).reshape(b, h, w, f, c).permute(0, 3, 4, 1, 2)
        return x + y


class SpaceTimeBlock(nn.Module):
    """A residual block: norm → SiLU → spatial conv, + the (time, prompt) embedding,
    norm → SiLU → spatial conv, then norm → SiLU → temporal conv added; plus a skip; then (with
    ``frames`` > 0) attention across those frames."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, temporal_kernel: int,
                 frames: int = 0, dilation: int = 1, scale_shift: bool = False) -> None:
        super().__init__()
        self.scale_shift = scale_shift
        self.norm1 = FrameNorm(c_in, groups)
        self.conv1 = SpatialConv(c_in, c_out)
        self.emb = nn.Linear(emb_dim, 2 * c_out if scale_shift else c_out)
        self.norm2 = FrameNorm(c_out, groups)
        self.conv2 = SpatialConv(c_out, c_out)
        self.norm3 = FrameNorm(c_out, groups)
        self.temporal = TemporalConv(c_out, c_out, temporal_kernel, dilation)
        self.skip = nn.Identity() if c_in == c_out else SpatialConv(c_in, c_out, kernel=1)
        self.act = nn.SiLU()
        self.attn = TemporalAttention(c_out, frames, groups) if frames else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        """x (B, F, C, H, W); emb (B, d), the same for every frame, or (B, F, d), one per frame."""
        h = self.conv1(self.act(self.norm1(x)))
        e = self.emb(emb)
        e = (e[:, None] if e.ndim == 2 else e)[..., None, None]      # (B, 1 or F, C or 2C, 1, 1)
        # FiLM, norm(h)·(1 + scale) + shift (Dhariwal & Nichol 2021): the prompt can flip a feature's sign
        if self.scale_shift:
            scale, shift_ = e.chunk(2, dim=2)
            h = self.norm2(h) * (1 + scale) + shift_
        else:
            h = self.norm2(h + e)
        h = self.conv2(self.act(h))
        h = h + self.temporal(self.act(self.norm3(h)))
        return self.attn(h + self.skip(x))


class PromptEncoder(nn.Module):
    """Token ids (B, L) → (B, d): an embedding per word, summed (PAD embeds to 0), then an MLP.

    A sum of word vectors knows which words a prompt holds, not their order; for prompts
    "a <digit> moving <direction>" that is all there is to know (digit and direction words differ).
    """

    def __init__(self, dim: int, vocab_size: int = len(VOCAB)) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, tokens: Tensor) -> Tensor:
        return self.mlp(self.embed(tokens).sum(1))


class VideoUNet(nn.Module):
    """ε_θ(x_t, t, tokens=None): x_t (B, 1, F, H, W), t (B,) or int in {1..T}, tokens (B, L) or None
    (the empty prompt ∅) → (B, 1, F, H, W). H and W divisible by 2^(levels − 1)."""

    def __init__(self, config: VideoUNetConfig = VideoUNetConfig()) -> None:
        super().__init__()
        self.config = config
        ch, d, groups, k = config.channels, config.emb_dim, config.groups, config.temporal_kernel
        ss = config.scale_shift
        f = config.frames if config.temporal_attention else 0
        n_blocks = 2 * len(ch) + 1
        dil = [config.temporal_dilations[i % len(config.temporal_dilations)] for i in range(n_blocks)]
        self.time_mlp = nn.Sequential(nn.Linear(ch[0], d), nn.SiLU(), nn.Linear(d, d))
        self.prompt = PromptEncoder(d)
        # where each frame sits in the clip: without it, a frame knows its index only through the
        # zero padding of the temporal convolutions at the clip's ends
        self.frame_pos = nn.Parameter(torch.randn(config.frames, d) * 0.02) if config.frame_positions else None
        self.conv_in = SpatialConv(1, ch[0])
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c_prev = ch[0]
        for i, c in enumerate(ch):
            self.down.append(SpaceTimeBlock(c_prev, c, d, groups, k, f if i > 0 else 0, dil[i], ss))
            c_prev = c
            if i < len(ch) - 1:
                self.downsample.append(SpatialConv(c, c, stride=2))
        self.mid = SpaceTimeBlock(c_prev, c_prev, d, groups, k, f, dil[len(ch)], ss)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for j, (i, c) in enumerate(reversed(list(enumerate(ch)))):
            self.up.append(SpaceTimeBlock(c_prev + c, c, d, groups, k, f if i > 0 else 0, dil[len(ch) + 1 + j], ss))
            c_prev = c
            if i > 0:
                self.upsample.append(SpatialConv(c, ch[i - 1]))
                c_prev = ch[i - 1]
        self.norm_out = FrameNorm(ch[0], groups)
        self.conv_out = SpatialConv(ch[0], 1)
        nn.init.zeros_(self.conv_out.conv.weight)  # start by predicting ε = 0
        nn.init.zeros_(self.conv_out.conv.bias)

    def forward(self, x_t: Tensor, t: Tensor | int, tokens: Tensor | None = None) -> Tensor:
        n = x_t.shape[0]
        t = torch.as_tensor(t, device=x_t.device)
        t = t.expand(n) if t.ndim == 0 else t
        if tokens is None:
            tokens = null_tokens(n, device=x_t.device)
        emb = self.time_mlp(timestep_embedding(t, self.config.channels[0])) + self.prompt(tokens)
        if self.frame_pos is not None:
            emb = emb[:, None] + self.frame_pos[:x_t.shape[2]]   # (B, F, d): one condition per frame
        h = self.conv_in(x_t.transpose(1, 2))  # (B, F, C, H, W) inside
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.mid(h, emb)
        for i, block in enumerate(self.up):
            h = block(torch.cat([h, skips.pop()], dim=2), emb)
            if i < len(self.upsample):
                b, f = h.shape[:2]
                h = F.interpolate(h.flatten(0, 1), scale_factor=2, mode="nearest")
                h = self.upsample[i](h.reshape(b, f, *h.shape[1:]))
        return self.conv_out(F.silu(self.norm_out(h))).transpose(1, 2)
