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
# # 05 · Approximate inference (近似推断): Monte Carlo and variational inference
#
# Lecture 12, "基于概率图的推断 ② 近似推断". When the exact sum is too large (the previous
# notebook: the cost grows with the largest clique), approximate it:
# - **sampling** (采样法, Monte Carlo): "通过模拟的方式来采集符合某个分布 $p(x)$ 的一些样本，并估计相关量";
# - **variational inference** (变分推断): "引入一个比较简单的变分分布来近似条件概率，然后通过迭代的方法进行计算".
#
# Every estimate here is compared with the exact answer from `course_utils.pgm`.

# %% slideshow={"slide_type": "skip"}
import itertools
import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.integrate import quad
from scipy.special import logsumexp
from scipy.stats import entropy, norm

from course_utils import artifacts, plotting, profile, quality
from course_utils.exercises import graphical_models as ex
from course_utils.i18n import tr  # tr(English, Chinese): the words a figure or a line shows, in the notebook's language
from course_utils.pgm import (
    BayesianNetwork,
    Factor,
    JunctionTree,
    example_network,
    forward_sample,
    gibbs_sampling,
    likelihood_weighting,
    rejection_sampling,
    variable_elimination,
)

profile.seed_everything(0)
profile.set_cpu_threads()  # 1 torch thread on the CPU: small models, often busy cores (COURSE_THREADS=0: all)
NOTEBOOK = "05_approximate_inference"


# %% slideshow={"slide_type": "skip"}
@dataclass(frozen=True)
class Config:
    n_grid: tuple[int, ...]  # sample sizes N of the Monte Carlo error curve
    repeats: int             # independent estimates per N (the RMS error is over these)
    image: int               # the Ising image is image × image pixels
    sweeps: int              # CAVI sweeps over all pixels
    gibbs_sweeps: int        # Gibbs sweeps on the same image (the first tenth is burn-in)
    vae_steps: int           # Adam steps of the amortised encoder


cfg = profile.pick(
    smoke=Config((100, 300, 1000, 3000), 3, 8, 15, 300, 300),
    cpu=Config((100, 300, 1000, 3000, 10_000, 30_000), 10, 12, 30, 600, 1500),
    full=Config((100, 300, 1000, 3000, 10_000, 30_000, 100_000), 20, 12, 50, 1000, 3000),
)
cfg

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1 · Monte Carlo (采样法)
# The ALARM network (37 variables, a patient-monitoring system). Query: the probability of left
# ventricular failure given a low central venous pressure and a low blood pressure,
# $p(\text{LVFAILURE} \mid \text{CVP}=\text{LOW}, \text{BP}=\text{LOW})$. Exact answer first:

