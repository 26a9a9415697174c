# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 07 · The variational autoencoder (变分自编码器)
#
# The lecture's section 变分自编码器: the VAE's loss $-\mathrm{ELBO}$ and its derivation, checked
# as code; the lecture's `VAE` / `VAE_Loss` code and its **four bugs**, each demonstrated; a VAE
# trained on MNIST (samples, reconstructions, a 2-D map of the digit manifold, interpolation,
# a latent explorer); and its **likelihood in nats** with the importance-weighted bound (IWAE).

# %% slideshow={"slide_type": "skip"}
import inspect
import math
from dataclasses import dataclass, replace

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence
from torch.nn.modules.loss import _Loss
from tqdm.auto import tqdm

from course_utils import artifacts, checkpoints, data, plotting, profile, quality
from course_utils.exercises import neural_models as ex
from course_utils.i18n import tr  # tr(English, Chinese): the words a figure or a line shows, in the notebook's language
from course_utils.neural.autoencoders import (
    VAE,
    bernoulli_log_likelihood,
    binarize,
    elbo,
    gaussian_kl,
    iwae_bound,
    kl_standard_normal,
    log_importance_weights,
)
from course_utils.train import fit

NB = "07_vae"
profile.seed_everything(0)
profile.set_cpu_threads()  # 1 torch thread on the CPU: small models, often busy cores (COURSE_THREADS=0: all)
dev = profile.device()

# %% slideshow={"slide_type": "skip"}
@dataclass(frozen=True)
class Config:
    n_train: int | None            # training digits (None: all that the data source has)
    n_test: int | None             # test digits (None: all)
    hidden: tuple[int, ...]        # hidden layer sizes of the encoder (the decoder mirrors them)
    z_dim: int                     # latent size J (the lecture's n_num)
    activation: str                # hidden activation: "relu" or "tanh"
    epochs: int                    # epochs of the main VAE
    epochs_2d: int                 # epochs of the VAE with a 2-D latent space
    epochs_pitfall: int            # epochs of the VAE trained with the slide's std (Pitfall 1)
    k_iwae: tuple[int, ...]        # numbers of importance samples k at which L_k is reported
    n_check: int                   # test digits on which a second proposal checks L_k's convergence
    batch_size: int = 100          # digits per step
    lr: float = 1e-3               # Adam's learning rate


cfg = profile.pick(
    # seconds on 2 CPU cores: proves the notebook runs
    smoke=Config(n_train=1000, n_test=100, hidden=(400,), z_dim=20, activation="relu", epochs=2,
                 epochs_2d=2, epochs_pitfall=1, k_iwae=(1, 10, 100), n_check=50),
    # a laptop, minutes: the embedded 4,500 + 500 MNIST digits, the lecture's one hidden layer
    cpu=Config(n_train=None, n_test=None, hidden=(400,), z_dim=20, activation="relu", epochs=60,
               epochs_2d=40, epochs_pitfall=20, k_iwae=(1, 5, 50, 500, 5000), n_check=100),
    # a GPU with full MNIST under data/MNIST/raw: Burda et al.'s one-stochastic-layer VAE,
    # 784-200-200-50 with tanh, evaluated with k = 5000 on the 10,000 test digits
    full=Config(n_train=None, n_test=None, hidden=(200, 200), z_dim=50, activation="tanh",
                epochs=300, epochs_2d=50, epochs_pitfall=30, k_iwae=(1, 5, 50, 500, 5000),
                n_check=1000),
)
cfg

# %% slideshow={"slide_type": "skip"}
# At full size the target is the published likelihood on full MNIST: without it, fail now (the
# error says where to put the files) rather than after hours of training on the 5,000 digits.
# A dry run (COURSE_MAX_STEPS) only checks the code paths: the embedded digits will do.
strict = profile.current() == "full" and not profile.dry_run()
train_set = data.load("mnist", "train", n=cfg.n_train, strict=strict)
test_set = data.load("mnist", "test", n=cfg.n_test, strict=strict)
x_train = train_set.images.flatten(1)                     # intensities in [0, 1]
# Likelihoods need binary data: the test digits are binarised once, stochastically
# (x ~ Bernoulli(intensity)) with a fixed seed; training digits are re-binarised at every step.
x_test = binarize(test_set.images.flatten(1), "stochastic",
                  generator=torch.Generator().manual_seed(0)).to(dev)
y_test = test_set.labels
dataset_desc = (f"{train_set.source}: {len(train_set)} train / {len(test_set)} test digits, "
                "stochastically binarised (test: once, seed 0; train: at every step)")   # the metrics' record
dataset_shown = tr(dataset_desc, f"{data.shown_source(train_set.source)}：训练集 {len(train_set)} 个、测试集 "
                                 f"{len(test_set)} 个数字，随机二值化（测试集：一次，种子 0；训练集：每一步重新二值化）")


# %% [markdown] slideshow={"slide_type": "slide"}
# ## The model and its loss (变分下界 ELBO)
#
# A latent $z \sim p(z) = \mathcal N(0, I)$ and a decoder $p_\theta(x \mid z)$. The encoder gives
# an approximate posterior $q_\phi(z \mid x) = \mathcal N(\mu, \operatorname{diag}\sigma^2)$.
# The lecture's derivation:
# $$\log p(x) = \underbrace{\mathbb E_{q}\Big[\log \frac{p(x, z)}{q(z \mid x)}\Big]}_{\mathrm{ELBO}}
#   + \mathrm{KL}\big(q(z \mid x) \,\|\, p(z \mid x)\big), \qquad
#   \mathrm{ELBO} = -\mathrm{KL}\big(q(z \mid x) \,\|\, p(z)\big) + \mathbb E_{q} \log p(x \mid z).$$
# The VAE maximises the ELBO over $\theta$ and $\phi$: the loss is $-\mathrm{ELBO}$ =
# reconstruction term + KL term.
#
# > **Note (slide "变分下界 (Evidence Lower Bound, ELOB)"):** a typo on the slide: the abbreviation is **ELBO**.
#
# Check it where everything is known: $p(z) = \mathcal N(0, 1)$, $p(x \mid z) = \mathcal N(z, s^2)$,
# so $p(x) = \mathcal N(0, 1 + s^2)$ and $p(z \mid x) = \mathcal N\big(\tfrac{x}{1+s^2},
# \tfrac{s^2}{1+s^2}\big)$.

# %% slideshow={"slide_type": "subslide"}
f64 = dict(dtype=torch.float64)
s2, x_obs = 0.5, torch.tensor(1.3, **f64)
log_px = Normal(torch.tensor(0.0, **f64), torch.tensor(1 + s2, **f64).sqrt()).log_prob(x_obs)
post_mu, post_var = x_obs / (1 + s2), torch.tensor(s2 / (1 + s2), dtype=torch.float64)


def elbo_toy(m, v):
    """−KL(q‖p(z)) + E_q log p(x|z) for q = N(m, v), both terms in closed form."""
    kl = gaussian_kl(m, v.log(), torch.zeros((), **f64), torch.zeros((), **f64))
    expected_log_lik = -0.5 * math.log(2 * math.pi * s2) - ((x_obs - m) ** 2 + v) / (2 * s2)
    return -kl + expected_log_lik


