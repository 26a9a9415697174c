"""The DDPM noise schedule (Ho et al. 2020), an object of its own, separate from the network.

Timesteps are numbered as on the slides, t = 1..T, and every table has an entry for t = 0 that
means "no noise" (β_0 = 0, α_0 = ᾱ_0 = 1), so that ``alpha_bar[t - 1]`` is ᾱ_{t−1} for every
t ≥ 1 and a DDIM step to t_prev = 0 lands on the clean x_0:

    β_t linear from β_1 to β_T,   α_t = 1 − β_t,   ᾱ_t = Π_{s≤t} α_s
    forward step    x_t = √α_t x_{t−1} + √(1−α_t) ε                   (q_step)
    closed form     x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε                        (q_sample)
    posterior       q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t)               (q_posterior)
                    μ̃_t = √α_t(1−ᾱ_{t−1})/(1−ᾱ_t) x_t + √ᾱ_{t−1} β_t/(1−ᾱ_t) x_0
                    β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t) β_t
    ε form          μ_θ = (x_t − β_t/√(1−ᾱ_t) ε_θ)/√α_t                (p_mean)
    x_0 from ε      x̂_0 = (x_t − √(1−ᾱ_t) ε)/√ᾱ_t                     (predict_x0)
    DDIM step       x_{t'} = √ᾱ_{t'} x̂_0 + √(1−ᾱ_{t'}−σ²) ε + σ z     (ddim_step, σ from η)
    respacing       β'_i = 1 − ᾱ_{t_i}/ᾱ_{t_{i+1}} on kept steps t_1 > … > t_n  (respace)

diffusers numbers its timesteps from 0: its ``timestep k`` is this module's t = k + 1
(tests/diffusion/test_against_diffusers.py checks the two against each other).
Every method works for any tensor shape: x is (B, ...) (2-D points or images); t is an int or a
LongTensor (B,), broadcast over the trailing dimensions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

TimeLike = int | Tensor


def per_example(values: Tensor, x: Tensor) -> Tensor:
    """Broadcast per-example values (B,) (or a scalar) against x (B, ...): (B,) → (B, 1, ..., 1)."""
    if values.ndim == 0:
        return values
    return values.reshape(-1, *([1] * (x.ndim - 1)))


def _noise_like(x: Tensor, noise: Tensor | None, generator: torch.Generator | None) -> Tensor:
    if noise is not None:
        if noise.shape != x.shape:
            raise ValueError(f"noise has shape {tuple(noise.shape)}, x has {tuple(x.shape)}")
        return noise
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


class NoiseSchedule:
    """β_t, α_t, ᾱ_t and the posterior's coefficients for t = 0..T (index 0: no noise).

    ``NoiseSchedule.linear(T=1000, beta_1=1e-4, beta_T=0.02)`` is Ho et al.'s schedule. Tables are
    computed in float64 and stored in ``dtype`` (default float32, the models' dtype).
    """

    def __init__(self, beta: Tensor, *, dtype: torch.dtype = torch.float32) -> None:
        """``beta``: (T,) the variances β_1..β_T, each in (0, 1)."""
        b = torch.as_tensor(beta, dtype=torch.float64).flatten()
        if b.numel() < 1 or not bool(((b > 0) & (b < 1)).all()):
            raise ValueError("beta must hold T >= 1 values in (0, 1)")
        self.T = int(b.numel())
        beta64 = torch.cat([torch.zeros(1, dtype=torch.float64), b])
        alpha = 1 - beta64
        alpha_bar = torch.cumprod(alpha, 0)
        prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])  # ᾱ_{t−1}
        one_minus = (1 - alpha_bar).clamp_min(1e-300)  # 0 only at t = 0, where the coefficients are unused
        tables = {
            "beta": beta64,
            "alpha": alpha,
            "alpha_bar": alpha_bar,
            "beta_tilde": torch.where(alpha_bar < 1, (1 - prev) / one_minus * beta64, 0.0),
            "coef_x0": torch.where(alpha_bar < 1, prev.sqrt() * beta64 / one_minus, 0.0),
            "coef_xt": torch.where(alpha_bar < 1, alpha.sqrt() * (1 - prev) / one_minus, 0.0),
        }
        for name, value in tables.items():
            setattr(self, name, value.to(dtype))
        self.beta: Tensor        # (T+1,) β_t, β_0 = 0
        self.alpha: Tensor       # (T+1,) α_t = 1 − β_t
        self.alpha_bar: Tensor   # (T+1,) ᾱ_t = Π_{s≤t} α_s, ᾱ_0 = 1
        self.beta_tilde: Tensor  # (T+1,) β̃_t, the posterior variance (β̃_1 = 0)
        self.coef_x0: Tensor     # (T+1,) √ᾱ_{t−1} β_t/(1−ᾱ_t): μ̃'s weight on x_0
        self.coef_xt: Tensor     # (T+1,) √α_t(1−ᾱ_{t−1})/(1−ᾱ_t): μ̃'s weight on x_t

    _TABLES = ("beta", "alpha", "alpha_bar", "beta_tilde", "coef_x0", "coef_xt")

    @classmethod
    def linear(cls, T: int = 1000, beta_1: float = 1e-4, beta_T: float = 0.02, *,
               dtype: torch.dtype = torch.float32) -> NoiseSchedule:
        """β_t = β_1 + (t−1)/(T−1) (β_T − β_1), t = 1..T (Ho et al. 2020: 1e-4 → 0.02, T = 1000)."""
        if T < 2:
            raise ValueError(f"a linear schedule needs T >= 2, got {T}")
        return cls(torch.linspace(beta_1, beta_T, T, dtype=torch.float64), dtype=dtype)

    def __repr__(self) -> str:
        return (f"NoiseSchedule(T={self.T}, beta_1={self.beta[1].item():.4g}, beta_T={self.beta[-1].item():.4g}, "
                f"alpha_bar_T={self.alpha_bar[-1].item():.3g}, dtype={self.beta.dtype}, device={self.beta.device})")

    @property
    def device(self) -> torch.device:
        return self.beta.device

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> NoiseSchedule:
        """A copy with every table on ``device`` and/or in ``dtype``."""
        new = object.__new__(NoiseSchedule)
        new.T = self.T
        for name in self._TABLES:
            setattr(new, name, getattr(self, name).to(device=device, dtype=dtype))
        return new

    def at(self, values: Tensor, t: TimeLike, x: Tensor) -> Tensor:
        """``values[t]`` on x's device and dtype, shaped to broadcast against x (B, ...).

        t: an integer timestep in 0..T (0: no noise), or a LongTensor of them, one per example (B,);
        anything else (t = −1 would be t = T by Python's indexing) is a ValueError naming the range.
        """
        if isinstance(t, bool) or not isinstance(t, (int, Tensor)) or (
                isinstance(t, Tensor) and (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)):
            raise ValueError(f"t must be an integer timestep in 0..{self.T} (or a LongTensor of them), got {t!r}")
        idx = torch.as_tensor(t, device=values.device)
        if idx.ndim > 1 or (idx.ndim == 1 and idx.numel() not in (1, x.shape[0] if x.ndim else 1)):
            raise ValueError(f"t must be one timestep or one per example ({x.shape[0] if x.ndim else 1}), "
                             f"got shape {tuple(idx.shape)}")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) > self.T):
            got = t if idx.ndim == 0 else idx.tolist()
            raise ValueError(f"t must be an integer timestep in 0..{self.T}, got {got}")
        return per_example(values[idx].to(device=x.device, dtype=x.dtype), x)

    # ------------------------------------------------------------------ forward process q
    def q_step(self, x_prev: Tensor, t: TimeLike, *, noise: Tensor | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """One forward step x_t = √α_t x_{t−1} + √(1−α_t) ε, ε ~ N(0, I): x_{t−1} (B, ...) → x_t."""
        eps = _noise_like(x_prev, noise, generator)
        alpha = self.at(self.alpha, t, x_prev)
        return alpha.sqrt() * x_prev + (1 - alpha).sqrt() * eps

    def q_sample(self, x0: Tensor, t: TimeLike, *, noise: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        """The closed form x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, ε ~ N(0, I): a draw from q(x_t | x_0)."""
        eps = _noise_like(x0, noise, generator)
        ab = self.at(self.alpha_bar, t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * eps

    def q_posterior(self, x0: Tensor, x_t: Tensor, t: TimeLike) -> tuple[Tensor, Tensor]:
        """Mean μ̃_t(x_t, x_0) and variance β̃_t of q(x_{t−1} | x_t, x_0), t ≥ 1."""
        mean = self.at(self.coef_xt, t, x_t) * x_t + self.at(self.coef_x0, t, x_t) * x0
        return mean, self.at(self.beta_tilde, t, x_t)

    # ------------------------------------------------------------------ ε parametrisation
    def predict_x0(self, x_t: Tensor, t: TimeLike, eps: Tensor) -> Tensor:
        """x̂_0 = (x_t − √(1−ᾱ_t) ε)/√ᾱ_t: the closed form solved for x_0."""
        ab = self.at(self.alpha_bar, t, x_t)
        return (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()

    def p_mean(self, x_t: Tensor, t: TimeLike, eps: Tensor) -> Tensor:
        """μ_θ(x_t, t) = (x_t − β_t/√(1−ᾱ_t) ε_θ)/√α_t, μ̃ with x_0 replaced by x̂_0(ε_θ)."""
        alpha, ab = self.at(self.alpha, t, x_t), self.at(self.alpha_bar, t, x_t)
        return (x_t - (1 - alpha) / (1 - ab).sqrt() * eps) / alpha.sqrt()

    def ddim_sigma(self, t: TimeLike, t_prev: TimeLike, eta: float, x: Tensor) -> Tensor:
        """σ_t(η) = η √((1−ᾱ_{t'})/(1−ᾱ_t)) √(1−ᾱ_t/ᾱ_{t'}) (Song et al. 2021, eq. 16), t' = t_prev."""
        ab, ab_prev = self.at(self.alpha_bar, t, x), self.at(self.alpha_bar, t_prev, x)
        return eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).clamp_min(0).sqrt()

    def ddim_step(self, x_t: Tensor, t: TimeLike, t_prev: TimeLike, eps: Tensor, *, eta: float = 0.0,
                  noise: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """x_{t'} = √ᾱ_{t'} x̂_0 + √(1−ᾱ_{t'}−σ²) ε + σ z (DDIM, eq. 12); η = 0: deterministic.

        t_prev = 0 returns x̂_0 (ᾱ_0 = 1).
        """
        ab_prev = self.at(self.alpha_bar, t_prev, x_t)
        x0_hat = self.predict_x0(x_t, t, eps)
        sigma = self.ddim_sigma(t, t_prev, eta, x_t)
        x = ab_prev.sqrt() * x0_hat + (1 - ab_prev - sigma ** 2).clamp_min(0).sqrt() * eps
        if eta > 0:
            x = x + sigma * _noise_like(x_t, noise, generator)
        return x

    # ------------------------------------------------------------------ summaries
    def snr(self, t: TimeLike) -> Tensor:
        """Signal-to-noise ratio ᾱ_t/(1−ᾱ_t) of x_t (infinite at t = 0)."""
        ab = self.alpha_bar[torch.as_tensor(t, device=self.device)]
        return ab / (1 - ab)

    def ddim_timesteps(self, n_steps: int) -> list[int]:
        """n_steps timesteps from T down to 1, evenly spaced (T, …, 1 for n_steps = T); DDIM goes on to 0."""
        if not 1 <= n_steps <= self.T:
            raise ValueError(f"n_steps must be in 1..{self.T}, got {n_steps}")
        if n_steps == 1:
            return [self.T]
        # spacing (T−1)/(n−1) >= 1, so the rounded steps are distinct
        return torch.linspace(self.T, 1, n_steps, dtype=torch.float64).round().long().tolist()

    def respace(self, timesteps: Sequence[int]) -> NoiseSchedule:
        """The schedule of the DDPM that steps only through ``timesteps`` (decreasing, from ≤ T, ending ≥ 1).

        Step i of the new schedule goes from t_i to t_{i+1} (t_{n+1} = 0): β'_i = 1 − ᾱ_{t_i}/ᾱ_{t_{i+1}}
        (Nichol & Dhariwal 2021), so its ᾱ' is the original ᾱ at t_n, …, t_1 (index i of the result ↔
        original timestep ``timesteps[n − i]``), and its posterior q(x_{t_{i+1}} | x_{t_i}, x_0) is the
        original one between those two steps. With every timestep it is the original schedule.
        """
        ts = [int(t) for t in timesteps]
        if not ts or any(a <= b for a, b in zip(ts, ts[1:])) or ts[-1] < 1 or ts[0] > self.T:
            raise ValueError(f"timesteps must decrease strictly within 1..{self.T}, got {ts[:5]}…")
        ab = self.alpha_bar.to(torch.float64)
        chain = list(reversed(ts))  # increasing: t_n < … < t_1
        prev = [0, *chain[:-1]]
        beta = torch.stack([1 - ab[t] / ab[p] for t, p in zip(chain, prev)])
        return NoiseSchedule(beta.cpu(), dtype=self.beta.dtype).to(self.device)