# %% slideshow={"slide_type": "fragment"}
alarm = example_network("alarm")
jt = JunctionTree(alarm)
query, evidence = "LVFAILURE", {"CVP": "LOW", "BP": "LOW"}
exact = variable_elimination(alarm, query, evidence).values
p_e = math.exp(jt.log_partition(evidence))
print(f"p({query} | {evidence}) = {dict(zip(alarm.states[query], exact.round(4).tolist()))},  p(e) = {p_e:.4f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Ancestral sampling, rejection sampling, likelihood weighting
# - **ancestral sampling**: $x_k \sim p(x_k \mid x_{\pi_k})$ in topological order — samples of the
#   joint, so frequencies estimate any marginal;
# - **rejection sampling**: keep only the samples that agree with the evidence: samples of
#   $p(x \mid e)$, but only a fraction $p(e)$ survives;
# - **likelihood weighting**: clamp the evidence instead of sampling it, and weight each sample by
#   how likely the evidence was: $w = \prod_{v \in E} p(e_v \mid x_{\pi_v})$.

# %% slideshow={"slide_type": "fragment"}
rng = np.random.default_rng(0)
col = {v: i for i, v in enumerate(alarm.variables)}
ev_idx = {v: alarm.states[v].index(s) for v, s in evidence.items()}

x = alarm.sample(20_000, rng)                                      # ancestral sampling
prior_est = np.bincount(x[:, col[query]], minlength=2) / len(x)
keep = np.all([x[:, col[v]] == s for v, s in ev_idx.items()], axis=0)   # rejection
rejection_est = np.bincount(x[keep, col[query]], minlength=2) / keep.sum()
print(tr("prior     p(LVFAILURE):", "先验分布 p(LVFAILURE)："), prior_est.round(4), tr(" exact", " 精确值"),
      jt.marginals()[query].values.round(4))
print(tr(f"rejection: kept {keep.sum()} of {len(x)} (rate {keep.mean():.4f} ≈ p(e) = {p_e:.4f}):",
         f"拒绝采样：{len(x)} 个样本留下 {keep.sum()} 个（比例 {keep.mean():.4f} ≈ p(e) = {p_e:.4f}）："),
      rejection_est.round(4))

lw = likelihood_weighting(alarm, query, evidence, 20_000, rng)
gibbs = gibbs_sampling(alarm, query, evidence, 20_000, rng)
print(tr(f"likelihood weighting: {lw.probs.round(4)} (effective sample size {lw.n_effective:.0f})",
         f"似然加权：  {lw.probs.round(4)}（有效样本量 {lw.n_effective:.0f}）"))
print(tr(f"Gibbs sampling:       {gibbs.probs.round(4)}", f"吉布斯采样：{gibbs.probs.round(4)}"))
print(tr(f"exact:                {exact.round(4)}", f"精确值：    {exact.round(4)}"))
for est in (rejection_est, lw.probs, gibbs.probs):
    assert np.abs(est - exact).max() < 0.05

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Gibbs sampling
# A Markov chain over the hidden variables: visit each in turn and redraw it from its
# conditional given its **Markov blanket** (parents, children, children's other parents),
#
# $$p(x_v \mid x_{-v}) \propto p(x_v \mid x_{\pi_v}) \prod_{c \in \mathrm{ch}(v)} p(x_c \mid x_{\pi_c}),$$
#
# a product of a few CPD entries: no normalising constant $p(e)$ needed. Its samples are
# correlated, and a CPD with zeros (a deterministic node) can cut the state space in pieces the
# chain never leaves — then it is simply wrong.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Error against the number of samples
# Monte Carlo error falls as $1/\sqrt{N}$ whatever the dimension (log–log: a slope of $-1/2$),
# with a constant set by how many samples *really* count: rejection keeps a fraction $p(e)$,
# likelihood weighting has an effective sample size $(\sum w)^2 / \sum w^2 < N$, and Gibbs
# samples of one chain are correlated (here LVFAILURE moves slowly: the Gibbs curve flattens,
# its effective sample size is far below $N$).

# %% slideshow={"slide_type": "fragment"}
samplers = {
    "rejection": lambda n, g: rejection_sampling(alarm, query, evidence, n, g).probs,
    "likelihood weighting": lambda n, g: likelihood_weighting(alarm, query, evidence, n, g).probs,
    "Gibbs (100 chains)": lambda n, g: gibbs_sampling(alarm, query, evidence, n, g, burn_in=20).probs,
}
errors = {name: [] for name in samplers}
g = np.random.default_rng(1)
# about 80 s at full size: a dry run (COURSE_MAX_STEPS) repeats each estimate fewer times, so the
# error curve's shape is then checked as a quality target only
repeats = profile.capped(cfg.repeats)
for name, sampler in samplers.items():
    for n in cfg.n_grid:
        errs = [abs(sampler(n, g)[0] - exact[0]) for _ in range(repeats)]
        errors[name].append(np.sqrt(np.mean(np.square(errs))))  # RMS error over repeats

ns = np.array(cfg.n_grid, dtype=float)
shown = {"rejection": tr("rejection", "拒绝采样"), "likelihood weighting": tr("likelihood weighting", "似然加权"),
         "Gibbs (100 chains)": tr("Gibbs (100 chains)", "吉布斯采样（100 条链）")}
fig, ax = plt.subplots(figsize=(6, 4))
for name, e in errors.items():
    ax.loglog(ns, e, "o-", label=shown[name])
ref = errors["likelihood weighting"][0] * np.sqrt(ns[0] / ns)
ax.loglog(ns, ref, "k--", label=r"$\propto 1/\sqrt{N}$")
ax.set(xlabel=tr("number of samples $N$", "样本数 $N$"),
       ylabel=tr("RMS error of $p$(LVFAILURE = TRUE | e)", "$p$(LVFAILURE = TRUE | e) 的均方根误差"),
       title=tr("Monte Carlo error on ALARM", "ALARM 上的蒙特卡洛误差"))
ax.legend()
plotting.savefig(fig, NOTEBOOK, "mc_error")
plt.show()
slope = np.polyfit(np.log(ns), np.log(errors["likelihood weighting"]), 1)[0]
print(tr(f"fitted slope (likelihood weighting): {slope:.2f}", f"拟合的斜率（似然加权）：{slope:.2f}"))
# measured -0.45 (smoke) and -0.53 (cpu); the theory says -1/2
slope_name = tr("likelihood weighting: slope of log RMS error against log N", "似然加权：log 均方根误差对 log N 的斜率")
quality.at_most(slope_name, slope, smoke=-0.3, cpu=-0.35, full=-0.35)
_ = quality.at_least(slope_name, slope, smoke=-0.7, cpu=-0.7, full=-0.7)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Unlikely evidence
# Rejection sampling keeps a fraction $p(e)$ of its samples. Add observations one by one and
# watch the acceptance rate fall with $p(e)$; likelihood weighting uses every sample (its
# effective sample size falls too, but more slowly).

# %% slideshow={"slide_type": "fragment"}
chain_of_evidence = [("CVP", "LOW"), ("BP", "LOW"), ("HR", "LOW"), ("SAO2", "HIGH")]
n_fixed = 50_000  # at 4 observations p(e) = 2.3e-4: about 12 samples are kept
rows = []
g = np.random.default_rng(2)
for k in range(1, len(chain_of_evidence) + 1):
    ev_k = dict(chain_of_evidence[:k])
    p_ek = math.exp(jt.log_partition(ev_k))
    ex_k = variable_elimination(alarm, query, ev_k).values
    rs = rejection_sampling(alarm, query, ev_k, n_fixed, g)
    lw_k = likelihood_weighting(alarm, query, ev_k, n_fixed, g)
    rows.append((k, p_ek, rs.acceptance_rate, rs.n_effective, lw_k.n_effective,
                 abs(rs.probs[0] - ex_k[0]), abs(lw_k.probs[0] - ex_k[0])))
    print(tr(f"{k} observed: p(e) = {p_ek:.2e}, acceptance {rs.acceptance_rate:.2e} "
             f"({rs.n_effective:.0f} kept), LW ESS {lw_k.n_effective:.0f}; "
             f"errors {rows[-1][5]:.3f} vs {rows[-1][6]:.3f}",
             f"观察到 {k} 个：p(e) = {p_ek:.2e}，接受率 {rs.acceptance_rate:.2e}"
             f"（留下 {rs.n_effective:.0f} 个），似然加权的有效样本量 {lw_k.n_effective:.0f}；"
             f"误差 {rows[-1][5]:.3f} 对 {rows[-1][6]:.3f}"))
    assert abs(rs.acceptance_rate - p_ek) < 5 * math.sqrt(p_ek / n_fixed) + 1e-4

k_, pe_, acc_, kept_, ess_, err_rs, err_lw = map(np.array, zip(*rows))
fig, ax = plt.subplots(1, 2, figsize=(10, 3.3))
ax[0].semilogy(k_, pe_, "k--", label=tr("$p(e)$ (exact)", "$p(e)$（精确值）"))
ax[0].semilogy(k_, np.maximum(acc_, 1 / n_fixed / 2), "o-", label=tr("rejection: acceptance rate", "拒绝采样：接受率"))
ax[0].semilogy(k_, ess_ / n_fixed, "s-", label=tr("likelihood weighting: ESS / N", "似然加权：有效样本量 / N"))
ax[0].set(xlabel=tr("number of observed variables", "观察变量的个数"), ylabel=tr("fraction", "比例"), xticks=k_,
          title=tr(f"N = {n_fixed:,} samples", f"N = {n_fixed:,} 个样本"))
ax[0].legend(fontsize=8)
ax[1].bar(k_ - 0.2, err_rs, 0.4, label=shown["rejection"])
ax[1].bar(k_ + 0.2, err_lw, 0.4, label=shown["likelihood weighting"])
ax[1].set(xlabel=tr("number of observed variables", "观察变量的个数"),
          ylabel=tr("|error| of p(LVFAILURE=TRUE | e)", "p(LVFAILURE=TRUE | e) 的 |误差|"),
          xticks=k_, title=tr("error at fixed N", "固定 N 时的误差"))
ax[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2 · Variational inference (变分推断)
# Bayes' formula (贝叶斯公式) for a latent $z$ and data $x$:
#
# $$p(z \mid x) = \frac{p(x \mid z)\,p(z)}{p(x)} = \frac{p(x \mid z)\,p(z)}{\int p(x \mid z)\,p(z)\,dz}.$$
#
# The numerator is easy: the model. The **evidence** $p(x) = \int p(x \mid z) p(z)\, dz$ is the
# problem: an integral (or a sum over $2^{|z|}$ states) over every latent configuration. For
# the Ising image below with $12 \times 12$ binary pixels that is $2^{144} \approx 10^{43}$ terms.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The ELBO (the lecture's derivation)
# From $\log P(X) = \log P(Z, X) - \log P(Z \mid X)$, add and subtract $\log Q(Z)$ and average over
# $Q$:
#
# $$\log P(X) = \underbrace{\int Q \log P(Z, X)\, dZ - \int Q \log Q\, dZ}_{\mathrm{ELBO}(Q)}
# \; \underbrace{- \int Q \log \frac{P(Z \mid X)}{Q}\, dZ}_{= +\,\mathrm{KL}(Q \,\|\, P(Z \mid X)) \;\ge\; 0}$$
#
# so $\mathrm{ELBO}(Q) \le \log P(X)$, with equality iff $Q = P(Z \mid X)$: maximising the ELBO
# over $Q$ minimises the KL divergence without ever computing $P(Z \mid X)$.
#
# > **Pitfall (lecture slide 变分推断, the underbrace):** the slide labels
# > $\int Q \log \frac{P(Z|X)}{Q}\, dZ$ itself as $\mathrm{KL}(Q \| P(Z|X))$. That integral is
# > $-\mathrm{KL} \le 0$; the KL divergence is $\int Q \log \frac{Q}{P(Z|X)}\, dZ$. Read with
# > the slide's labels, $\log P(X) = \mathrm{ELBO} - \mathrm{KL}$, which would make the ELBO an
# > *upper* bound. The correct identity is $\log P(X) = \mathrm{ELBO} + \mathrm{KL}$ (checked
# > below, both ways; and the slide's integral, computed by quadrature and by sums, comes out as
# > $-\mathrm{KL}$ with the KL from torch and scipy).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Check 1: a conjugate Gaussian model
# $z \sim \mathcal N(\mu_0, \tau_0^2)$, $x_i \mid z \sim \mathcal N(z, \sigma^2)$, $i = 1..n$.
# Here everything is closed form: $\log p(X)$ (a multivariate normal), the posterior
# $\mathcal N(\mu_n, \tau_n^2)$, and for any $Q = \mathcal N(m, s^2)$ the ELBO and the KL.

# %% slideshow={"slide_type": "fragment"}
mu0, tau0, sigma = 0.0, 2.0, 1.0
X = np.random.default_rng(3).normal(1.5, sigma, size=10)
n_obs = len(X)

# exact log evidence: X ~ N(mu0·1, σ² I + τ0² 11ᵀ)
cov = sigma**2 * np.eye(n_obs) + tau0**2 * np.ones((n_obs, n_obs))
_, logdet = np.linalg.slogdet(cov)
diff = X - mu0
log_pX = -0.5 * (n_obs * math.log(2 * math.pi) + logdet + diff @ np.linalg.solve(cov, diff))
# exact posterior N(mu_n, tau_n²)
tau_n2 = 1 / (1 / tau0**2 + n_obs / sigma**2)
mu_n = tau_n2 * (mu0 / tau0**2 + X.sum() / sigma**2)


def elbo_gauss(m: float, s: float) -> float:
    """E_Q[log p(X|z)] + E_Q[log p(z)] + H(Q) for Q = N(m, s²), in closed form."""
    e_loglik = -0.5 * n_obs * math.log(2 * math.pi * sigma**2) - (((X - m) ** 2).sum() + n_obs * s**2) / (2 * sigma**2)
    e_logprior = -0.5 * math.log(2 * math.pi * tau0**2) - ((m - mu0) ** 2 + s**2) / (2 * tau0**2)
    entropy = 0.5 * math.log(2 * math.pi * math.e * s**2)
    return e_loglik + e_logprior + entropy


def kl_gauss(m: float, s: float, mu: float, tau2: float) -> float:
    """KL(N(m, s²) ‖ N(mu, tau2))."""
    return 0.5 * (math.log(tau2 / s**2) + (s**2 + (m - mu) ** 2) / tau2 - 1)


def by_quadrature(integrand, m: float, s: float) -> float:
    """∫ N(z; m, s²) integrand(z) dz, numerically (the mass beyond 12 s is below 1e-30)."""
    return quad(lambda z: norm.pdf(z, m, s) * integrand(z), m - 12 * s, m + 12 * s, epsabs=1e-11, limit=200)[0]


def log_joint_gauss(z: float) -> float:
    """log p(X | z) + log p(z)."""
    return norm.logpdf(X, z, sigma).sum() + norm.logpdf(z, mu0, tau0)


Normal = torch.distributions.Normal
q_rng = np.random.default_rng(4)
for _ in range(5):
    m, s = q_rng.normal(0, 3), q_rng.uniform(0.05, 3)
    elbo, kl = elbo_gauss(m, s), kl_gauss(m, s, mu_n, tau_n2)
    # the closed forms against independent computations: the ELBO by quadrature, the KL by torch
    elbo_quad = by_quadrature(lambda z, m=m, s=s: log_joint_gauss(z) - norm.logpdf(z, m, s), m, s)
    kl_torch = torch.distributions.kl_divergence(Normal(torch.tensor(m, dtype=torch.float64), s),
                                                 Normal(torch.tensor(mu_n, dtype=torch.float64),
                                                        math.sqrt(tau_n2))).item()
    assert abs(elbo - elbo_quad) < 1e-6 and abs(kl - kl_torch) < 1e-10
    assert abs(elbo + kl - log_pX) < 1e-8  # log P(X) = ELBO + KL, for ANY Q
    assert kl > 0 and abs(elbo - kl - log_pX) > 1e-3  # ... and not ELBO − KL
    # the pitfall: the slide's underbraced ∫ Q log(P(Z|X)/Q) dZ, by quadrature, is −KL, not KL
    slide_term = by_quadrature(lambda z, m=m, s=s: norm.logpdf(z, mu_n, math.sqrt(tau_n2)) - norm.logpdf(z, m, s),
                               m, s)
    assert slide_term < 0 and abs(slide_term + kl_torch) < 1e-6
    print(f"Q = N({m:+.2f}, {s:.2f}²): ELBO {elbo:9.4f} + KL {kl:8.4f} = {elbo + kl:.10f};  "
          + tr(f"slide's 'KL' term {slide_term:8.4f}", f"讲义中标为 KL 的项 {slide_term:8.4f}"))
print(tr(f"log p(X) = {log_pX:.10f};  at Q = posterior: ELBO = {elbo_gauss(mu_n, math.sqrt(tau_n2)):.10f}",
         f"log p(X) = {log_pX:.10f}；Q 取后验分布时：ELBO = {elbo_gauss(mu_n, math.sqrt(tau_n2)):.10f}"))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Check 2: a small discrete model
# Asia with $X$ = {dysp = yes, xray = yes} observed and $Z$ = the other six binary variables
# ($2^6$ states, so $Q(Z)$ can be **any** distribution: a random table). Asia's `either` is a
# deterministic OR of `tub` and `lung`, so some $Z$ have $P(Z, X) = 0$: a $Q$ that puts mass
# there has $\mathrm{KL} = \infty$ and $\mathrm{ELBO} = -\infty$. The random $Q$'s below live on
# the support of $P(Z \mid X)$.
#
# Each side is computed its own way, so that a wrong one shows: $P(Z, X)$ from the joint table;
# $\log P(X)$ by the junction tree (and, as a cross-check, by summing that table); the posterior
# $P(Z \mid X)$ **without** $P(X)$, by the chain rule $P(z_1 \mid X)\,P(z_2 \mid z_1, X)\cdots$ with
# each conditional from variable elimination; and the KL divergence by `scipy.stats.entropy` on that
# posterior. The slide's underbraced integral is then computed as the slide writes it, with its
# posterior from Bayes' formula $P(Z \mid X) = P(Z, X) / P(X)$ (joint table and junction tree), and
# compared with that KL: it is $-\mathrm{KL}$; the slide's label ($+\mathrm{KL}$) fails the same check.

# %% slideshow={"slide_type": "fragment"}
asia = example_network("asia")
x_obs = {"dysp": asia.states["dysp"].index("yes"), "xray": asia.states["xray"].index("yes")}
Z_vars = [v for v in asia.variables if v not in x_obs]
p_zx = asia.joint().reduce(x_obs).permute(Z_vars).values.ravel()  # P(Z, X), 64 entries
log_pX_asia = JunctionTree(asia).log_partition(x_obs)              # log P(X), one calibration
assert abs(log_pX_asia - np.log(p_zx.sum())) < 1e-12               # = log Σ_Z P(Z, X)


def posterior_by_chain_rule(bn: BayesianNetwork, Z: list[str], evidence: dict[str, int]) -> np.ndarray:
    """P(Z | X) as a table: P(z_1 | X) P(z_2 | z_1, X) ..., each conditional by variable elimination."""
    post = np.zeros([bn.card[v] for v in Z])

    def visit(k: int, ev: dict[str, int], prob: float, index: tuple[int, ...]) -> None:
        if k == len(Z):
            post[index] = prob
            return
        for state, p in enumerate(variable_elimination(bn, Z[k], ev).values):
            if p > 0:                               # states that the evidence rules out stay 0
                visit(k + 1, {**ev, Z[k]: state}, prob * p, (*index, state))

    visit(0, dict(evidence), 1.0, ())
    return post.ravel()


post_zx = posterior_by_chain_rule(asia, Z_vars, x_obs)
support = post_zx > 0
assert np.array_equal(support, p_zx > 0) and np.allclose(post_zx, p_zx / p_zx.sum(), atol=1e-14)
log_p_zx = np.log(p_zx[support])                                      # log P(Z, X) where it is > 0
print(tr(f"{support.sum()} of {support.size} states of Z are possible given X",
         f"给定 X，Z 的 {support.size} 个状态中有 {support.sum()} 个是可能的"))

log_post_bayes = log_p_zx - log_pX_asia             # log P(Z | X) = log P(Z, X) − log P(X): Bayes' formula
for trial in range(5):
    Q = np.random.default_rng(10 + trial).dirichlet(np.full(support.sum(), 0.5))
    elbo = np.sum(Q * (log_p_zx - np.log(Q)))       # ∫Q log P(Z,X) − ∫Q log Q: the joint table only
    kl = entropy(Q, post_zx[support])               # scipy's Σ Q log(Q / P), P by the chain rule of VE
    slide_term = np.sum(Q * (log_post_bayes - np.log(Q)))  # the slide's underbraced ∫Q log(P(Z|X)/Q)
    print(f"Q #{trial}: ELBO {elbo:8.4f} + KL {kl:7.4f} = {elbo + kl:.10f};  "
          + tr(f"slide's 'KL' term = {slide_term:8.4f};  slide's label read as +KL: off by {slide_term - kl:.4f}",
               f"讲义中标为 KL 的项 = {slide_term:8.4f}；照标注当作 +KL 读：差 {slide_term - kl:.4f}"))
    assert abs(elbo + kl - log_pX_asia) < 1e-8                 # log P(X) = ELBO + KL, for ANY Q
    assert abs(slide_term + kl) < 1e-10                        # the slide's term is −KL ...
    assert abs(slide_term - kl) > 1e-3                         # ... and not the KL its label says
print(f"log P(X) = {log_pX_asia:.10f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3 · Mean-field variational inference (CAVI) on an image
# A binary image $z \in \{-1,+1\}^{n \times n}$ with an Ising prior (neighbours agree),
# observed through Gaussian noise: $x_i = z_i + \epsilon_i$, $\epsilon_i \sim \mathcal N(0,\sigma^2)$.
# The posterior is again an Ising model,
#
# $$p(z \mid x) \propto \exp\Big(\sum_i h_i z_i + J \sum_{i \sim j} z_i z_j\Big), \qquad h_i = x_i / \sigma^2 .$$
#
# **Mean field**: $Q(z) = \prod_i q_i(z_i)$ with $m_i = \mathbb E_Q[z_i]$. Coordinate ascent
# (CAVI) sets one factor at a time to its optimum $q_i \propto \exp \mathbb E_{Q_{-i}}[\log
# p(z, x)]$:
#
# $$m_i \leftarrow \tanh\Big(h_i + J \sum_{j \sim i} m_j\Big),$$
#
# and each such step can only raise the ELBO
# $\;\sum_i h_i m_i + J \sum_{i \sim j} m_i m_j + \sum_i H(q_i) \le \log Z$.

# %% slideshow={"slide_type": "subslide"}
size = cfg.image
r, c = np.mgrid[:size, :size]
truth = np.where(((r - size / 2 + 0.5) ** 2 + (c - size / 2 + 0.5) ** 2 < (size / 3) ** 2)
                 | ((r > size * 0.75) & (c > size * 0.2)), 1.0, -1.0)   # a disc and a bar
sigma_img, J_img = 0.9, 0.7
x_img = truth + np.random.default_rng(5).normal(0, sigma_img, truth.shape)
h = x_img / sigma_img**2
neighbours = [[(rr, cc) for rr, cc in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1))
               if 0 <= rr < size and 0 <= cc < size] for i in range(size) for j in range(size)]
edges = [(i, rr * size + cc) for i, nb in enumerate(neighbours) for rr, cc in nb if rr * size + cc > i]


def mean_field_elbo(m: np.ndarray, h: np.ndarray, edges: list[tuple[int, int]], J: float) -> float:
    """ELBO of the mean-field Q with means m (flat, in [-1, 1]): E_Q[log p̃(z)] + Σ_i H(q_i)."""
    p = np.clip((1 + m) / 2, 1e-300, 1.0)
    q = np.clip((1 - m) / 2, 1e-300, 1.0)
    h_q = -(p * np.log(p) + q * np.log(q)).sum()
    return float(h @ m + J * sum(m[i] * m[j] for i, j in edges) + h_q)


def elbo_mf(m: np.ndarray) -> float:
    """The ELBO on our image."""
    return mean_field_elbo(m, h.ravel(), edges, J_img)


# the formula checked by brute force on a 3×3 corner of the image (2^9 states): for any means m,
# ELBO(Q) + KL(Q ‖ P) = log Z, with P, Z and the KL summed over every state
h3 = h[:3, :3].ravel()
edges3 = [(a, b) for a in range(9) for b in range(a + 1, 9) if b - a == 3 or (b - a == 1 and b % 3)]
states = np.array(list(itertools.product([-1.0, 1.0], repeat=9)))            # (512, 9)
log_p_tilde = states @ h3 + J_img * sum(states[:, a] * states[:, b] for a, b in edges3)
log_Z3 = logsumexp(log_p_tilde)
for m3 in np.random.default_rng(7).uniform(-0.95, 0.95, (3, 9)):
    log_Q = np.where(states > 0, np.log((1 + m3) / 2), np.log((1 - m3) / 2)).sum(axis=1)
    kl3 = np.sum(np.exp(log_Q) * (log_Q - (log_p_tilde - log_Z3)))
    assert abs(mean_field_elbo(m3, h3, edges3, J_img) + kl3 - log_Z3) < 1e-10
print(tr("mean-field ELBO + KL(Q‖P) = log Z on a 3×3 corner, all 512 states summed ✓",
         "在 3×3 的角上对全部 512 个状态求和：平均场的 ELBO + KL(Q‖P) = log Z ✓"))


# exact posterior: the same factors, summed exactly by the junction tree (treewidth = size)
spin = np.array([-1.0, 1.0])
post_factors = [Factor((f"z{i}",), (2,), np.exp(h.ravel()[i] * spin)) for i in range(size * size)]
post_factors += [Factor((f"z{i}", f"z{j}"), (2, 2), np.exp(J_img * np.outer(spin, spin))) for i, j in edges]
jt_img = JunctionTree(post_factors)
log_Z = jt_img.log_partition()
exact_marg = jt_img.marginals()
exact_mean = np.array([exact_marg[f"z{i}"].values @ spin for i in range(size * size)])
print(tr(f"{size}×{size} image: junction tree treewidth {jt_img.treewidth}, log Z = {log_Z:.4f}",
         f"{size}×{size} 的图像：联合树的树宽 {jt_img.treewidth}，log Z = {log_Z:.4f}"))

# %% slideshow={"slide_type": "subslide"}
m = np.zeros(size * size)          # Q starts uniform: q_i(+1) = 1/2
elbos = [elbo_mf(m)]
nb_idx = [[rr * size + cc for rr, cc in nb] for nb in neighbours]
sweeps = profile.capped(cfg.sweeps)
for sweep in range(sweeps):
    for i in range(size * size):   # CAVI: one coordinate at a time
        m[i] = np.tanh(h.ravel()[i] + J_img * m[nb_idx[i]].sum())
        if sweep == 0:             # the first sweep: check after every single update
            elbos.append(elbo_mf(m))
            assert elbos[-1] >= elbos[-2] - 1e-10
    if sweep > 0:
        elbos.append(elbo_mf(m))
        assert elbos[-1] >= elbos[-2] - 1e-10   # ELBO never decreases
assert elbos[-1] <= log_Z + 1e-9                 # ... and stays below log Z
print(tr(f"ELBO: {elbos[0]:.3f} → {elbos[-1]:.4f}  ≤  log Z = {log_Z:.4f}  (gap = KL(Q‖P) = {log_Z - elbos[-1]:.4f})",
         f"ELBO：{elbos[0]:.3f} → {elbos[-1]:.4f}  ≤  log Z = {log_Z:.4f}（差距 = KL(Q‖P) = {log_Z - elbos[-1]:.4f}）"))

# compare with Gibbs sampling on the same posterior (a sampled answer)
g = np.random.default_rng(6)
z = np.where(g.random(size * size) < 0.5, -1.0, 1.0)
gibbs_sum, n_kept = np.zeros(size * size), 0
gibbs_sweeps = profile.capped(cfg.gibbs_sweeps)
for sweep in range(gibbs_sweeps):
    for i in range(size * size):
        field = h.ravel()[i] + J_img * z[nb_idx[i]].sum()
        z[i] = 1.0 if g.random() < 1 / (1 + np.exp(-2 * field)) else -1.0
    if sweep >= gibbs_sweeps // 10:                # the first tenth is burn-in
        gibbs_sum += z
        n_kept += 1
gibbs_mean = gibbs_sum / n_kept
mf_err = np.abs(m - exact_mean).max()
gibbs_err = np.abs(gibbs_mean - exact_mean).max()
print(tr(f"max |E[z_i]| error: mean field {mf_err:.3f}, Gibbs ({n_kept} sweeps) {gibbs_err:.3f}",
         f"E[z_i] 的最大误差：平均场 {mf_err:.3f}，吉布斯采样（{n_kept} 遍）{gibbs_err:.3f}"))
# measured: gap 1.70 and Gibbs error 0.17 (smoke, 8×8); 0.95 and 0.10 (cpu, 12×12)
quality.at_most("CAVI: log Z − ELBO (= KL(Q‖P))", log_Z - elbos[-1], smoke=2.5, cpu=1.5, full=1.5)
_ = quality.at_most(tr("Gibbs: max |E[z_i] error|", "吉布斯采样：E[z_i] 的最大 |误差|"), gibbs_err,
                    smoke=0.25, cpu=0.15, full=0.15)

# %% slideshow={"slide_type": "subslide"}
fig, ax = plt.subplots(1, 6, figsize=(15, 2.9), gridspec_kw=dict(width_ratios=[1, 1, 1, 1, 1, 1.4]))
panels = [(tr("truth", "真实图像"), truth), (tr("noisy x", "带噪声的 x"), x_img),
          (tr("exact E[z|x]", "精确的 E[z|x]"), exact_mean.reshape(size, size)),
          (tr("mean field m", "平均场 m"), m.reshape(size, size)),
          (tr("Gibbs mean", "吉布斯采样的均值"), gibbs_mean.reshape(size, size))]
for a, (title, img) in zip(ax, panels):
    a.imshow(img, cmap="gray", vmin=-1.5, vmax=1.5)
    a.set_title(title)
    a.axis("off")
ax[5].scatter(exact_mean, m, s=10, label=tr("mean field", "平均场"))
ax[5].scatter(exact_mean, gibbs_mean, s=10, marker="x", label=tr("Gibbs", "吉布斯采样"))
ax[5].plot([-1, 1], [-1, 1], "k:", lw=1)
ax[5].set(xlabel=tr("exact E[z_i | x]", "精确的 E[z_i | x]"), ylabel=tr("approximation", "近似值"),
          title=tr("per pixel", "逐个像素"))
ax[5].legend(fontsize=8)
plt.tight_layout()
plotting.savefig(fig, NOTEBOOK, "mean_field_image")
plt.show()

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(elbos[:size * size + 1], label=tr("first sweep, per update", "第一遍，每次更新之后"))
ax.plot(np.arange(1, sweeps) * size * size, elbos[size * size + 1:], "o", label=tr("after each sweep", "每一遍之后"))
ax.axhline(log_Z, color="k", ls="--", label=tr("log Z (exact)", "log Z（精确值）"))
ax.set(xlabel=tr("coordinate updates", "坐标更新次数"), ylabel="ELBO",
       title=tr("CAVI: the ELBO rises to just below log Z", "CAVI：变分下界升到略低于 log Z"))
ax.legend(fontsize=8)
plotting.savefig(fig, NOTEBOOK, "cavi_elbo")
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# Mean field is **over-confident**: $|m_i|$ is larger than the exact $|E[z_i]|$ (the scatter lies
# outside the diagonal), because KL(Q‖P) punishes Q for putting mass where P has little, not
# for missing mass. The ELBO gap $\log Z - \mathrm{ELBO}$ is exactly that KL.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4 · Towards the VAE: amortised inference and the reparameterisation trick
# CAVI optimises one $Q$ per data set. A **variational autoencoder** instead learns a function,
# the *encoder* $q_\phi(z \mid x) = \mathcal N(\mu_\phi(x), s_\phi(x)^2)$, that outputs the
# approximate posterior for any $x$ (**amortised** inference), and maximises the ELBO by
# stochastic gradients. To differentiate $\mathbb E_{q_\phi}[\cdot]$ with respect to $\phi$, write
# the sample as a deterministic function of $\phi$ and fixed noise — the **reparameterisation
# trick**: $z = \mu_\phi(x) + s_\phi(x)\,\varepsilon$, $\varepsilon \sim \mathcal N(0, 1)$.
#
# A model where we know the answer: $z_n \sim \mathcal N(0, 1)$, $x_n \mid z_n \sim
# \mathcal N(w z_n, \sigma^2)$. The exact posterior is $\mathcal N\big(\frac{w x}{w^2 + \sigma^2},
# \frac{\sigma^2}{w^2 + \sigma^2}\big)$: linear in $x$. A linear encoder can find it.

# %% slideshow={"slide_type": "subslide"}
w_true, sigma_v = 2.0, 0.5
gen = torch.Generator().manual_seed(0)
z_data = torch.randn(4096, generator=gen)
x_data = w_true * z_data + sigma_v * torch.randn(4096, generator=gen)

a = torch.zeros(1, requires_grad=True)        # encoder: mu(x) = a x + b, log s = c
b = torch.zeros(1, requires_grad=True)
c_ = torch.zeros(1, requires_grad=True)
opt = torch.optim.Adam([a, b, c_], lr=0.05)
vae_steps = profile.capped(cfg.vae_steps)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=vae_steps)  # less SGD noise at the end
normal = torch.distributions.Normal
for _step in range(vae_steps):
    idx = torch.randint(0, len(x_data), (256,), generator=gen)
    xb = x_data[idx]
    mu_q, s_q = a * xb + b, torch.exp(c_).expand_as(xb)
    eps = torch.randn(xb.shape, generator=gen)
    zb = mu_q + s_q * eps                                       # reparameterisation
    log_joint = normal(w_true * zb, sigma_v).log_prob(xb) + normal(0.0, 1.0).log_prob(zb)
    elbo_b = (log_joint - normal(mu_q, s_q).log_prob(zb)).mean()  # Monte Carlo ELBO
    opt.zero_grad()
    (-elbo_b).backward()
    opt.step()
    sched.step()

