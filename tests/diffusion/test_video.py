"""course_utils.diffusion.video: the clip maker against SciPy's centre of mass, the prompt's tokens,
the measurements (the direction score on boxes of known motion), and the space-time network (shapes,
prompt, the order of the frames)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from course_utils.diffusion import video
from course_utils.diffusion.video import DIRECTIONS, TemporalAttention, TemporalConv, VideoUNet, VideoUNetConfig


def _digits(n: int, seed: int = 0) -> torch.Tensor:
    """n blobs in 28×28 frames standing in for MNIST digits: a random stroke pattern in the central 20×20."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 28, 28)
    x[:, :, 6:22, 8:20] = (torch.rand(n, 1, 16, 12, generator=g) > 0.6).float()
    return x


@pytest.mark.parametrize("direction", range(4))
def test_clip_maker_moves_the_centre_of_mass_by_the_speed_in_the_named_direction(direction):
    # a canvas large enough that nothing leaves it: the motion is exact, measured by SciPy
    n, frames, speed = 5, 6, 2
    dirs = torch.full((n,), direction)
    clips = video.make_clips(_digits(n), dirs, size=28, patch=10, frames=frames, speed=speed,
                             generator=torch.Generator().manual_seed(1))
    assert clips.shape == (n, 1, frames, 28, 28) and clips.min() >= 0 and clips.max() <= 1
    step = {"right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0)}[DIRECTIONS[direction]]
    for i in range(n):
        com = np.array([ndimage.center_of_mass(clips[i, 0, k].numpy()) for k in range(frames)])
        np.testing.assert_allclose(np.diff(com, axis=0), np.tile(np.array(step) * speed, (frames - 1, 1)),
                                   atol=1e-4)
        # every frame holds the same digit: the mass is kept
        mass = clips[i, 0].sum((1, 2))
        torch.testing.assert_close(mass, mass[:1].expand(frames))
    # the library's centre of mass is SciPy's
    np.testing.assert_allclose(video.centre_of_mass(clips[0, 0]).numpy(),
                               np.array([ndimage.center_of_mass(f.numpy()) for f in clips[0, 0]]), atol=1e-4)


def test_default_clips_stay_inside_and_the_motion_measure_reads_them():
    n = 40
    dirs = torch.arange(n) % 4
    clips = video.make_clips(_digits(n, seed=3), dirs, generator=torch.Generator().manual_seed(2))
    assert clips.shape == (n, 1, 8, 16, 16)
    # the blob's pixels (not the patch's empty border) never leave the 16×16 canvas
    mass = clips[:, 0].sum((2, 3))
    assert (mass / mass[:, :1]).min() > 0.97
    direction, disp = video.motion(clips)
    assert torch.equal(direction, dirs)
    assert video.follows(clips, dirs, min_shift=6.5).all()
    assert not video.follows(clips, (dirs + 1) % 4, min_shift=0.0).any()  # wrong direction: never


def test_shift_moves_without_wrapping():
    x = torch.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(video.shift(x, 1, -1).numpy(),
                                  ndimage.shift(x.numpy(), (1, -1), order=0, mode="constant", cval=0.0))
    assert video.shift(x, 0, 5).abs().sum() == 0  # everything left the frame


def test_prompts_and_tokens():
    assert video.prompt(3, 0) == "a three moving right" and video.prompt(9, 3) == "a nine moving up"
    assert video.prompt(3, 0, 2) == "一个向右移动的三" and video.prompt(3, 1, 3) == "数字3向左移动"
    assert video.prompt(0, 2, 1) == "digit 0 moving down"
    tok = video.tokenize(["a three moving right", "A seven moving UP", ""])
    assert tok.shape == (3, video.PROMPT_LENGTH) and tok.dtype == torch.long
    vocab = video.VOCAB
    # the content words get tokens; the function words ("a", "moving") are known and get none
    assert [vocab[i] for i in tok[0]] == ["three", "right"]
    assert [vocab[i] for i in tok[1]] == ["seven", "up"]
    assert torch.equal(tok[2], video.null_tokens(1)[0])
    assert torch.equal(video.tokenize(["一个向右移动的三"])[0], torch.tensor([vocab.index("向右"), vocab.index("三")]))
    with pytest.raises(ValueError, match="unknown words"):
        video.tokenize(["a three moving sideways"])
    with pytest.raises(ValueError, match="at most 2 fit"):
        video.tokenize(["三 七 向右"])
    with pytest.raises(ValueError, match="names no digit and no direction"):
        video.tokenize(["a moving"])
    with pytest.raises(ValueError, match="template must be in 0..3"):
        video.prompt(3, 0, 4)


# typed by hand, not produced by video.prompt: (digit, direction index) → prompts that say it
SAME_CONTENT = {
    (3, 0): ["a three moving right", "digit 3 moving right", "一个向右移动的三", "数字3向右移动", "数字三向右移动",
             "向右移动的三", "一个三，向右移动。", "a 三 moving 向右"],
    (3, 1): ["a three moving left", "数字3向左移动", "数字３向左移动"],   # a full-width ３ from a Chinese IME
    (1, 2): ["a one moving down", "一个向下移动的一"],                  # 一 of 一个 is not the digit
    (0, 3): ["A Zero Moving Up", "一个向上移动的零", "数字0向上移动"],
    (7, 1): ["digit 7 moving left", "一个向左移动的七"],
}


def test_chinese_is_split_by_longest_match_and_names_what_the_english_names():
    assert video.split_words("一个向右移动的三") == ["一个", "向右", "移动", "的", "三"]
    assert video.split_words("数字3向左移动") == ["数字", "3", "向左", "移动"]
    for (digit, direction), prompts in SAME_CONTENT.items():
        for text in prompts:
            assert video.named(video.split_words(text)) == ((digit,), (direction,)), text
            video.tokenize([text])  # every one is made of known words
    # control: split character by character, "一个向右移动的三" names two digits (一 and 三) and no direction
    assert video.named(list("一个向右移动的三")) == ((1, 3), ())
    # the numeral is one token shared by both languages; the direction words are each language's own
    en, zh = video.tokenize(["digit 3 moving right", "数字3向右移动"])
    assert set(en.tolist()) & set(zh.tolist()) == {video.VOCAB.index("3")}


def test_every_template_round_trips_and_every_word_is_in_some_caption():
    seen = set()
    for j in range(len(video.TEMPLATES)):
        for digit in range(10):
            for direction in range(4):
                words = video.split_words(video.prompt(digit, direction, j))
                assert video.named(words) == ((digit,), (direction,))
                assert len([w for w in words if w in video.VOCAB]) == video.PROMPT_LENGTH
                seen.update(words)
    # a vocabulary word that no caption uses would keep its random embedding: the model never learns it
    assert seen == set(video.VOCAB[2:]) | set(video.FUNCTION_WORDS)


@pytest.mark.parametrize("text, unknown", [
    ("一个向右跳动的三", ["跳动"]),           # unknown Chinese characters stay together as one word
    ("a three moving sideways", ["sideways"]),
    ("a 三 jumping 向右", ["jumping"]),       # mixed languages: the English word is named
    ("一個向右移動的三", ["個", "移動"]),       # traditional characters are not in the vocabulary
    ("数字12向左移动", ["12"]),
    ("a three moving →", ["→"]),             # a symbol is not dropped silently
])
def test_unknown_words_are_named_in_either_language(text, unknown, monkeypatch):
    assert video.unknown_words(text) == unknown
    with pytest.raises(ValueError, match="unknown words") as err:
        video.tokenize([text])
    assert all(repr(w) in str(err.value) for w in unknown)
    monkeypatch.setenv("COURSE_LANG", "zh")
    with pytest.raises(ValueError, match="词表之外的词") as err:
        video.tokenize([text])
    assert all(repr(w) in str(err.value) for w in unknown)


def test_a_prompt_of_punctuation_only_is_an_error_not_the_empty_prompt():
    with pytest.raises(ValueError, match="names no digit"):
        video.tokenize(["。"])


def test_captions_are_english_or_chinese_at_the_asked_rate():
    n = 4000
    digits, dirs = torch.arange(n) % 10, torch.arange(n) % 4
    caps, tmpl = video.captions(digits, dirs, torch.Generator().manual_seed(0))
    zh = torch.tensor([video.TEMPLATES[j][0] == "zh" for j in tmpl.tolist()])
    # binomial(4000, 1/2): sd 0.008; every template about a quarter
    assert abs(zh.float().mean().item() - 0.5) < 0.04
    assert all(abs((tmpl == j).float().mean().item() - 0.25) < 0.04 for j in range(4))
    assert all(video.named(video.split_words(c)) == ((int(d),), (int(k),)) for c, d, k in zip(caps, digits, dirs))
    caps_en, tmpl_en = video.captions(digits, dirs, torch.Generator().manual_seed(0), p_zh=0.0)
    assert set(tmpl_en.tolist()) == set(video.templates("en"))


def test_frame_windows_restore_the_digit_of_each_frame():
    n = 4
    digits = _digits(n, seed=5)
    clips = video.make_clips(digits, torch.arange(n), size=28, patch=10, generator=torch.Generator().manual_seed(0))
    win = video.frame_windows(clips, window=10, out=10)
    assert win.shape == (n, 8, 1, 10, 10)
    # a whole-pixel translation: every frame's window is the same picture
    torch.testing.assert_close(win, win[:, :1].expand_as(win))
    # and it is the shrunk digit, moved so that its centre of mass is at the window's centre
    small = video.shrink(digits, 10)
    com = video.centre_of_mass(small[:, 0]).round().long()
    for i in range(n):
        moved = video.shift(small[i, 0], 5 - int(com[i, 0]), 5 - int(com[i, 1]))
        torch.testing.assert_close(win[i, 0, 0], moved)


def _net(**kw) -> VideoUNet:
    torch.manual_seed(0)
    net = VideoUNet(VideoUNetConfig(channels=(8, 16), emb_dim=16, **kw))
    with torch.no_grad():
        torch.nn.init.normal_(net.conv_out.conv.weight, std=0.1)  # the output layer starts at 0
    return net


def test_network_shapes_prompt_and_null_prompt():
    net = _net()
    x = torch.randn(3, 1, 8, 16, 16)
    tok = video.tokenize(["a three moving right", "a three moving left", "a one moving up"])
    out = net(x, torch.tensor([5, 50, 500]), tok)
    assert out.shape == x.shape
    assert net(torch.randn(2, 1, 8, 8, 12), 7).shape == (2, 1, 8, 8, 12)
    assert VideoUNet(VideoUNetConfig(channels=(8, 16)))(x, 10, tok).abs().max() == 0  # ε = 0 at the start
    # None is the empty prompt; the direction word changes the prediction
    torch.testing.assert_close(net(x, 9), net(x, 9, video.null_tokens(3)))
    same_x = x[:1].expand(2, -1, -1, -1, -1)
    two = net(same_x, 9, tok[:2])
    assert not torch.allclose(two[0], two[1])
    # each clip is conditioned on its own prompt and its own frames only
    torch.testing.assert_close(net(x, 9, tok)[1:2], net(x[1:2], 9, tok[1:2]), atol=1e-5, rtol=1e-5)


def test_temporal_conv_is_a_k11_3d_convolution_and_depends_on_frame_order():
    torch.manual_seed(1)
    layer = TemporalConv(3, 2, kernel=3)
    x = torch.randn(2, 6, 3, 4, 5)  # (B, F, C, H, W) inside the network
    y = layer(x)
    ref = F.conv3d(x.transpose(1, 2), layer.conv.weight[..., None, None], layer.conv.bias, padding=(1, 0, 0))
    torch.testing.assert_close(y, ref.transpose(1, 2), atol=1e-5, rtol=1e-5)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    # equivariant to spatial layouts but not to reordering frames: permuting the input frames does
    # not just permute the output
    assert not torch.allclose(layer(x[:, perm]), y[:, perm], atol=1e-4)


def test_temporal_attention_knows_the_order_only_through_its_positions():
    torch.manual_seed(2)
    attn = TemporalAttention(8, frames=5, groups=4)
    x = torch.randn(2, 5, 8, 3, 3)
    perm = torch.tensor([4, 2, 0, 1, 3])
    assert not torch.allclose(attn(x[:, perm]), attn(x)[:, perm], atol=1e-4)
    with torch.no_grad():
        attn.pos.zero_()  # no positions: attention is a set operation, permuting frames permutes the output
    torch.testing.assert_close(attn(x[:, perm]), attn(x)[:, perm], atol=1e-5, rtol=1e-5)


def test_the_whole_network_sees_the_order_of_frames():
    net = _net()
    x = torch.randn(2, 1, 8, 16, 16)
    tok = video.tokenize(["a three moving right"] * 2)
    rev = torch.arange(7, -1, -1)
    out, out_rev = net(x, 100, tok), net(x[:, :, rev], 100, tok)
    assert not torch.allclose(out_rev, out[:, :, rev], atol=1e-4)
    # frame 0's prediction depends on frame 7 (the temporal receptive field covers the clip)
    x2 = x.clone()
    x2[:, :, 7] += 1.0
    assert not torch.allclose(net(x2, 100, tok)[:, :, 0], out[:, :, 0], atol=1e-6)
    # without attention, 5 blocks of temporal convolutions (k = 3) reach 5 frames: frame 7 changes
    # frames 2..7 and leaves frames 0 and 1 alone
    conv_only = _net(temporal_attention=False, temporal_dilations=(1,))
    diff = (conv_only(x2, 100, tok) - conv_only(x, 100, tok)).abs().amax(dim=(0, 1, 3, 4))
    assert (diff[:2] == 0).all() and (diff[2:] > 0).all()
    # a network without the layers across frames treats every frame alone
    flat = _net(temporal_kernel=1, temporal_attention=False, frame_positions=False)
    torch.testing.assert_close(flat(x2, 100, tok)[:, :, 0], flat(x, 100, tok)[:, :, 0])
    # dilations 1, 2, 4 (cycled over the 5 blocks: 1, 2, 4, 1, 2) reach every frame without attention
    dilated = _net(temporal_attention=False, temporal_dilations=(1, 2, 4))
    diff = (dilated(x2, 100, tok) - dilated(x, 100, tok)).abs().amax(dim=(0, 1, 3, 4))
    assert (diff > 0).all()


def test_dilated_temporal_conv_is_a_dilated_k11_3d_convolution():
    torch.manual_seed(3)
    layer = TemporalConv(3, 2, kernel=3, dilation=2)
    x = torch.randn(2, 8, 3, 4, 5)
    ref = F.conv3d(x.transpose(1, 2), layer.conv.weight[..., None, None], layer.conv.bias, padding=(2, 0, 0),
                   dilation=(2, 1, 1))
    torch.testing.assert_close(layer(x), ref.transpose(1, 2), atol=1e-5, rtol=1e-5)
    # frame 3 reads frames 1, 3 and 5 only: changing frame 2 or 4 leaves it alone
    x2 = x.clone()
    x2[:, [2, 4]] += 1.0
    torch.testing.assert_close(layer(x2)[:, 3], layer(x)[:, 3])
    assert not torch.allclose(layer(x2)[:, 2], layer(x)[:, 2])


def test_frame_positions_tell_identical_frames_apart():
    x = torch.randn(2, 1, 1, 16, 16).expand(-1, -1, 8, -1, -1)  # the same picture in all 8 frames
    tok = video.tokenize(["a three moving right"] * 2)
    # per-frame layers only and no positions: every frame gets the same prediction
    flat = _net(temporal_kernel=1, temporal_attention=False, frame_positions=False)
    out = flat(x, 100, tok)
    torch.testing.assert_close(out, out[:, :, :1].expand_as(out))
    # with a learned position per frame, the same picture is denoised differently at each index
    pos = _net(temporal_kernel=1, temporal_attention=False, frame_positions=True)
    out = pos(x, 100, tok)
    assert not torch.allclose(out[:, :, 0], out[:, :, 7], atol=1e-5)
    # and the positions are the only difference: zeroed, the frames agree again
    with torch.no_grad():
        pos.frame_pos.zero_()
    out = pos(x, 100, tok)
    torch.testing.assert_close(out, out[:, :, :1].expand_as(out))


def test_scale_shift_conditioning_is_film_on_the_normalised_features():
    from course_utils.diffusion.video import SpaceTimeBlock

    torch.manual_seed(4)
    block = SpaceTimeBlock(8, 8, emb_dim=6, groups=4, temporal_kernel=3, scale_shift=True)
    x, emb = torch.randn(2, 5, 8, 4, 4), torch.randn(2, 6)
    # the block written out with functional GroupNorm: h·(1 + scale) + shift after the second norm
    act = F.silu
    h = block.conv1.conv(act(F.group_norm(x.flatten(0, 1), 4, block.norm1.norm.weight, block.norm1.norm.bias)))
    scale, shift = (emb @ block.emb.weight.T + block.emb.bias).chunk(2, dim=1)
    n2 = F.group_norm(h, 4, block.norm2.norm.weight, block.norm2.norm.bias).reshape(2, 5, 8, 4, 4)
    h = n2 * (1 + scale[:, None, :, None, None]) + shift[:, None, :, None, None]
    h = block.conv2.conv(act(h).flatten(0, 1))
    t_in = act(F.group_norm(h, 4, block.norm3.norm.weight, block.norm3.norm.bias)).reshape(2, 5, 8, 4, 4)
    t = F.conv3d(t_in.transpose(1, 2), block.temporal.conv.weight[..., None, None], block.temporal.conv.bias,
                 padding=(1, 0, 0)).transpose(1, 2)
    ref = h.reshape(2, 5, 8, 4, 4) + t + x
    torch.testing.assert_close(block(x, emb), ref, atol=1e-5, rtol=1e-5)
    # a network built with it runs, and its prompt changes the prediction
    net = _net(scale_shift=True, frame_positions=True, temporal_dilations=(1, 2, 4))
    xs = torch.randn(1, 1, 8, 16, 16).expand(2, -1, -1, -1, -1)
    out = net(xs, 50, video.tokenize(["a three moving right", "a three moving left"]))
    assert out.shape == xs.shape and not torch.allclose(out[0], out[1])


def _box_clips(velocities: list[tuple[int, int]], frames: int = 8, size: int = 16) -> torch.Tensor:
    """A 3×3 box moving (v_row, v_col) whole pixels per frame from the canvas's middle: (N, 1, F, S, S)."""
    clips = torch.zeros(len(velocities), 1, frames, size, size)
    for i, (vr, vc) in enumerate(velocities):
        r0, c0 = (size - 3 - vr * (frames - 1)) // 2, (size - 3 - vc * (frames - 1)) // 2
        for k in range(frames):
            clips[i, 0, k, r0 + k * vr:r0 + k * vr + 3, c0 + k * vc:c0 + k * vc + 3] = 1.0
    return clips


def test_direction_score_is_plus_one_minus_one_and_zero_for_a_prompt_blind_model():
    steps = {"right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0)}
    assert [steps[DIRECTIONS[int(k)]] for k in video.OPPOSITE] == [(0, -1), (0, 1), (-1, 0), (1, 0)]
    named = torch.arange(4).repeat(3)
    follower = _box_clips([steps[DIRECTIONS[int(k)]] for k in named])
    assert video.direction_score(follower, named, 3.5) == 1.0
    assert video.direction_score(follower.flip(2), named, 3.5) == -1.0      # played backwards
    # a model that ignores the prompt and always moves right: a quarter of the prompts followed, score 0
    always_right = _box_clips([(0, 1)] * len(named))
    assert video.follows(always_right, named, 3.5).float().mean() == 0.25
    assert video.direction_score(always_right, named, 3.5) == 0.0
    # right along the axis but backwards for the vertical prompts only: half of them +1, half −1
    half = _box_clips([steps[DIRECTIONS[int(k)]] if k < 2 else steps[DIRECTIONS[int(video.OPPOSITE[k])]]
                       for k in named])
    assert video.direction_score(half, named, 3.5) == 0.0
    # a still clip moves no way: 0
    assert video.direction_score(_box_clips([(0, 0)] * 4), torch.arange(4), 3.5) == 0.0
