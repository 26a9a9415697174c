"""Guard clauses of issue 21's probes outside the files of the probes' own modules' tests: each bad input
is an error naming the argument and the valid range (the right answers are checked in tests/pgm, tests/diffusion)."""

import numpy as np
import pytest
import torch

from course_utils.diffusion import video
from course_utils.diffusion.clip import Tokenizer, info_nce
from course_utils.diffusion.sampling import RespacedSampler
from course_utils.diffusion.schedule import NoiseSchedule
from course_utils.pgm.bif import read_bif
from course_utils.pgm.factor import Factor
from course_utils.pgm.propagation import belief_propagation

BIF = """network x { }
variable a { type discrete [ 2 ] { yes, no }; }
variable b { type discrete [ 2 ] { t, f }; }
probability ( a ) { table 0.5, 0.5; }
probability ( b | a ) { (yes) 0.2, 0.8; (no) 0.4, 0.6; }
"""


def test_bp_refuses_evidence_of_probability_zero_and_agrees_elsewhere():
    pa = Factor(["a"], [2], [0.5, 0.5])
    pb = Factor(["b", "a"], [2, 2], [[1.0, 0.3], [0.0, 0.7]])
    with pytest.raises(ValueError, match="evidence has probability zero"):
        belief_propagation([pa.reduce({"a": 0}), pb.reduce({"a": 0, "b": 1})])
    ok = belief_propagation([pa, pb.reduce({"b": 1})])  # p(a | b=1) ∝ 0.5·[0, 0.7]
    np.testing.assert_allclose(ok.marginals["a"].values, [0.0, 1.0])


def test_bif_rows_must_have_one_value_per_state():
    assert read_bif(BIF).cpds["b"].values.shape == (2, 2)  # control: the well-formed network reads
    with pytest.raises(ValueError, match="table of a has 1 value.*a has 2 states"):
        read_bif(BIF.replace("table 0.5, 0.5;", "table 0.5;"))
    with pytest.raises(ValueError, match="row '\\(yes\\) 0.5' of b has 1 value"):
        read_bif(BIF.replace("(yes) 0.2, 0.8;", "(yes) 0.5;"))


def test_a_binary_file_is_not_read_as_bif(tmp_path):
    path = tmp_path / "net.bif"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match=f"{path} is not a BIF text file"):
        read_bif(path)


def test_tokenizer_prompt_and_scale_checks():
    with pytest.raises(TypeError, match="texts must be a caption"):
        Tokenizer(["a"]).encode(42)
    with pytest.raises(ValueError, match="max_len must be a whole number >= 1"):
        Tokenizer(["a"], max_len=0)
    with pytest.raises(ValueError, match=r"digit must be in 0\.\.9"):
        video.prompt(12, 0)
    assert video.prompt(3, 0) == "a three moving right"
    with pytest.raises(ValueError, match="scale .* must be finite and > 0"):
        info_nce(torch.randn(4, 8), torch.randn(4, 8), float("nan"))


def test_sampling_stops_at_the_first_non_finite_step():
    S = NoiseSchedule.linear(10)
    sampler = RespacedSampler(S, 5)
    x = sampler.sample(lambda x, t: torch.zeros_like(x), torch.zeros(2, 3), guide=lambda x, t: 2.0 * torch.ones_like(x))
    assert torch.isfinite(x).all()  # control: a finite guidance scale samples
    with pytest.raises(FloatingPointError, match="step 1 .*guidance scale"):
        sampler.sample(lambda x, t: torch.zeros_like(x), torch.zeros(2, 3),
                       guide=lambda x, t: float("nan") * torch.ones_like(x))


@pytest.mark.parametrize("t", [-1, 11, 2.5, torch.tensor([1.0, 2.0]), torch.tensor([1, 2, 3]), True])
def test_schedule_timesteps_outside_0_to_T(t):
    with pytest.raises(ValueError, match="t must be"):
        NoiseSchedule.linear(10).q_sample(torch.ones(2, 3), t)