gen = torch.Generator().manual_seed(0)
for m, v in [(torch.tensor(0.2, **f64), torch.tensor(0.9, **f64)), (post_mu, post_var)]:
    elbo_m_v = elbo_toy(m, v)
    gap = log_px - elbo_m_v
    kl_post = gaussian_kl(m, v.log(), post_mu, post_var.log())
    # Monte Carlo: E_q[log p(x, z) − log q(z)] with z ~ q
    z = m + v.sqrt() * torch.randn(200_000, generator=gen, dtype=torch.float64)
    terms = (Normal(torch.tensor(0.0, **f64), torch.tensor(1.0, **f64)).log_prob(z)
             + Normal(z, math.sqrt(s2)).log_prob(x_obs) - Normal(m, v.sqrt()).log_prob(z))
    print(f"q = N({m:.3f}, {v:.3f}):  log p(x) = {log_px:.5f}   ELBO = {elbo_m_v:.5f}   "
          + tr(f"(Monte Carlo {terms.mean():.5f})   ", f"（蒙特卡洛 {terms.mean():.5f}）  ")
          + f"log p(x) − ELBO = {gap:.5f} = KL(q‖p(z|x)) = {kl_post:.5f}")
    assert abs(gap - kl_post) < 1e-10                     # the lecture's decomposition
    assert abs(terms.mean() - elbo_m_v) < 4 * terms.std() / math.sqrt(len(terms)) + 1e-9
assert abs(elbo_toy(post_mu, post_var) - log_px) < 1e-10  # the bound is tight at q = p(z|x)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 07.1 — the KL term (练习 07.1)
# The ELBO's KL term in closed form: write $\mathrm{KL}(\mathcal N(\mu, \operatorname{diag}\sigma^2)
# \,\|\, \mathcal N(0, I))$ for tensors `mu`, `logvar` $= \log\sigma^2$ of shape (B, J), summed over
# the J coordinates (result: shape (B,)). The next slide checks the KL between two Gaussians.

# %% slideshow={"slide_type": "fragment"}
def kl_term(mu, logvar):
    return None  # your code here


# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"}
### BEGIN SOLUTION
def kl_term(mu, logvar):
    # per coordinate −½ (1 + log σ² − μ² − σ²), summed over the J coordinates
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - torch.exp(logvar), dim=-1)
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.kl_term(kl_term)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The KL between two Gaussians (两个正态分布之间的 KL 散度)
# $$\mathrm{KL}\big(\mathcal N(\mu_1, \sigma_1^2) \,\|\, \mathcal N(\mu_2, \sigma_2^2)\big)
#   = \log\frac{\sigma_2}{\sigma_1} + \frac{\sigma_1^2 + (\mu_1 - \mu_2)^2}{2\sigma_2^2} - \frac12,$$
# and with $p(z) = \mathcal N(0, 1)$:
# $\mathrm{KL}(q(z \mid x) \,\|\, p(z)) = -\tfrac12\big(\log\sigma^2 - \sigma^2 - \mu^2 + 1\big)$
# per coordinate. Checked against `torch.distributions` and a Monte Carlo estimate:

# %% slideshow={"slide_type": "fragment"}
print(inspect.getsource(gaussian_kl))
mu1, logvar1 = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([-0.5, 0.7, -2.0])
mu2, logvar2 = torch.tensor([0.0, 0.5, 1.0]), torch.tensor([0.0, -0.3, 1.0])
ours = gaussian_kl(mu1, logvar1, mu2, logvar2)
q1, q2 = Normal(mu1, (0.5 * logvar1).exp()), Normal(mu2, (0.5 * logvar2).exp())
reference = kl_divergence(q1, q2)
z = q1.sample((400_000,))
log_ratio = q1.log_prob(z) - q2.log_prob(z)
mc, se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(len(z))
print(tr("closed form        ", "闭式解             "), ours.numpy().round(5))
print("torch.distributions", reference.numpy().round(5))
print(tr("Monte Carlo        ", "蒙特卡洛           "), mc.numpy().round(5), "± ", se.numpy().round(5))
torch.testing.assert_close(ours, reference, atol=1e-6, rtol=1e-6)
assert ((mc - ours).abs() < 4 * se).all()
# the special case p(z) = N(0, 1), summed over the coordinates
special = kl_standard_normal(mu1, logvar1)
torch.testing.assert_close(special, gaussian_kl(mu1, logvar1, torch.tensor(0.0),
                                                torch.tensor(0.0)).sum())
torch.testing.assert_close(special, kl_divergence(q1, Normal(0.0, 1.0)).sum())
print(tr("special case ", "特例 ") + f"−½Σ(log σ² − σ² − μ² + 1) = {special:.5f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 07.2 — the reparameterisation (练习 07.2)
# Sampling $z \sim \mathcal N(\mu, \sigma^2)$ as $z = \mu + \sigma \cdot \varepsilon$ with
# $\varepsilon \sim \mathcal N(0, I)$ (the next slide says why). Return $z$ for given `mu`,
# `logvar` $= \log\sigma^2$ and `eps` (all the same shape), with the right $\sigma$.

# %% slideshow={"slide_type": "fragment"}
def reparameterize(mu, logvar, eps):
    return None  # your code here


# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"}
### BEGIN SOLUTION
def reparameterize(mu, logvar, eps):
    std = torch.exp(0.5 * logvar)          # σ = exp(½ log σ²), not ½·exp(log σ²)
    return mu + std * eps
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.reparameterisation(reparameterize)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The reparameterisation trick
# Sampling $z \sim \mathcal N(\mu, \sigma^2)$ is not differentiable in $\mu, \sigma$; writing
# $$z = \mu + \sigma \cdot \varepsilon, \qquad \varepsilon \sim \mathcal N(0, I), \qquad
#   \sigma = \exp(\tfrac12 \log\sigma^2)$$
# moves the randomness into $\varepsilon$, so gradients flow through $\mu$ and $\log\sigma^2$.
# Check: $\mathbb E[z^2] = \mu^2 + \sigma^2$, so $\partial/\partial\mu = 2\mu$ and
# $\partial/\partial \log\sigma^2 = \sigma^2$; the Monte Carlo gradient through samples agrees.

# %% slideshow={"slide_type": "fragment"}
mu = torch.tensor(0.7, requires_grad=True)
logvar = torch.tensor(-0.4, requires_grad=True)
eps = torch.randn(400_000, generator=torch.Generator().manual_seed(1))
z = mu + torch.exp(0.5 * logvar) * eps
(z ** 2).mean().backward()
sigma2 = math.exp(-0.4)
print(tr(f"z: mean {z.mean():.4f} (μ = 0.7), std {z.std():.4f} (σ = {math.sqrt(sigma2):.4f})",
         f"z：均值 {z.mean():.4f}（μ = 0.7），标准差 {z.std():.4f}（σ = {math.sqrt(sigma2):.4f}）"))
print(f"d E[z²]/dμ = {mu.grad:.4f} (2μ = 1.4);  d E[z²]/d logvar = {logvar.grad:.4f} "
      f"(σ² = {sigma2:.4f})")
# the gradients that flow through the samples are those of the closed form (Monte Carlo error
# about 0.003 with 400,000 draws); σ = ½·exp(logvar) would give d/d logvar = ½·e^{2·logvar} = 0.22
assert abs(mu.grad - 1.4) < 0.01 and abs(logvar.grad - sigma2) < 0.01

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The lecture's estimator (SGVB): $L$ draws of $z$, averaged
# The slide's loss, for one data point $x^{(i)}$:
# $$\mathcal L(\theta, \phi; x^{(i)}) \simeq \frac12 \sum_{j=1}^J \Big(1 + \log\big(\sigma_j^{(i)}\big)^2
#   - \big(\mu_j^{(i)}\big)^2 - \big(\sigma_j^{(i)}\big)^2\Big)
#   + \frac1L \sum_{l=1}^L \log p_\theta\big(x^{(i)} \mid z^{(i,l)}\big), \qquad
#   z^{(i,l)} = \mu^{(i)} + \sigma^{(i)} \odot \varepsilon^{(l)},\ \varepsilon^{(l)} \sim \mathcal N(0, I).$$
# This is Kingma & Welling's SGVB estimator $\tilde{\mathcal L}^B$ (2013; the second of their two
# estimators, A and B): $-\mathrm{KL}$ in closed form, the expected reconstruction term as a Monte
# Carlo average over $L$ draws. For every $L$ its mean is
# the ELBO, and its variance falls as $1/L$. The training step below uses $L = 1$, one $z$ per digit
# (Kingma & Welling found $L = 1$ enough with minibatches of 100).
#
# Checked where the ELBO is known without sampling: $p(z) = \mathcal N(0, I_2)$,
# $p(x \mid z) = \mathcal N(Wz + b, s^2 I_3)$. Then $\mathrm{ELBO} = \log p(x) - \mathrm{KL}(q \,\|\, p(z \mid x))$
# with $p(x) = \mathcal N(b, WW^\top + s^2 I)$ and a Gaussian posterior (no expectation of
# $\log p(x \mid z)$ in it), and with $r = x - b - W\mu$, $A = W \operatorname{diag}(\sigma)$:
# $\operatorname{Var}_q[\log p(x \mid z)] = \big(4\, r^\top A A^\top r + 2 \operatorname{tr}((A^\top A)^2)\big) / (4 s^4)$.

# %% slideshow={"slide_type": "fragment"}
def sgvb_estimate(mu, logvar, log_p_x_given_z, L: int, generator: torch.Generator):
    """The slide's ½Σ_j(1 + log σ_j² − μ_j² − σ_j²) + (1/L) Σ_l log p(x | z^(l)): mu, logvar (..., J) → (...)."""
    eps = torch.randn((L, *mu.shape), generator=generator, dtype=mu.dtype)   # ε^(l), l = 1..L
    z = mu + torch.exp(0.5 * logvar) * eps                                   # z^(i,l): (L, ..., J)
    minus_kl = 0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)
    return minus_kl + log_p_x_given_z(z).sum(0) / L                          # (1/L) Σ_l


