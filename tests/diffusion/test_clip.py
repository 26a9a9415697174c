"""course_utils.diffusion.clip: captions, tokenizer, encoders and the InfoNCE loss; the UNet and MLP
conditioned on a vector (unCLIP's decoder and prior)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.diffusion import MLPEpsModel, UNet, UNetConfig, clip, ddpm


def test_captions_describe_each_image_against_its_class_median():
    # class 0: a 4×4 square of ink at levels 0.2, 0.4, 0.6, 0.8, 1.0 (median 0.6); class 1: squares of
    # side 2..6 at level 0.5 (median side 4). By construction: darker/lighter, smaller/larger than the median.
    imgs, labels = [], []
    for v in (0.2, 0.4, 0.6, 0.8, 1.0):
        x = torch.zeros(1, 10, 10)
        x[0, :4, :4] = v
        imgs.append(x), labels.append(0)
    for side in (2, 3, 4, 5, 6):
        x = torch.zeros(1, 10, 10)
        x[0, :side, :side] = 0.5
        imgs.append(x), labels.append(1)
    images, labels = torch.stack(imgs), torch.tensor(labels)
    cap = clip.Captioner.fit("mnist", images, labels)
    assert cap.brightness_median[0] == pytest.approx(0.6) and cap.area_median[1] == pytest.approx(16 / 100)
    shades, sizes = cap.adjectives(images, labels)
    assert shades[:5] == ["dark", "dark", "dark", "light", "light"]
    assert sizes[5:] == ["small", "small", "small", "large", "large"]
    rows = cap.captions(images, labels)
    assert rows[4][clip.TEMPLATES.index("a {shade} {w}")] == "a light zero"
    assert rows[9][clip.TEMPLATES.index("a {size} {w}")] == "a large one"
    assert rows[9][clip.TEMPLATES.index("{group}")] == "an odd digit"
    fashion = clip.Captioner("fashion_mnist", (0.5,) * 10, (0.5,) * 10)
    assert fashion.caption("{group}", 9) == "something you wear on your feet"
    with pytest.raises(ValueError, match="unknown data set"):
        clip.class_words("cifar")


def test_tokenizer_known_unknown_padding_and_errors():
    tok = clip.Tokenizer.from_captions(["a photo of a trouser", "a dark ankle boot"], max_len=6)
    assert tok.words == ["a", "ankle", "boot", "dark", "of", "photo", "trouser"] and len(tok) == 9
    ids = tok.encode(["A photo of a trouser", "a pair of pants"])
    assert ids.shape == (2, 6)
    assert ids[0].tolist() == [2, 7, 6, 2, 8, 0]            # "a"=2 … "trouser"=8, padded with 0
    assert ids[1].tolist() == [2, 1, 6, 1, 0, 0]            # "pair", "pants" → <unk> = 1
    assert tok.unknown("a pair of pants") == ["pair", "pants"]
    with pytest.raises(ValueError, match="no words"):
        tok.encode("  !? ")
    with pytest.raises(ValueError, match="at most 6"):
        tok.encode("a a a a a a a")


def test_chinese_captions_of_every_template_written_out():
    # the expected captions typed by hand, one per template, in the order of TEMPLATES_ZH
    fashion = clip.Captioner("fashion_mnist", (0.5,) * 10, (0.5,) * 10)
    assert [fashion.caption(t, 1, "dark", "small", "zh") for t in clip.TEMPLATES_ZH] == [
        "一张裤子的照片", "一条裤子", "一条深色的裤子", "一条较小的裤子", "一张深色、较小的裤子的照片",
        "可以穿在腿上的东西"]
    assert [fashion.caption(t, 4, "light", "large", "zh") for t in clip.TEMPLATES_ZH[2:4]] == [
        "一件浅色的大衣", "一件较大的大衣"]
    assert fashion.caption("{group}", 9, lang="zh") == "可以穿在脚上的东西"
    assert fashion.caption("{group}", 9) == "something you wear on your feet"  # "{group}" alone is English
    digits = clip.Captioner("mnist", (0.5,) * 10, (0.5,) * 10)
    assert [digits.caption(t, 3, "light", "large", "zh") for t in clip.TEMPLATES_ZH] == [
        "一张数字3的照片", "一个数字3", "一个浅色的数字3", "一个较大的数字3", "一张浅色、较大的数字3的照片", "一个奇数"]
    assert digits.caption_words(clip.TEMPLATES_ZH[4], 3, "light", "large") == ["一张", "浅色", "较大", "的", "数字3",
                                                                                 "的", "照片"]
    assert clip.class_words("mnist", "zh")[3] == "数字3"
    with pytest.raises(ValueError, match="shade must be one of"):
        digits.caption(clip.TEMPLATES_ZH[2], 3, shade="red")
    with pytest.raises(ValueError, match="lang must be"):
        clip.class_words("mnist", "fr")


def test_tokenizer_reads_chinese_by_longest_match_and_names_unknown_words():
    tok = clip.Tokenizer(clip.Captioner("fashion_mnist", (0.5,) * 10, (0.5,) * 10).vocabulary())
    ids = {w: i + 2 for i, w in enumerate(sorted(tok.words))}
    cases = {"一条深色的裤子": ["一条", "深色", "的", "裤子"],
             "a dark 裤子": ["a", "dark", "裤子"],                      # mixed: nothing dropped
             "一件T恤": ["一件", "t恤"],
             "可以穿在脚上的东西": ["可以", "穿在", "脚上", "的", "东西"],
             "a photo of a trouser": ["a", "photo", "of", "a", "trouser"]}
    for text, words in cases.items():
        assert tok.split(text) == words, text
        assert tok.encode(text)[0, :len(words)].tolist() == [ids[w] for w in words], text
        assert tok.unknown(text) == []
    # unknown Chinese runs are one word each, named and encoded as <unk>
    assert tok.split("一只红色的鞋") == ["一只", "红色", "的", "鞋"]
    assert tok.unknown("一只红色的鞋") == ["红色", "鞋"]
    assert tok.encode("一只红色的鞋")[0, :4].tolist() == [ids["一只"], 1, ids["的"], 1]
    assert tok.unknown("a red 裤子，很长") == ["red", "很长"]
    # control: the English-only tokenizer of before (lower-case [a-z0-9]+) finds no word in Chinese
    # and drops the Chinese word of a mixed prompt
    import re
    assert re.findall(r"[a-z0-9]+", "一条深色的裤子") == [] and re.findall(r"[a-z0-9]+", "a dark 裤子") == ["a", "dark"]
    with pytest.raises(ValueError, match="no words"):
        tok.encode("。、！")
    with pytest.raises(ValueError, match="is Chinese"):
        clip.Tokenizer.from_captions(["一条裤子"])


def test_digit_words_in_chinese_keep_their_numeral_and_english_numerals_stay_unknown():
    tok = clip.Tokenizer(clip.Captioner("mnist", (0.5,) * 10, (0.5,) * 10).vocabulary())
    assert tok.split("一个数字3") == tok.split("一个数字 3") == ["一个", "数字3"]
    assert tok.unknown("一个数字35") == ["数字", "35"]   # 数字3 does not end inside 35
    assert tok.unknown("a photo of a 3") == ["3"]        # the English numeral is still not a word it knows


def test_segmenter_longest_match_and_its_known_failure():
    from course_utils.i18n.segment import Segmenter
    seg = Segmenter(["研究", "研究生", "生命", "命"])
    assert seg("研究生") == ["研究生"]                  # the longest word, not 研究 + 生
    assert seg("研究生命") == ["研究生", "命"]          # forward maximum matching's classic wrong split
    assert Segmenter(["研究", "生命"])("研究生命") == ["研究", "生命"]
    with pytest.raises(ValueError, match="Chinese character"):
        Segmenter(["dark"])


def test_info_nce_against_loops_and_closed_forms():
    g = torch.Generator().manual_seed(0)
    f = F.normalize(torch.randn(5, 4, generator=g, dtype=torch.float64), dim=1)
    t = F.normalize(torch.randn(5, 4, generator=g, dtype=torch.float64), dim=1)
    s = 7.0
    L = [[s * float(f[i] @ t[j]) for j in range(5)] for i in range(5)]
    rows = sum(-L[i][i] + math.log(sum(math.exp(L[i][j]) for j in range(5))) for i in range(5)) / 5
    cols = sum(-L[j][j] + math.log(sum(math.exp(L[i][j]) for i in range(5))) for j in range(5)) / 5
    assert clip.info_nce(f, t, s).item() == pytest.approx((rows + cols) / 2, rel=1e-12)
    # every embedding the same: each row and column is a uniform choice among B, loss = log B
    same = F.normalize(torch.ones(6, 4, dtype=torch.float64), dim=1)
    assert clip.info_nce(same, same, 3.0).item() == pytest.approx(math.log(6), rel=1e-12)
    # orthogonal pairs, matched, at a large scale: the loss vanishes
    eye = torch.eye(4, dtype=torch.float64)
    assert clip.info_nce(eye, eye, 100.0).item() < 1e-40


def test_encoders_unit_length_padding_and_time():
    cfg = clip.CLIPConfig(embed_dim=16, channels=(8, 16, 16), time_dim=16, width=16, heads=2)
    torch.manual_seed(0)
    model = clip.CLIP(cfg, vocab_size=12)
    x = torch.randn(3, 1, 28, 28)
    f0, f9 = model.image(x), model.image(x, 900)
    assert f0.shape == (3, 16)
    torch.testing.assert_close(f0.norm(dim=1), torch.ones(3))
    assert (f0 - f9).abs().max() > 1e-4  # t enters the image encoder
    tokens = torch.tensor([[2, 5, 7, 0, 0, 0, 0, 0, 0, 0], [3, 3, 0, 0, 0, 0, 0, 0, 0, 0]])
    g = model.text(tokens)
    torch.testing.assert_close(g.norm(dim=1), torch.ones(2))
    # padding is ignored: the same captions with fewer pad tokens embed the same
    torch.testing.assert_close(model.text(tokens[:, :4]), g, rtol=1e-5, atol=1e-6)
    # word order matters (positions): "2 5 7" and "7 5 2" differ
    assert (model.text(torch.tensor([[7, 5, 2, 0]])) - g[:1]).abs().max() > 1e-4
    assert model.scale().item() == pytest.approx(1 / 0.07)


def test_unet_conditioned_on_a_vector():
    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(8, 16, 16), emb_dim=32, cond_dim=5))
    torch.nn.init.normal_(net.conv_out.weight, std=0.1)  # the output layer starts at zero
    x = torch.randn(2, 1, 28, 28)
    c = torch.randn(2, 5)
    torch.testing.assert_close(net(x, 10, None), net(x, 10, torch.zeros(2, 5)))  # ∅ is the zero vector
    assert (net(x, 10, c) - net(x, 10, None)).abs().max() > 1e-4
    for bad in (torch.zeros(2, 4), torch.zeros(2, dtype=torch.long)):
        with pytest.raises(ValueError, match="conditioned on vectors"):
            net(x, 10, bad)
    with pytest.raises(ValueError, match="not both"):
        UNet(UNetConfig(n_classes=10, cond_dim=5))


def test_train_step_drops_vectors_to_zero():
    cfg = ddpm.DDPMConfig(unet=UNetConfig(channels=(8, 16, 16), emb_dim=32, cond_dim=3), p_uncond=1.0,
                          batch_size=4, epochs=1)
    model = ddpm.build(cfg)
    seen = []
    model.eps_model.register_forward_pre_hook(lambda mod, args: seen.append(args[2].clone()))
    ddpm.train_step(model, 4)((torch.randn(4, 1, 28, 28), torch.ones(4, 3)))
    assert torch.equal(seen[0], torch.zeros(4, 3))  # p_uncond = 1: every vector dropped
    model = ddpm.build(cfg.__class__(**{**cfg.__dict__, "p_uncond": 0.0}))
    seen.clear()
    model.eps_model.register_forward_pre_hook(lambda mod, args: seen.append(args[2].clone()))
    ddpm.train_step(model, 4)((torch.randn(4, 1, 28, 28), torch.ones(4, 3)))
    assert torch.equal(seen[0], torch.ones(4, 3))


def test_mlp_conditioned_on_a_vector():
    torch.manual_seed(0)
    net = MLPEpsModel(dim=4, hidden=16, n_layers=2, emb_dim=8, cond_dim=3)
    z = torch.randn(5, 4)
    torch.testing.assert_close(net(z, 7), net(z, 7, torch.zeros(5, 3)))
    assert (net(z, 7, torch.ones(5, 3)) - net(z, 7)).abs().max() > 1e-4
    with pytest.raises(ValueError, match="y must be"):
        net(z, 7, torch.ones(5, 2))
    with pytest.raises(ValueError, match="no condition"):
        MLPEpsModel(dim=4)(z, 7, torch.ones(5, 3))


def test_load_with_words_falls_back_to_mnist_and_says_why(monkeypatch, capsys):
    from course_utils import data

    real_load = data.load

    def no_fashion(name, *args, **kwargs):
        if name == "fashion_mnist":
            raise data.DataNotFoundError("Fashion-MNIST not found here")
        return real_load(name, *args, **kwargs)

    monkeypatch.setattr(data, "load", no_fashion)
    images = clip.load_with_words("fashion_mnist", split="test")
    assert images.name == "mnist"
    assert "Fashion-MNIST not found here" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown data set"):
        clip.load_with_words("cifar10")
