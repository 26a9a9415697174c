"""course_utils.diffusion.harness: batches of seeded noise through a sampler, pixels to [0, 1], timing."""

from __future__ import annotations

import time

import pytest
import torch

from course_utils.diffusion.harness import Sampled, sample_batches, to_unit


def test_to_unit_maps_the_model_range_and_clamps():
    x = torch.tensor([-5.0, -1.0, 0.0, 0.5, 1.0, 3.0])
    torch.testing.assert_close(to_unit(x), torch.tensor([0.0, 0.0, 0.5, 0.75, 1.0, 1.0]))
    assert to_unit(torch.zeros(2, 1, 3, 3)).shape == (2, 1, 3, 3)


def test_each_row_of_cond_reaches_its_own_sample_across_uneven_batches():
    """7 conditions in batches of 3 (3 + 3 + 1): a draw that returns its condition must give them back in
    order; a harness that dropped the last partial batch or shifted the slices would not."""
    cond = torch.linspace(-0.9, 0.9, 7)

    def draw(x_T, c, g):
        return torch.zeros_like(x_T) + c[:, None, None]

    out = sample_batches(draw, cond, shape=(2, 2), seed=0, batch_size=3)
    assert isinstance(out, Sampled) and out.images.shape == (7, 2, 2)
    torch.testing.assert_close(out.images[:, 0, 0], (cond + 1) / 2)


def test_one_seeded_generator_draws_x_T_then_the_sampler_noise():
    """The draw gets the generator that drew x_T: x_T and then z come from one stream seeded by `seed`,
    written out by hand for one batch. A harness that gave the draw a fresh generator, or used the global
    one, would not reproduce it."""
    shape, n, seed = (1, 4, 4), 5, 17

    def draw(x_T, c, g):
        assert c is None
        z = torch.randn(x_T.shape, generator=g)
        return 0.1 * (x_T + z)

    out = sample_batches(draw, n, shape=shape, seed=seed, batch_size=n)
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(n, *shape, generator=g)
    z = torch.randn(n, *shape, generator=g)
    torch.testing.assert_close(out.images, to_unit(0.1 * (x_T + z)))
    # reproducible from the seed alone, and the seed matters
    again = sample_batches(draw, n, shape=shape, seed=seed, batch_size=2).images
    torch.testing.assert_close(again, sample_batches(draw, n, shape=shape, seed=seed, batch_size=2).images)
    assert not torch.allclose(again, sample_batches(draw, n, shape=shape, seed=seed + 1, batch_size=2).images)


def test_extra_is_the_first_batch_and_time_is_per_100_samples():
    calls = []

    def draw(x_T, c, g):
        calls.append(len(x_T))
        time.sleep(0.02)
        return x_T.clamp(-1, 1), {"batch": len(calls)}

    out = sample_batches(draw, 8, shape=(2,), seed=0, batch_size=2)
    assert calls == [2, 2, 2, 2]
    assert out.extra == {"batch": 1}
    # 4 batches × 0.02 s for 8 samples: at least 0.08/8·100 = 1.0 s per 100 (total seconds, or seconds
    # per sample, would be 0.08 or 0.01)
    assert out.seconds_per_100 >= 1.0
    images, sec, extra = out
    assert images.shape == (8, 2) and sec == out.seconds_per_100


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="at least one"):
        sample_batches(lambda x, c, g: x, 0, shape=(2,), seed=0, batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        sample_batches(lambda x, c, g: x, 3, shape=(2,), seed=0, batch_size=0)
    with pytest.raises(ValueError, match="shape"):
        sample_batches(lambda x, c, g: x[:, :1], 3, shape=(2,), seed=0, batch_size=4)