W_lin = torch.tensor([[1.0, -0.5], [0.3, 0.8], [-1.2, 0.4]], **f64)        # D = 3, J = 2
b_lin, s_lin = torch.tensor([0.2, -0.1, 0.5], **f64), 0.7
x_lin = torch.tensor([1.0, 0.4, -0.8], **f64)
mu_q, logvar_q = torch.tensor([0.3, -0.2], **f64), torch.tensor([-1.0, -0.5], **f64)  # some q(z|x), not the posterior


def log_p_x_given_z_lin(z):
    return Normal(z @ W_lin.T + b_lin, s_lin).log_prob(x_lin).sum(-1)


# the ELBO and the variance of one draw, without sampling
p_x = torch.distributions.MultivariateNormal(b_lin, W_lin @ W_lin.T + s_lin ** 2 * torch.eye(3, **f64))
post_cov = torch.linalg.inv(torch.eye(2, **f64) + W_lin.T @ W_lin / s_lin ** 2)
posterior = torch.distributions.MultivariateNormal(post_cov @ W_lin.T @ (x_lin - b_lin) / s_lin ** 2, post_cov)
q_lin = torch.distributions.MultivariateNormal(mu_q, torch.diag(logvar_q.exp()))
elbo_exact = (p_x.log_prob(x_lin) - kl_divergence(q_lin, posterior)).item()
r_lin, A_lin = x_lin - b_lin - W_lin @ mu_q, W_lin * torch.exp(0.5 * logvar_q)
var_one = ((4 * r_lin @ A_lin @ A_lin.T @ r_lin + 2 * torch.trace((A_lin.T @ A_lin) @ (A_lin.T @ A_lin)))
           / (4 * s_lin ** 4)).item()


def spread_check(est, L: int) -> tuple[float, float]:
    """(mean − ELBO) in standard errors of a right estimator; |var − var_one/L| in standard errors of a variance."""
    R = len(est)
    z_mean = (est.mean().item() - elbo_exact) / math.sqrt(var_one / L / R)
    m4 = ((est - est.mean()) ** 4).mean().item()
    z_var = abs(est.var().item() - var_one / L) / math.sqrt((m4 - est.var().item() ** 2) / R)
    return z_mean, z_var


R_sgvb, gen_sgvb = 20_000, torch.Generator().manual_seed(5)
mu_R, logvar_R = mu_q.expand(R_sgvb, 2), logvar_q.expand(R_sgvb, 2)        # R independent estimates
print(tr(f"exact ELBO {elbo_exact:.4f}, Var of one draw {var_one:.3f}; {R_sgvb:,} estimates per L:",
         f"精确的 ELBO {elbo_exact:.4f}，单次抽样的方差 {var_one:.3f}；每个 L 取 {R_sgvb:,} 个估计："))
for L in (1, 10, 100):
    est = sgvb_estimate(mu_R, logvar_R, log_p_x_given_z_lin, L, gen_sgvb)
    z_mean, z_var = spread_check(est, L)
    print(tr(f"  L = {L:3d}: mean {est.mean():.4f} ({z_mean:+.1f} SE), variance {est.var():.4f} "
             f"(var_one / L = {var_one / L:.4f}, {z_var:.1f} SE)",
             f"  L = {L:3d}：均值 {est.mean():.4f}（{z_mean:+.1f} 个标准误），方差 {est.var():.4f}"
             f"（var_one / L = {var_one / L:.4f}，{z_var:.1f} 个标准误）"))
    assert abs(z_mean) < 4 and z_var < 4


# controls at L = 10: three slips, each caught by the same two numbers
def sgvb_slip(mu, logvar, f, L: int, generator: torch.Generator, slip: str):
    """sgvb_estimate with one slip: "no 1/L", "one ε for every l" or "slide's std" (½·exp(log σ²))."""
    eps = torch.randn((L, *mu.shape), generator=generator, dtype=mu.dtype)
    if slip == "one ε for every l":
        eps = eps[:1].expand_as(eps)
    std = 0.5 * torch.exp(logvar) if slip == "slide's std" else torch.exp(0.5 * logvar)
    rec = f(mu + std * eps).sum(0)
    return 0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1) + (rec if slip == "no 1/L" else rec / L)


slips = {"no 1/L": tr("no 1/L", "漏掉 1/L"), "one ε for every l": tr("one ε for every l", "所有 l 共用一个 ε"),
         "slide's std": tr("slide's std", "讲义的标准差")}
for slip, shown in slips.items():
    z_mean, z_var = spread_check(sgvb_slip(mu_R, logvar_R, log_p_x_given_z_lin, 10, gen_sgvb, slip), 10)
    print(tr(f"  control, {shown:18s}: mean {z_mean:+9.1f} SE, variance {z_var:7.1f} SE from a right estimator's",
             f"  对照，{shown}：均值偏离正确估计量 {z_mean:+.1f} 个标准误，方差偏离 {z_var:.1f} 个标准误"))
    assert abs(z_mean) > 4 or z_var > 4

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The lecture's code (VAE实现概览) — and its bugs
# Here it is as on the slide (only the class names changed, so they do not hide ours):