a_exact = w_true / (w_true**2 + sigma_v**2)
s_exact = math.sqrt(sigma_v**2 / (w_true**2 + sigma_v**2))
print(tr(f"encoder mean slope a = {a.item():.4f} (exact {a_exact:.4f}), intercept b = {b.item():+.4f} (exact 0)",
         f"编码器均值的斜率 a = {a.item():.4f}（精确值 {a_exact:.4f}），截距 b = {b.item():+.4f}（精确值 0）"))
print(tr(f"encoder std s = {math.exp(c_.item()):.4f} (exact {s_exact:.4f})",
         f"编码器的标准差 s = {math.exp(c_.item()):.4f}（精确值 {s_exact:.4f}）"))
# measured: slope error 1.3e-3, std error 1e-4 (smoke); 9e-4 and 3e-4 (cpu)
quality.at_most(tr("amortised encoder: |slope a − exact|", "摊销推断的编码器：|斜率 a − 精确值|"), abs(a.item() - a_exact),
                smoke=0.01, cpu=0.005, full=0.005)
quality.at_most(tr("amortised encoder: |std s − exact|", "摊销推断的编码器：|标准差 s − 精确值|"),
                abs(math.exp(c_.item()) - s_exact), smoke=0.01, cpu=0.005, full=0.005)