# %% slideshow={"slide_type": "subslide"}
class LectureVAE(nn.Module):
    def __init__(self, in_features, hidden_features, out_features, n_num):
        super(LectureVAE, self).__init__()  # noqa: UP008 - as on the slide

        self.encoder = nn.Sequential(nn.Linear(in_features, hidden_features), nn.ReLU(True))
        self.mean = nn.Linear(hidden_features, n_num)
        self.logvar = nn.Linear(hidden_features, n_num)

        self.decoder = nn.Sequential(nn.Linear(n_num, hidden_features), nn.ReLU(True), nn.Linear(hidden_features,
            out_features), nn.Tanh())

    def forward(self, x):
        x = self.encoder(x)
        x_mean = self.mean(x)
        x_logvar = self.logvar(x)
        std = 0.5 * torch.exp(x_logvar)
        z = torch.randn(std.size()) * std + x_mean
        z = self.decoder(z)
        return z, x_mean, x_logvar


class LectureVAE_Loss(_Loss):  # noqa: N801 - as on the slide
    def __init__(self, reduction='sum'):
        super(LectureVAE_Loss, self).__init__()  # noqa: UP008
        self.bce_loss = torch.nn.BCELoss(reduction = reduction)

    def forward(self, input, target, x_mean, x_logvar):
        loss1 = self.bce_loss(input, target)
        loss2 = self.KL_divergence(x_mean, x_logvar)
        return loss1 + loss2

    def KL_divergence(x_mean, x_logvar):  # noqa: N805 - the bug is the point
        return - 0.5 * torch.sum(1 + x_logvar - torch.exp(x_logvar) - x_mean**2)


# %% [markdown] slideshow={"slide_type": "subslide"}
# > **Pitfall 1 (lecture slide "VAE实现概览"): `std = 0.5 * torch.exp(x_logvar)`.**
# > The encoder outputs $\log\sigma^2$, so $\sigma = \exp(\tfrac12\log\sigma^2)$: the line should
# > be `std = torch.exp(0.5 * x_logvar)`. With the slide's line the noise actually used has
# > standard deviation $\tfrac12 e^{\log\sigma^2}$, while the KL term is computed for
# > $\sigma^2 = e^{\log\sigma^2}$: the loss describes a different $q$ than the one sampled.

# %% slideshow={"slide_type": "fragment"}
logvar_demo = torch.tensor([-6.0, -4.0, -2.0, 0.0, 1.0, 2.0])
print("log σ²              ", logvar_demo.numpy())
print("σ = exp(½ log σ²)   ", torch.exp(0.5 * logvar_demo).numpy().round(4))
print(tr("slide: ½ exp(log σ²)", "讲义：½ exp(log σ²) "), (0.5 * torch.exp(logvar_demo)).numpy().round(4))
# The lecture's own forward pass, called as on the slide: many draws of z for one digit x. A
# hook on the decoder records the z that `forward` feeds it; their spread is measured and set
# beside the two formulas (the encoder is untrained, so log σ² ≈ 0, where they differ by 2×).
torch.manual_seed(3)                                      # forward draws torch.randn(std.size())
lecture_vae = LectureVAE(784, 400, 784, 2)
x_one = torch.rand(1, 784)
fed_to_decoder = []
hook = lecture_vae.decoder.register_forward_pre_hook(lambda module, args: fed_to_decoder.append(args[0]))
with torch.no_grad():
    lecture_vae(x_one.expand(20_000, 784))                # LectureVAE.forward, 20,000 times x
    lv = lecture_vae.logvar(lecture_vae.encoder(x_one))[0]    # log σ² the encoder gives x
hook.remove()
z_std = fed_to_decoder[0].std(0)                          # measured over the 20,000 draws
print(tr(f"for one x: log σ² = {lv.numpy().round(3)}\n"
         f"  std of the z that forward() samples  {z_std.numpy().round(3)}\n"
         f"  slide's ½·exp(log σ²)                 {(0.5 * torch.exp(lv)).numpy().round(3)}\n"
         f"  σ = exp(½·log σ²), what the KL assumes {torch.exp(0.5 * lv).numpy().round(3)}",
         f"对一个 x：log σ² = {lv.numpy().round(3)}\n"
         f"  forward() 抽出的 z 的标准差      {z_std.numpy().round(3)}\n"
         f"  讲义的 ½·exp(log σ²)             {(0.5 * torch.exp(lv)).numpy().round(3)}\n"
         f"  σ = exp(½·log σ²)，KL 项假定的值 {torch.exp(0.5 * lv).numpy().round(3)}"))
# the sample std of 20,000 draws is within 1.5% of the true spread with probability > 0.999
assert torch.allclose(z_std, 0.5 * torch.exp(lv), rtol=0.03), "forward samples with ½·exp(logvar)"
assert ((z_std - torch.exp(0.5 * lv)).abs() > 0.2 * torch.exp(0.5 * lv)).all(), "not with σ"

# %% [markdown] slideshow={"slide_type": "subslide"}
# > **Pitfall 2 (lecture slide "VAE实现概览"): a `Tanh` output fed to `BCELoss`.** Binary cross
# > entropy is $-\log p(x \mid z)$ for a Bernoulli decoder: its inputs must be probabilities in
# > $[0, 1]$ and its targets must be in $[0, 1]$ (for a likelihood: binary). Tanh outputs lie in
# > $(-1, 1)$. The fix: let the decoder output **logits** and use
# > `F.binary_cross_entropy_with_logits`, which is also numerically stable where a sigmoid
# > saturates.

# %% slideshow={"slide_type": "fragment"}
x_batch = x_test[:8].cpu()
out, x_mean, x_logvar = lecture_vae(x_batch)
print(tr(f"the slide's decoder outputs lie in [{out.min():.3f}, {out.max():.3f}]",
         f"讲义中解码器的输出落在 [{out.min():.3f}, {out.max():.3f}] 内"))
try:
    LectureVAE_Loss()(out, x_batch, x_mean, x_logvar)
    raised = None
except RuntimeError as err:                               # BCELoss rejects inputs outside [0, 1]
    raised = err
print(f"LectureVAE_Loss → RuntimeError: {raised}")
assert raised is not None and "between 0 and 1" in str(raised)

# %% [markdown] slideshow={"slide_type": "fragment"}
# Squashing with a sigmoid before `BCELoss` runs, but breaks where the sigmoid saturates: in
# float32, $\mathrm{sigmoid}(-120) = 0$, `BCELoss` clamps $\log 0$ to $-100$ and the gradient
# vanishes, while the logits version gives the exact loss 120 and gradient −1:

# %% slideshow={"slide_type": "fragment"}
target = torch.tensor([1.0])
for logit in [-5.0, -30.0, -120.0]:
    a = torch.tensor([logit], requires_grad=True)
    b = torch.tensor([logit], requires_grad=True)
    loss_sig = F.binary_cross_entropy(torch.sigmoid(a), target)
    loss_log = F.binary_cross_entropy_with_logits(b, target)
    loss_sig.backward()
    loss_log.backward()
    print(tr(f"logit {logit:7.1f}: sigmoid + BCELoss = {loss_sig.item():8.3f} (grad {a.grad.item():7.3f})"
             f"   BCEWithLogits = {loss_log.item():8.3f} (grad {b.grad.item():7.3f})",
             f"logit {logit:7.1f}：sigmoid + BCELoss = {loss_sig.item():8.3f}（梯度 {a.grad.item():7.3f}）"
             f"   BCEWithLogits = {loss_log.item():8.3f}（梯度 {b.grad.item():7.3f}）"))
assert loss_sig.item() == 100.0 and abs(loss_log.item() - 120.0) < 1e-4

# %% [markdown] slideshow={"slide_type": "subslide"}
# > **Pitfall 3 (lecture slide "VAE实现概览"): `def KL_divergence(x_mean, x_logvar)` has no
# > `self`.** Called as `self.KL_divergence(x_mean, x_logvar)`, Python passes three arguments to a
# > function that takes two. Even with valid probabilities for `BCELoss`, the lecture's loss
# > cannot run. Fix: `def KL_divergence(self, x_mean, x_logvar)` (or a `@staticmethod`).

# %% slideshow={"slide_type": "fragment"}
probs = torch.sigmoid(torch.randn(8, 784))                # valid inputs for BCELoss this time
try:
    LectureVAE_Loss()(probs, x_batch, x_mean, x_logvar)
    raised = None
except TypeError as err:
    raised = err
print(f"LectureVAE_Loss → TypeError: {raised}")
assert raised is not None and "positional argument" in str(raised)

# %% [markdown] slideshow={"slide_type": "subslide"}
# > **Pitfall 4 (lecture slide "VAE实现概览"): `torch.randn(std.size())` ignores the device.**
# > It always makes a CPU float32 tensor; on a GPU, `randn(...) * std` with `std` on CUDA fails
# > with "Expected all tensors to be on the same device". Fix: `torch.randn_like(std)` (same
# > device and dtype as `std`). On a CPU-only machine both are on the CPU and the bug hides; the
# > `meta` device (tensors without data) shows the mismatch anywhere:

# %% slideshow={"slide_type": "fragment"}
std = torch.ones(4, 2, device="meta")                     # stands in for a CUDA tensor
print(tr(f"std on {std.device}; torch.randn(std.size()) on {torch.randn(std.size()).device}; "
         f"torch.randn_like(std) on {torch.randn_like(std).device}",
         f"std 在 {std.device} 上；torch.randn(std.size()) 在 {torch.randn(std.size()).device} 上；"
         f"torch.randn_like(std) 在 {torch.randn_like(std).device} 上"))
try:
    torch.randn(std.size()) * std
    raised = None
except RuntimeError as err:
    raised = err
print(f"torch.randn(std.size()) * std → RuntimeError: {raised}")
assert raised is not None and torch.randn_like(std).device == std.device
if torch.cuda.is_available():                             # the real thing, on a GPU machine
    std_cuda = torch.ones(4, 2, device="cuda")
    try:
        torch.randn(std_cuda.size()) * std_cuda
    except RuntimeError as err:
        print(tr("on CUDA", "在 CUDA 上") + f" → RuntimeError: {err}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# > **Pitfall (lecture slide on the KL term).** The slide writes "定义 $p(z|x) \sim N(\mu, \sigma^2)$";
# > it is the *approximate* posterior $q(z \mid x)$ that is defined as $\mathcal N(\mu, \sigma^2)$
# > — the true $p(z \mid x)$ is what we cannot compute.
#
# The corrected model is `course_utils.neural.autoencoders.VAE` (its `reparameterize` uses
# `torch.exp(0.5 * logvar)` and noise on `std`'s device; its decoder returns logits).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Training (训练): minimise −ELBO
# One step, written out: binarise, encode, reparameterise, decode to **logits**, and the loss
# $= \underbrace{-\log p(x \mid z)}_{\text{reconstruction}} +
# \underbrace{\mathrm{KL}(q(z \mid x) \,\|\, p(z))}_{\text{KL}}$, averaged over the batch.

# %% slideshow={"slide_type": "fragment"}
def vae_step(model: VAE, opt: torch.optim.Optimizer, reparameterize=None):
    """The training step for ``fit``: one gradient step on −ELBO, returns its two terms."""

    def step(batch):
        (x,) = batch
        x = torch.bernoulli(x)                            # dynamic binarisation
        mu, logvar = model.encode(x)
        if reparameterize is None:
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)   # z = μ + σ·ε
        else:
            z = reparameterize(mu, logvar)
        logits = model.decode(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp())).sum() / len(x)
        loss = rec + kl                                   # −ELBO per digit, in nats
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"-ELBO": loss.item(), "reconstruction": rec.item(), "KL": kl.item()}

    return step


def train_vae(name: str, run: Config, epochs: int, reparameterize=None):
    """Build and train (or load from its checkpoint) a VAE with the sizes of ``run``."""
    torch.manual_seed(0)
    model = VAE(784, run.hidden, run.z_dim, activation=run.activation)
    opt = torch.optim.Adam(model.parameters(), lr=run.lr)
    key = checkpoints.key(NB, name, config=run, modules={"vae": model}, optimizers={"opt": opt},
                          data=x_train)
    history = fit(vae_step(model, opt, reparameterize), x_train, epochs=epochs,
                  batch_size=run.batch_size, modules={"vae": model}, optimizers={"opt": opt},
                  checkpoint=key, desc=name)
    return model, history


# %% [markdown] slideshow={"slide_type": "slide"}
# ## A VAE on MNIST
# The corrected model with the sizes of the config cell (at `smoke` and `cpu` the lecture's one
# hidden layer, 784–400–20), trained with Adam. The checkpoint makes re-running this cell load
# the trained model instead of training again.

# %% slideshow={"slide_type": "subslide"}
vae, hist = train_vae("vae", cfg, cfg.epochs)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
plotting.plot_history(hist, ["-ELBO", "reconstruction"], per="epoch", ax=axes[0],
                      labels={"reconstruction": tr("reconstruction", "重建项")},
                      title=tr("−ELBO and its reconstruction term", "−ELBO 及其重建项"))
plotting.plot_history(hist, ["KL"], per="epoch", ax=axes[1], title="KL(q(z|x) ‖ p(z))")
for ax in axes:
    ax.set_ylabel(tr("nats per digit", "每个数字的奈特数"))
plt.show()
plotting.savefig(fig, NB, "training_curves")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Samples from the prior and reconstructions
# Generation is now possible: $z \sim \mathcal N(0, I)$, then the decoder's Bernoulli means
# $\mathrm{sigmoid}(\text{logits})$. Reconstructions: encode a test digit, take $z = \mu$, decode.

# %% slideshow={"slide_type": "fragment"}
with torch.no_grad():
    z_prior = torch.randn(64, cfg.z_dim, generator=torch.Generator().manual_seed(5)).to(dev)
    samples = torch.sigmoid(vae.decode(z_prior)).reshape(-1, 1, 28, 28).cpu()
    show = torch.cat([(y_test == c).nonzero()[:2, 0] for c in range(8)])   # 2 per class, 0…7
    recon = torch.sigmoid(vae.decode(vae.encode(x_test[show])[0])).cpu()