log_px = normal(0.0, math.sqrt(w_true**2 + sigma_v**2)).log_prob(x_data).mean().item()
print(tr(f"final minibatch ELBO {elbo_b.item():.4f} vs exact mean log p(x) {log_px:.4f}",
         f"最后一个小批量的 ELBO {elbo_b.item():.4f}，精确的平均 log p(x) {log_px:.4f}"))

# %% slideshow={"slide_type": "skip"}
_ = artifacts.save_metrics(NOTEBOOK, {
    "lw_rms_error_at_max_n": float(errors["likelihood weighting"][-1]),
    "rejection_rms_error_at_max_n": float(errors["rejection"][-1]),
    "gibbs_rms_error_at_max_n": float(errors["Gibbs (100 chains)"][-1]),
    "mc_error_slope_lw": float(slope),
    "cavi_elbo_gap": float(log_Z - elbos[-1]),
    "cavi_max_mean_error": float(mf_err),
    "amortised_encoder_slope_error": float(abs(a.item() - a_exact)),
})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises (练习)
# ### Exercise 05.1 — the likelihood weight (练习 05.1)
# The likelihood weight of one sample: given a network `bn`, a full sample `x` (state
# indices in `bn.variables` order, the evidence already clamped) and the evidence `ev` (a dict of
# state indices), return $w = \prod_{v \in E} p(e_v \mid x_{\pi_v})$. (The check uses four
# ALARM samples and two asia samples.)