fig, axes = plt.subplots(1, 2, figsize=(11, 5), gridspec_kw=dict(width_ratios=[1, 1]))
plotting.image_grid(samples, nrow=8, ax=axes[0],
                    title=tr("samples: sigmoid(decoder(z)), z ~ N(0, I)", "样本：sigmoid(decoder(z))，z ~ N(0, I)"))
plotting.image_grid(torch.cat([x_test[show].cpu(), recon]).reshape(-1, 1, 28, 28), nrow=8,
                    ax=axes[1], row_labels=["x", "x", "x'", "x'"],
                    title=tr("binarised test digits x and reconstructions x'", "二值化的测试数字 x 及其重建 x'"))
plt.show()
plotting.savefig(fig, NB, "samples_and_reconstructions")
artifacts.save_samples(NB, samples)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Back to **Pitfall 1**: what the slide's std does to the **loss**. Train a VAE with the slide's
# line (everything else correct) and compare the KL it reports, $-\tfrac12\sum(1 + \log\sigma^2 - \sigma^2 - \mu^2)$, with the true
# KL of the $q$ it actually samples from, $\mathcal N(\mu, (\tfrac12 e^{\log\sigma^2})^2)$. For
# $\sigma^2 \lesssim 1.5$ the reported value is too small: the "ELBO" it reports is higher than
# the real one of its own $q$, so it is **no longer a lower bound** one can trust — the training
# curve even looks better than the correct model's. And the codes the decoder is trained on do
# not have the spread of the prior $\mathcal N(0, I)$ that we sample from later.

# %% slideshow={"slide_type": "fragment"}
def slide_reparameterize(mu, logvar):
    std = 0.5 * torch.exp(logvar)                         # the slide's line (Pitfall 1)
    return mu + std * torch.randn_like(std)


vae_wrong, hist_wrong = train_vae("vae_slide_std", cfg, cfg.epochs_pitfall,
                                  reparameterize=slide_reparameterize)
S = 10                                                    # draws of z per test digit
g = torch.Generator(device=dev).manual_seed(11)
with torch.no_grad():
    mu_w, lv_w = vae_wrong.encode(x_test)
    q_w = Normal(mu_w, 0.5 * torch.exp(lv_w))             # the q it really samples from
    z_w = q_w.loc + q_w.scale * torch.randn((S, *mu_w.shape), generator=g, device=dev)
    log_px_z = bernoulli_log_likelihood(vae_wrong.decode(z_w), x_test)          # (S, N)
    # the true KL(q ‖ p(z)) of that q, by Monte Carlo from densities (no KL formula involved)
    kl_mc = (q_w.log_prob(z_w) - Normal(0.0, 1.0).log_prob(z_w)).sum(-1).mean(0)  # (N,)
    reported_kl = kl_standard_normal(mu_w, lv_w)          # what its loss computed, per digit
    true_logvar = 2 * lv_w + math.log(0.25)               # log of (½ e^{logvar})²
    true_kl = kl_standard_normal(mu_w, true_logvar)       # closed form, the right σ²
rec_w = -log_px_z.mean()
over = kl_mc - reported_kl                                # how much the reported KL is too small
se_over = over.std() / math.sqrt(len(over))
se_kl = (kl_mc - true_kl).std() / math.sqrt(len(over))
e, loss_slide = cfg.epochs_pitfall, hist_wrong.last("-ELBO")
loss_right = hist.epochs["-ELBO"][min(e, len(hist.epochs["-ELBO"])) - 1]
print(tr(f"training −ELBO after {e} epochs: slide's std {loss_slide:.1f}, correct VAE "
         f"{loss_right:.1f} nats per digit (the slide's looks {'better' if loss_slide < loss_right else 'worse'})",
         f"训练 {e} 个迭代周期后的 −ELBO：讲义的标准差 {loss_slide:.1f}，正确的 VAE {loss_right:.1f} 奈特每个数字"
         f"（讲义的版本看上去{'更好' if loss_slide < loss_right else '更差'}）"))
print(tr(f"slide's std on the test digits: reported KL {reported_kl.mean():.2f} nats; true KL of the q "
         f"it samples {kl_mc.mean():.2f} ± {se_kl:.2f} (Monte Carlo), {true_kl.mean():.2f} (closed form)\n"
         f"reported −ELBO {rec_w + reported_kl.mean():.1f}, true −ELBO {rec_w + kl_mc.mean():.1f} nats; "
         f"{100 * (lv_w.exp() < 1.5).float().mean():.0f}% of the coordinates have σ² < 1.5",
         f"讲义的标准差，在测试数字上：报告的 KL {reported_kl.mean():.2f} 奈特；它实际采样的 q 的真实 KL "
         f"{kl_mc.mean():.2f} ± {se_kl:.2f}（蒙特卡洛），{true_kl.mean():.2f}（闭式解）\n"
         f"报告的 −ELBO {rec_w + reported_kl.mean():.1f}，真实的 −ELBO {rec_w + kl_mc.mean():.1f} 奈特；"
         f"{100 * (lv_w.exp() < 1.5).float().mean():.0f}% 的坐标 σ² < 1.5"))
# the closed-form KL with the slide's σ² substituted agrees with the Monte Carlo one
assert abs((kl_mc - true_kl).mean()) < 4 * se_kl + 1e-3
# What this model learnt: after training, its reported KL is too small, so its reported −ELBO is
# below the true −ELBO of its own q (a model that had learnt σ² > 1.55 would report too much).
# Barely trained (smoke, a dry run), σ² is still anywhere: nothing to assert there. Measured at
# cpu: 23.4 ± 0.09 nats (Monte Carlo error); target 10.
print(tr(f"true − reported KL: {over.mean():.2f} ± {se_over:.2f} nats (Monte Carlo error)",
         f"真实的 KL − 报告的 KL：{over.mean():.2f} ± {se_over:.2f} 奈特（蒙特卡洛误差）"))
quality.at_least(tr("slide's std: true − reported KL (nats)", "讲义的标准差：真实的 KL − 报告的 KL（奈特）"), over.mean(),
                 cpu=10)
metrics_pitfall = {"slide_std_kl_underestimate_nats": over.mean().item(),
                   "slide_std_reported_neg_elbo": (rec_w + reported_kl.mean()).item(),
                   "slide_std_true_neg_elbo": (rec_w + kl_mc.mean()).item()}


# %% [markdown] slideshow={"slide_type": "fragment"}
# The slide's std (Pitfall 1) also shows in the codes: the decoder is trained on
# $z \sim q(z \mid x)$ over the data, whose overall spread should match the prior $\mathcal N(0, I)$
# we sample from. Compare the variance of the sampled codes per coordinate, averaged:

# %% slideshow={"slide_type": "fragment"}
with torch.no_grad():
    mu_c, lv_c = vae.encode(x_test)
    z_right = vae.reparameterize(mu_c, lv_c)
    z_wrong = mu_w + 0.5 * torch.exp(lv_w) * torch.randn_like(mu_w)
print(tr(f"mean variance of the codes: correct VAE {z_right.var(0).mean():.3f}, "
         f"slide's std {z_wrong.var(0).mean():.3f}; the prior has 1",
         f"编码的平均方差：正确的 VAE {z_right.var(0).mean():.3f}，"
         f"讲义的标准差 {z_wrong.var(0).mean():.3f}；先验分布的方差是 1"))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A 2-D latent space: the map of the digit manifold
# With $J = 2$ we can see the whole latent space: the encoded test digits (means $\mu$,
# coloured by class), and the decoder on a grid of $z$ at the prior's quantiles (the classic
# figure of Kingma & Welling). Unlike the plain autoencoder (notebook 06), the codes fill the
# prior's region and every point of it decodes to something digit-like.

# %% slideshow={"slide_type": "subslide"}
vae2, hist2 = train_vae("vae_2d", replace(cfg, z_dim=2), cfg.epochs_2d)
n_grid = 15
quantiles = Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, n_grid))
zz2, zz1 = torch.meshgrid(quantiles.flip(0), quantiles, indexing="ij")   # top row: high z₂
z_grid = torch.stack([zz1, zz2], -1).reshape(-1, 2)
with torch.no_grad():
    grid_images = torch.sigmoid(vae2.decode(z_grid.to(dev))).reshape(-1, 1, 28, 28).cpu()
    mu_2d = vae2.encode(x_test)[0].cpu()
fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
sc = axes[0].scatter(mu_2d[:, 0], mu_2d[:, 1], c=y_test, cmap="tab10", s=8)
axes[0].set_xlabel("z₁")
axes[0].set_ylabel("z₂")
axes[0].set_title(tr("test digits: μ(x), coloured by class", "测试数字的 μ(x)，按类别着色"))
fig.colorbar(sc, ax=axes[0], ticks=range(10), label=tr("digit", "数字"))
plotting.image_grid(grid_images, nrow=n_grid, ax=axes[1],
                    title=tr("decoder on a grid of prior quantiles (5%…95%)", "在先验分布分位数的网格上解码（5%…95%）"))
plt.show()
plotting.savefig(fig, NB, "latent_2d")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Latent explorer
# Move the sliders to walk through the 2-D latent space ($\pm 3$ prior standard deviations).

# %% slideshow={"slide_type": "fragment"}
def show_decoded(z1: float = 0.0, z2: float = 0.0):
    with torch.no_grad():
        img = torch.sigmoid(vae2.decode(torch.tensor([[z1, z2]], device=dev))).reshape(28, 28)
    fig, ax = plt.subplots(figsize=(2.6, 2.6))
    ax.imshow(img.cpu(), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"z = ({z1:.1f}, {z2:.1f})")
    ax.axis("off")
    plt.show()


explorer = widgets.interact(
    show_decoded,
    z1=widgets.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.1, description="z₁"),
    z2=widgets.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.1, description="z₂"))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Interpolation between two digits
# Encode two test digits, walk along the straight line between their means in the
# 20-dimensional latent space (50 at `full`), and decode every point.

# %% slideshow={"slide_type": "fragment"}
i_a = int((y_test == 2).nonzero()[0])
i_b = int((y_test == 7).nonzero()[0])
with torch.no_grad():
    mu_ab = vae.encode(x_test[[i_a, i_b]])[0]
    ts = torch.linspace(0, 1, 10, device=dev).unsqueeze(1)
    path = torch.sigmoid(vae.decode((1 - ts) * mu_ab[0] + ts * mu_ab[1]))
fig = plotting.image_grid(path.reshape(-1, 1, 28, 28).cpu(), nrow=10,
                          title=tr("interpolation in latent space: a 2 → a 7", "隐空间中的插值：从 2 到 7"))
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Likelihood in nats (似然)
# The ELBO is a lower bound on $\log p(x)$. A tighter one (Burda, Grosse & Salakhutdinov, 2015)
# draws $k$ samples $z_i \sim q(z \mid x)$ and averages the importance weights
# $w_i = p(x, z_i) / q(z_i \mid x)$ inside the log:
# $$\mathcal L_k = \mathbb E\Big[\log \frac1k \sum_{i=1}^k w_i\Big], \qquad
#   \mathrm{ELBO} = \mathcal L_1 \le \mathcal L_k \le \mathcal L_{k+1} \le \log p(x),$$
# and $\mathcal L_k \to \log p(x)$ as $k \to \infty$. We report $-\mathcal L_{5000}$ as the test
# negative log-likelihood (NLL), on the binarised test digits.

# %% slideshow={"slide_type": "subslide"}
def log_weights(model: VAE, x: torch.Tensor, k: int, batch: int = 50, seed: int = 6) -> torch.Tensor:
    """log w for every test digit: (N, k), in batches of digits (memory: batch·chunk·784)."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    return torch.cat([log_importance_weights(model, xb, k, chunk=250, generator=g)
                      for xb in tqdm(x.split(batch), desc=f"log w, k = {k}", leave=False)])


# A dry run (COURSE_MAX_STEPS) checks the code path, not the number: 100 digits and k ≤ 50
# instead of every test digit with k = 5000 (minutes on a CPU at full size).
x_eval = x_test[:100] if profile.dry_run() else x_test
k_values = tuple(k for k in cfg.k_iwae if k <= 50) if profile.dry_run() else cfg.k_iwae
k_max = max(k_values)
log_w = log_weights(vae, x_eval, k_max)
iwae = {k: iwae_bound(log_w, k).mean().item() for k in k_values}
for k, value in iwae.items():
    print(tr(f"k = {k:5d}: L_k = {value:8.2f} nats", f"k = {k:5d}：L_k = {value:8.2f} 奈特"))

# The test ELBO from the separate `elbo` function (closed-form KL, 10 draws of z per digit)
g = torch.Generator(device=dev).manual_seed(8)
with torch.no_grad():
    elbo_draws = torch.stack([elbo(vae, x_eval, generator=g) for _ in range(10)])   # (10, N)
test_elbo = elbo_draws.mean().item()
iwae_nll = -iwae[k_max]
print(tr(f"test ELBO {test_elbo:.2f} nats;  IWAE (k = {k_max}) log p(x) ≥ {-iwae_nll:.2f} nats, "
         f"NLL {iwae_nll:.2f} nats\ndata: {dataset_shown}",
         f"测试集 ELBO {test_elbo:.2f} 奈特；IWAE（k = {k_max}）log p(x) ≥ {-iwae_nll:.2f} 奈特，"
         f"负对数似然 {iwae_nll:.2f} 奈特\n数据：{dataset_shown}"))
# Each log w_i is a one-sample ELBO: their mean (k draws per digit, from densities) must agree
# with the ELBO computed by `elbo` (closed-form KL) within Monte Carlo error. A log w that missed
# log p(z) or log q(z|x), or a KL formula with a slip, would be off by many nats.
diff = log_w.mean(1) - elbo_draws.mean(0)                 # per digit: the digit's own value cancels
se_diff = diff.std() / math.sqrt(len(diff))
print(tr(f"mean log w − ELBO(elbo function) = {diff.mean():.3f} ± {se_diff:.3f} nats",
         f"log w 的均值 − ELBO（elbo 函数）= {diff.mean():.3f} ± {se_diff:.3f} 奈特"))
assert abs(diff.mean()) < 4 * se_diff + 1e-3, "log importance weights disagree with the ELBO"


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Has $\mathcal L_k$ converged? A second proposal
# Importance sampling works with *any* proposal that covers the posterior: with
# $q'(z \mid x) = \mathcal N(\mu, (1.5\,\sigma)^2)$, wider than the encoder's $q$, the bound
# $\mathcal L'_k$ is another estimate that also rises to $\log p(x)$. If both have converged
# they agree, within their Monte Carlo error (from 10 independent blocks of samples) plus what
# each still gained over the last factor 10 of $k$ (an upper bound on the remaining gap when it
# shrinks like $1/k$). The log weights of $q'$ are written here from densities, independently of
# `log_importance_weights`.

# %% slideshow={"slide_type": "fragment"}
@torch.no_grad()
def log_weights_wide(model: VAE, x: torch.Tensor, k: int, scale: float = 1.5, seed: int = 9,
                     chunk: int = 250) -> torch.Tensor:
    """log w'_i = log p(x | z_i) + log p(z_i) − log q'(z_i | x), z_i ~ q' = N(μ, (scale·σ)²): (N, k)."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    mu, logvar = model.encode(x)
    q_wide, prior = Normal(mu, scale * torch.exp(0.5 * logvar)), Normal(0.0, 1.0)
    out = []
    for start in range(0, k, chunk):
        z = q_wide.loc + q_wide.scale * torch.randn((min(chunk, k - start), *mu.shape),
                                                    generator=g, device=x.device)
        log_p_xz = bernoulli_log_likelihood(model.decode(z), x) + prior.log_prob(z).sum(-1)
        out.append((log_p_xz - q_wide.log_prob(z).sum(-1)).T)
    return torch.cat(out, dim=1)