# %% slideshow={"slide_type": "fragment"}
def my_weight(bn: BayesianNetwork, x: np.ndarray, ev: dict[str, int]) -> float | None:
    # YOUR CODE HERE
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def my_weight(bn: BayesianNetwork, x: np.ndarray, ev: dict[str, int]) -> float | None:
    col = {v: i for i, v in enumerate(bn.variables)}
    w = 1.0
    for v, s in ev.items():
        w *= bn.cpds[v].values[(s, *[x[col[u]] for u in bn.parents[v]])]
    return w


# the same weights as the library's likelihood weighting gives its own samples
x_lw, log_w = forward_sample(alarm, 5, np.random.default_rng(8), ev_idx)
assert np.allclose([my_weight(alarm, row, ev_idx) for row in x_lw], np.exp(log_w))
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.likelihood_weight(my_weight)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 05.2 — the best Q (练习 05.2)
# In the conjugate Gaussian model above, which $Q = \mathcal N(m, s^2)$ maximises the
# ELBO? Return `(m, s)` for data `X`, prior $\mathcal N(\mu_0, \tau_0^2)$ and noise $\sigma$.
# (Hint: where is KL = 0? The check maximises the ELBO numerically on three data sets.)

# %% slideshow={"slide_type": "fragment"}
def my_best_q(X: np.ndarray, mu0: float, tau0: float, sigma: float) -> tuple[float, float] | None:
    # YOUR CODE HERE
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
# Solution: the posterior itself, N(mu_n, tau_n²): precisions add, means are precision-weighted
def my_best_q(X: np.ndarray, mu0: float, tau0: float, sigma: float) -> tuple[float, float] | None:
    precision = 1 / tau0**2 + len(X) / sigma**2
    return (mu0 / tau0**2 + X.sum() / sigma**2) / precision, math.sqrt(1 / precision)