def block_error(lw: torch.Tensor, blocks: int = 10) -> float:
    """Monte Carlo standard error of mean L_k from ``blocks`` independent blocks of k/blocks samples."""
    n, k = lw.shape
    per_block = torch.stack([iwae_bound(b).mean() for b in lw[:, :k // blocks * blocks].chunk(blocks, 1)])
    return (per_block.std() / math.sqrt(blocks)).item()


x_check = x_eval[:cfg.n_check]
lw_q = log_w[:cfg.n_check]
lw_wide = torch.cat([log_weights_wide(vae, xb, k_max) for xb in x_check.split(50)])
L_q, L_wide = iwae_bound(lw_q).mean().item(), iwae_bound(lw_wide).mean().item()
gain_q = L_q - iwae_bound(lw_q, k_max // 10).mean().item()      # what the last factor 10 gave
gain_wide = L_wide - iwae_bound(lw_wide, k_max // 10).mean().item()
tolerance = 4 * math.hypot(block_error(lw_q), block_error(lw_wide)) + gain_q + gain_wide
print(tr(f"{len(x_check)} digits, k = {k_max}: L_k with q {L_q:.3f}, with q' {L_wide:.3f} nats "
         f"(difference {L_q - L_wide:+.3f}; allowed {tolerance:.3f}: Monte Carlo error and the gains "
         f"over the last factor 10 of k, {gain_q:.3f} and {gain_wide:.3f})",
         f"{len(x_check)} 个数字，k = {k_max}：用 q 的 L_k {L_q:.3f}，用 q' 的 {L_wide:.3f} 奈特"
         f"（相差 {L_q - L_wide:+.3f}；允许 {tolerance:.3f}：蒙特卡洛误差，加上 k 最后增大 10 倍带来的提升，"
         f"{gain_q:.3f} 和 {gain_wide:.3f}）"))
assert abs(L_q - L_wide) < tolerance, "two proposals give different log-likelihoods: not converged"

# %% slideshow={"slide_type": "fragment"}
fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.plot(list(iwae), list(iwae.values()), "o-", label=tr("IWAE bound L_k", "重要性加权下界 L_k"))
ax.axhline(test_elbo, color="gray", ls="--", label=tr("ELBO (elbo function)", "ELBO（elbo 函数）"))
ax.set_xscale("log")
ax.set_xlabel(tr("number of importance samples k", "重要性采样的样本数 k"))
ax.set_ylabel(tr("test log-likelihood bound (nats)", "测试集对数似然的下界（奈特）"))
ax.set_title(tr("tighter bounds with more samples", "样本越多，下界越紧"))
ax.legend()
ax.grid(alpha=0.3)
plt.show()
plotting.savefig(fig, NB, "iwae_vs_k")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **For reference:** Burda et al. (2015, Table 1) report $-86.76$ nats for a VAE with one
# stochastic layer (784–200–200–50) trained on the full binarised MNIST (60,000 training digits)
# and evaluated with $k = 5000$ on its 10,000 test digits. The number above is for the data set
# printed with it. On the embedded 4,500 training digits with a few dozen epochs it is not
# comparable: less data (and fewer epochs) give a worse model, and 500 test digits give a
# noisier estimate. The `full` profile (a GPU, full MNIST under `data/MNIST/raw`) uses Burda et
# al.'s architecture and checks that the NLL is within 5 nats of theirs. The `cpu` profile checks
# what a laptop run reaches on the embedded digits (measured: ELBO −108.2, NLL 101.9 nats; the
# targets leave 4 nats of margin).

# %% slideshow={"slide_type": "fragment"}
metrics = {
    "test_elbo_nats": test_elbo,
    "iwae_nll_nats": iwae_nll,
    "k_iwae": k_max,
    "train_seconds": hist.seconds,
    "epochs": cfg.epochs,
    "architecture": "-".join(str(n) for n in [784, *cfg.hidden, cfg.z_dim]) + f" {cfg.activation}",
    "dataset": dataset_desc,
    "n_test": len(x_eval),
    "iwae_check_difference_nats": L_q - L_wide,
    "test_kl_nats": kl_standard_normal(mu_c, lv_c).mean().item(),
    **metrics_pitfall,
}
artifacts.save_metrics(NB, metrics)
# cpu, measured on the embedded digits: ELBO −108.2, NLL 101.9 nats; targets with 4 nats of
# margin. full: within 5 nats of Burda et al.'s 86.76 on full MNIST.
quality.at_least(tr("test ELBO (nats)", "测试集 ELBO（奈特）"), test_elbo, cpu=-112)
quality.at_most(tr("IWAE NLL (nats)", "IWAE 负对数似然（奈特）"), iwae_nll, cpu=106, full=86.76 + 5)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 07.3 — the IWAE bound, stably (练习 07.3)
# Given log weights `log_w` of shape (B, k), return $\log \frac1k \sum_i w_i$ per row, shape (B,).
# The weights themselves under- or overflow (log weights are around −100 nats); do not
# exponentiate them directly.

# %% slideshow={"slide_type": "fragment"}
def iwae_from_log_weights(log_w):
    return None  # your code here


# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"}
### BEGIN SOLUTION
def iwae_from_log_weights(log_w):
    m = log_w.max(dim=1, keepdim=True).values           # shift by the largest log weight
    return m[:, 0] + torch.log(torch.exp(log_w - m).mean(dim=1))
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.iwae_bound(iwae_from_log_weights)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
# - VAE = autoencoder + a prior $p(z)$ + an encoder that outputs $q(z \mid x)$; loss $-\mathrm{ELBO}$
#   = reconstruction + $\mathrm{KL}(q \,\|\, p(z))$ (closed form for Gaussians, checked).
# - The reparameterisation $z = \mu + e^{\frac12\log\sigma^2}\varepsilon$ makes it trainable.
# - The lecture's code: fix the std, use logits with `binary_cross_entropy_with_logits`, give
#   `KL_divergence` its `self`, and draw noise with `randn_like`.
# - The prior fills the latent space, so decoding $z \sim p(z)$ gives digits; $\log p(x)$ can be
#   bounded in nats (ELBO ≤ IWAE ≤ $\log p(x)$). Next: GANs, which drop the likelihood altogether.