best = my_best_q(X, mu0, tau0, sigma)
assert abs(elbo_gauss(*best) - log_pX) < 1e-8          # at the best Q the bound is tight: KL = 0
assert elbo_gauss(*best) > elbo_gauss(best[0] + 0.1, best[1])
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.best_q(my_best_q)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 05.3 — one CAVI update (练习 05.3)
# One CAVI update: given the field `h_i`, the coupling `J`, the current means `m` and a
# pixel's neighbour indices `nb`, return the new $m_i = \tanh(h_i + J \sum_{j \in nb} m_j)$.
# (The check uses three pixels of a 4×4 grid.)

# %% slideshow={"slide_type": "fragment"}
def my_cavi_update(h_i: float, J: float, m: np.ndarray, nb: list[int]) -> float | None:
    # YOUR CODE HERE
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def my_cavi_update(h_i: float, J: float, m: np.ndarray, nb: list[int]) -> float | None:
    return float(np.tanh(h_i + J * m[nb].sum()))
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.cavi_update(my_cavi_update)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
# - Sampling: unbiased (or consistent) estimates with error $\propto 1/\sqrt N$ in any
#   dimension; rejection sampling wastes a fraction $1 - p(e)$; likelihood weighting and Gibbs
#   do not, but their samples are weighted or correlated.
# - Variational inference: $\log P(X) = \mathrm{ELBO}(Q) + \mathrm{KL}(Q \| P(Z|X))$ for every
#   $Q$; maximise the ELBO instead of computing $P(X)$. Mean field is fast and over-confident.
# - The VAE (next notebooks) = amortised variational inference: an encoder network outputs $Q$,
#   the reparameterisation trick makes the ELBO differentiable, and the decoder $p(x \mid z)$ is
#   learned at the same time.
