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
# # 03 · Hidden Markov models and Gaussian mixtures (隐马尔可夫模型 · 高斯混合模型)
# Two directed models with **hidden** variables. The HMM is a generative model of sequences
# (序列建模); the Gaussian mixture a generative model of clusters (聚类). For both we write the
# joint, sample from it, compute the likelihood by summing out the hidden variables, and fit
# the parameters with EM, checking every step against hmmlearn and scikit-learn.
# Lecture: "常见的有向图模型 · Hidden Markov Model", and the list of generative models
# (Gauss 混合模型, 隐 Markov 模型).

# %% slideshow={"slide_type": "skip"}
import itertools
import warnings
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning

from course_utils import artifacts, plotting, profile, quality
from course_utils.exercises import graphical_models as ex
from course_utils.i18n import tr  # tr(English, Chinese): the words a figure or a line shows, in the notebook's language

NOTEBOOK = "03_hmm_and_gmm"
rng = np.random.default_rng(0)


# %% slideshow={"slide_type": "skip"}
@dataclass(frozen=True)
class Config:
    n_seq: int         # HMM: sequences of rolls
    T: int             # HMM: rolls per sequence
    bw_iters: int      # HMM: Baum–Welch (EM) iterations
    gmm_n: int         # GMM: 2-D training points
    gmm_max_iter: int  # GMM: most EM iterations (it stops earlier once log p(X) stops rising)


cfg = profile.pick(smoke=Config(20, 100, 15, 450, 300),
                   cpu=Config(50, 300, 60, 1500, 1000),
                   full=Config(100, 500, 100, 3000, 2000))
cfg

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The HMM: an occasionally dishonest casino
# A casino rolls a fair die, but now and then switches to a loaded one (a 6 half of the
# time) and back. Hidden state $y_t\in\{\text{fair},\text{loaded}\}$, observation
# $x_t\in\{1,\dots,6\}$ (Durbin et al., *Biological Sequence Analysis*):
# $$p(\mathbf{x},\mathbf{y};\theta)=\prod_{t=1}^{T}
# \underbrace{p(y_t\mid y_{t-1};\theta_s)}_{\text{转移概率 } A}\,
# \underbrace{p(x_t\mid y_t;\theta_t)}_{\text{输出概率 } B}.$$
# > **Note on the lecture's formula.** At $t = 1$ there is no $y_0$: the first factor is an
# > initial distribution, $p(y_1\mid y_0) := \pi(y_1)$. Without $\pi$ the product is not a
# > distribution over $y_1$, and fitting must estimate $\pi$ too (Baum–Welch below does).

# %% slideshow={"slide_type": "subslide"}
states = [tr("fair", "公平"), tr("loaded", "灌铅")]
pi = np.array([0.5, 0.5])                       # p(y_1)
A = np.array([[0.95, 0.05],                     # A[i, j] = p(y_t = j | y_{t-1} = i)
              [0.10, 0.90]])
B = np.array([[1 / 6] * 6,                      # B[i, k] = p(x_t = k | y_t = i), faces 0..5
              [0.1] * 5 + [0.5]])
K, V = B.shape
assert np.allclose(A.sum(1), 1) and np.allclose(B.sum(1), 1) and np.isclose(pi.sum(), 1)


def sample_hmm(n_seq: int, T: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ancestral sampling along the chain: y_1 ~ pi, x_t ~ B[y_t], y_{t+1} ~ A[y_t]."""
    y = np.zeros((n_seq, T), dtype=np.int64)
    x = np.zeros((n_seq, T), dtype=np.int64)
    inv_cdf = lambda p, u: (u[:, None] > np.cumsum(p, axis=-1)).sum(-1)  # noqa: E731
    y[:, 0] = inv_cdf(np.broadcast_to(pi, (n_seq, K)), rng.random(n_seq))
    for t in range(T):
        if t > 0:
            y[:, t] = inv_cdf(A[y[:, t - 1]], rng.random(n_seq))
        x[:, t] = inv_cdf(B[y[:, t]], rng.random(n_seq))
    return np.minimum(x, V - 1), np.minimum(y, K - 1)


X_seq, Y_seq = sample_hmm(cfg.n_seq, cfg.T, rng)
print(tr("rolls  :", "掷出的点数："), "".join(str(v + 1) for v in X_seq[0, :60]))
print(tr("hidden :", "隐状态 F/L："), "".join("FL"[s] for s in Y_seq[0, :60]))

# %% slideshow={"slide_type": "fragment"}
def log_joint_hmm(x: np.ndarray, y: np.ndarray) -> float:
    """log p(x, y) = log pi[y1] + log B[y1, x1] + sum_t log A[y_{t-1}, y_t] + log B[y_t, x_t]."""
    return float(np.log(pi[y[0]]) + np.log(A[y[:-1], y[1:]]).sum() + np.log(B[y, x]).sum())


def max_z(counts: np.ndarray, probs: np.ndarray) -> float:
    """Largest |frequency - p| over the cells, in binomial standard errors of its row's count."""
    n = counts.sum(axis=1, keepdims=True)
    return float(np.max(np.abs(counts / n - probs) / np.sqrt(probs * (1 - probs) / n)))


# the sampled frequencies follow the model: transitions ≈ A, faces given the state ≈ B, each within
# 5 standard errors (a right sampler fails this about once in 10^5 runs)
n_trans, n_emit = np.zeros((K, K)), np.zeros((K, V))
np.add.at(n_trans, (Y_seq[:, :-1].ravel(), Y_seq[:, 1:].ravel()), 1)
np.add.at(n_emit, (Y_seq.ravel(), X_seq.ravel()), 1)
print(tr("empirical transitions:\n", "样本中的转移频率：\n"), (n_trans / n_trans.sum(1, keepdims=True)).round(3))
assert max_z(n_trans, A) < 5 and max_z(n_emit, B) < 5

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Likelihood: the forward algorithm
# $p(\mathbf{x}) = \sum_{\mathbf{y}} p(\mathbf{x},\mathbf{y})$ has $K^T$ terms. The forward
# variables $\alpha_t(j) = p(x_1,\dots,x_t, y_t=j)$ obey
# $\alpha_1(j) = \pi_j B_{j x_1}$, $\ \alpha_t(j) = B_{j x_t}\sum_i \alpha_{t-1}(i) A_{ij}$, and
# $p(\mathbf{x}) = \sum_j \alpha_T(j)$: $O(TK^2)$ work. We keep logs to avoid underflow.

# %% slideshow={"slide_type": "subslide"}
def forward(x: np.ndarray, pi: np.ndarray, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """log alpha for a batch of sequences: x (n, T) -> (n, T, K)."""
    n, T = x.shape
    log_alpha = np.zeros((n, T, len(pi)))
    log_alpha[:, 0] = np.log(pi) + np.log(B[:, x[:, 0]]).T
    for t in range(1, T):
        log_alpha[:, t] = np.log(B[:, x[:, t]]).T + logsumexp(
            log_alpha[:, t - 1, :, None] + np.log(A)[None], axis=1)
    return log_alpha


def hmm_log_lik(x: np.ndarray, pi, A, B) -> np.ndarray:
    """log p(x) per sequence, (n, T) -> (n,)."""
    return logsumexp(forward(x, pi, A, B)[:, -1], axis=1)


# brute force on a short sequence: sum over all K^T hidden paths
x_short = X_seq[0, :10]
brute = logsumexp([log_joint_hmm(x_short, np.array(path))
                   for path in itertools.product(range(K), repeat=len(x_short))])
print(tr(f"T=10: brute force over {K**10} paths {brute:.10f}, forward "
         f"{hmm_log_lik(x_short[None], pi, A, B)[0]:.10f}",
         f"T=10：对 {K**10} 条路径暴力求和 {brute:.10f}，前向算法 "
         f"{hmm_log_lik(x_short[None], pi, A, B)[0]:.10f}"))
assert np.isclose(brute, hmm_log_lik(x_short[None], pi, A, B)[0], rtol=1e-12)

# %% [markdown] slideshow={"slide_type": "subslide"}
# hmmlearn's `CategoricalHMM` with the same parameters computes the same log-likelihood.

# %% slideshow={"slide_type": "fragment"}
from hmmlearn.hmm import CategoricalHMM

ref = CategoricalHMM(n_components=K, n_features=V, init_params="")
ref.startprob_, ref.transmat_, ref.emissionprob_ = pi, A, B
lengths = [cfg.T] * cfg.n_seq
ll_ours = hmm_log_lik(X_seq, pi, A, B)
ll_hmmlearn = ref.score(X_seq.reshape(-1, 1), lengths)
print(tr(f"log p(all sequences): ours {ll_ours.sum():.8f}, hmmlearn {ll_hmmlearn:.8f}",
         f"log p(所有序列)：我们的 {ll_ours.sum():.8f}，hmmlearn {ll_hmmlearn:.8f}"))
assert np.isclose(ll_ours.sum(), ll_hmmlearn, rtol=1e-10)
assert np.isclose(ll_ours[0], ref.score(X_seq[0].reshape(-1, 1)), rtol=1e-10)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Decoding: the Viterbi path
# The most likely hidden path $\arg\max_{\mathbf{y}} p(\mathbf{y}\mid\mathbf{x})$: replace the
# sum of the forward recursion by a max, $\delta_t(j) = \log B_{jx_t} + \max_i[\delta_{t-1}(i)
# + \log A_{ij}]$, remember the argmax, and trace it back from the end.

# %% slideshow={"slide_type": "subslide"}
def viterbi(x: np.ndarray, pi, A, B) -> tuple[np.ndarray, float]:
    """Most likely path of one sequence x (T,) and its log p(x, y*)."""
    T = len(x)
    delta = np.log(pi) + np.log(B[:, x[0]])
    back = np.zeros((T, len(pi)), dtype=np.int64)
    for t in range(1, T):
        scores = delta[:, None] + np.log(A)          # [i, j]: come from i, go to j
        back[t] = scores.argmax(axis=0)
        delta = scores.max(axis=0) + np.log(B[:, x[t]])
    path = np.zeros(T, dtype=np.int64)
    path[-1] = delta.argmax()
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path, float(delta.max())


path, logp_path = viterbi(X_seq[0], pi, A, B)
ref_logp, ref_path = ref.decode(X_seq[0].reshape(-1, 1), algorithm="viterbi")
assert np.array_equal(path, ref_path) and np.isclose(logp_path, ref_logp)
assert np.isclose(logp_path, log_joint_hmm(X_seq[0], path))
# brute force: no path of the short sequence beats Viterbi's
best = max(itertools.product(range(K), repeat=len(x_short)),
           key=lambda p: log_joint_hmm(x_short, np.array(p)))
assert np.array_equal(viterbi(x_short, pi, A, B)[0], best)
print(tr(f"Viterbi == hmmlearn == brute force ✓; {np.mean(path == Y_seq[0]):.0%} of the "
         "hidden states recovered on sequence 0",
         f"维特比算法 == hmmlearn == 暴力枚举 ✓；在序列 0 上恢复了 {np.mean(path == Y_seq[0]):.0%} 的隐状态"))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Posterior marginals $\gamma_t(j) = p(y_t=j\mid\mathbf{x}) = \alpha_t(j)\beta_t(j)/p(\mathbf{x})$
# need the backward variables $\beta_t(i) = p(x_{t+1..T}\mid y_t = i)
# = \sum_j A_{ij}B_{jx_{t+1}}\beta_{t+1}(j)$, $\beta_T = 1$.

# %% slideshow={"slide_type": "fragment"}
def backward(x: np.ndarray, pi, A, B) -> np.ndarray:
    """log beta for a batch of sequences: x (n, T) -> (n, T, K)."""
    n, T = x.shape
    log_beta = np.zeros((n, T, len(pi)))
    for t in range(T - 2, -1, -1):
        log_beta[:, t] = logsumexp(np.log(A)[None] + (np.log(B[:, x[:, t + 1]]).T
                                                      + log_beta[:, t + 1])[:, None, :], axis=2)
    return log_beta


log_alpha, log_beta = forward(X_seq, pi, A, B), backward(X_seq, pi, A, B)
gamma = np.exp(log_alpha + log_beta - ll_ours[:, None, None])          # (n, T, K)
assert np.allclose(gamma.sum(-1), 1)
assert np.allclose(gamma[0], ref.predict_proba(X_seq[0].reshape(-1, 1)))
show = slice(0, min(cfg.T, 300))
fig, ax = plt.subplots(figsize=(11, 3))
t_axis = np.arange(cfg.T)[show]
ax.fill_between(t_axis, 0, Y_seq[0, show], step="mid", color="#f4a261", alpha=0.5,
                label=tr("true: loaded", "真实：灌铅"))
ax.plot(t_axis, gamma[0, show, 1], color="#1d3557",
        label=tr("p(loaded | x)  (forward–backward)", "p(灌铅 | x)（前向–后向）"))
ax.step(t_axis, path[show] * 1.05, where="mid", color="#e63946", lw=1,
        label=tr("Viterbi path (loaded = 1)", "维特比路径（灌铅 = 1）"))
ax.set(xlabel=tr("roll t", "第 t 次投掷"), ylabel=tr("loaded?", "灌铅？"), ylim=(-0.05, 1.15),
       title=tr("decoding the casino", "解码赌场的骰子"))
ax.legend(loc="upper right", fontsize=8, ncol=3)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Learning: Baum–Welch (EM for the HMM)
# The states are hidden, so maximum likelihood by counting is impossible; EM counts
# *expected* transitions and emissions under the posterior instead, then normalises:
# - **E-step**: $\gamma_t(i)$ and $\xi_t(i,j) = p(y_t=i,y_{t+1}=j\mid\mathbf{x})
#   = \alpha_t(i)A_{ij}B_{jx_{t+1}}\beta_{t+1}(j)/p(\mathbf{x})$;
# - **M-step**: $\pi_i \propto \sum_{\text{seq}}\gamma_1(i)$,
#   $A_{ij}\propto\sum_t\xi_t(i,j)$, $B_{ik}\propto\sum_t\gamma_t(i)[x_t=k]$.
#
# Each iteration cannot decrease $\log p(\mathbf{x})$.

# %% slideshow={"slide_type": "subslide"}
def baum_welch_step(x: np.ndarray, pi, A, B):
    """One EM iteration on sequences x (n, T); returns new (pi, A, B) and log p(x) before it."""
    la, lb = forward(x, pi, A, B), backward(x, pi, A, B)
    ll = logsumexp(la[:, -1], axis=1)                                     # (n,)
    gamma = np.exp(la + lb - ll[:, None, None])                           # (n, T, K)
    log_xi = (la[:, :-1, :, None] + np.log(A)[None, None]
              + (np.log(B[:, x[:, 1:]]).transpose(1, 2, 0) + lb[:, 1:])[:, :, None, :]
              - ll[:, None, None, None])                                  # (n, T-1, K, K)
    xi = np.exp(log_xi)
    pi_new = gamma[:, 0].sum(0) / len(x)
    A_new = xi.sum((0, 1)) / xi.sum((0, 1, 3))[:, None]
    onehot = np.eye(B.shape[1])[x]                                        # (n, T, V)
    B_new = np.einsum("ntk,ntv->kv", gamma, onehot)
    B_new /= B_new.sum(1, keepdims=True)
    return pi_new, A_new, B_new, float(ll.sum())


pi0, A0, B0 = np.array([0.6, 0.4]), np.array([[0.8, 0.2], [0.3, 0.7]]), rng.dirichlet(np.ones(V) * 5, size=K)
pi_k, A_k, B_k = pi0, A0, B0
bw_iters = profile.capped(cfg.bw_iters)
ll_trace = []
for _ in range(bw_iters):
    pi_k, A_k, B_k, ll = baum_welch_step(X_seq, pi_k, A_k, B_k)
    ll_trace.append(ll)
ll_trace.append(float(hmm_log_lik(X_seq, pi_k, A_k, B_k).sum()))
assert np.all(np.diff(ll_trace) >= -1e-8 * abs(ll_trace[0])), "EM must not decrease log p(x)"
print(tr(f"log p(x): {ll_trace[0]:.2f} -> {ll_trace[-1]:.2f} after {bw_iters} iterations "
         f"(true parameters: {ll_ours.sum():.2f})",
         f"log p(x)：{ll_trace[0]:.2f} -> {ll_trace[-1]:.2f}，迭代 {bw_iters} 次"
         f"（真实参数：{ll_ours.sum():.2f}）"))

# %% slideshow={"slide_type": "fragment"}
bw = CategoricalHMM(n_components=K, n_features=V, n_iter=bw_iters, tol=-np.inf,
                    init_params="", params="ste")
bw.startprob_, bw.transmat_, bw.emissionprob_ = pi0, A0, B0
bw.fit(X_seq.reshape(-1, 1), lengths)
assert np.allclose(bw.transmat_, A_k, atol=1e-8) and np.allclose(bw.emissionprob_, B_k, atol=1e-8)
assert np.isclose(bw.monitor_.history[-1], ll_trace[-2], rtol=1e-10)
print(tr("our Baum–Welch == hmmlearn's after the same iterations ✓",
         "迭代次数相同时，我们的 Baum–Welch == hmmlearn 的 ✓"))
fig, ax = plt.subplots(1, 2, figsize=(10, 3))
ax[0].plot(ll_trace, "o-", ms=3)
ax[0].axhline(ll_ours.sum(), color="k", ls="--", label=tr("true parameters", "真实参数"))
ax[0].set(xlabel=tr("EM iteration", "EM 迭代次数"), ylabel="log p(x)",
          title=tr("Baum–Welch: log-likelihood", "Baum–Welch：对数似然"))
ax[0].legend()
order = np.argsort(B_k[:, 5])                     # label switching: sort by p(six)
width = 0.2
for i, s in enumerate(states):
    ax[1].bar(np.arange(V) + (2 * i - 1.5) * width, B[i], width, label=tr(f"true {s}", f"真实：{s}"))
    ax[1].bar(np.arange(V) + (2 * i - 0.5) * width, B_k[order[i]], width, label=tr(f"EM {s}", f"EM：{s}"),
              alpha=0.6)
ax[1].set(xticks=range(V), xticklabels=range(1, V + 1), xlabel=tr("face", "点数"),
          ylabel="p(x | y)", title=tr("emission probabilities", "输出概率"))
ax[1].legend(fontsize=7, ncol=2)
plotting.savefig(fig, NOTEBOOK, "baum_welch")
plt.show()
print(tr("estimated A (states ordered fair, loaded):\n", "估计的 A（状态顺序：公平，灌铅）：\n"),
      A_k[np.ix_(order, order)].round(3))
err_A, err_B = np.abs(A_k[np.ix_(order, order)] - A).max(), np.abs(B_k[order] - B).max()
# measured: A 0.13, B 0.09 (smoke, 2,000 rolls); A 0.03, B 0.05 (cpu, 15,000 rolls)
quality.at_most(tr("Baum–Welch: largest error of A", "Baum–Welch：A 的最大误差"), err_A, smoke=0.2, cpu=0.1, full=0.1)
_ = quality.at_most(tr("Baum–Welch: largest error of B", "Baum–Welch：B 的最大误差"), err_B,
                    smoke=0.2, cpu=0.1, full=0.1)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Gaussian mixture model (高斯混合模型 · 聚类)
# $z\sim\mathrm{Cat}(\boldsymbol\pi)$, $\mathbf{x}\mid z=k\sim\mathcal{N}(\boldsymbol\mu_k,
# \Sigma_k)$, so $p(\mathbf{x}) = \sum_k \pi_k\,\mathcal{N}(\mathbf{x};\boldsymbol\mu_k,\Sigma_k)$.
# EM alternates
# - **E-step**: responsibilities $r_{nk} = p(z_n = k\mid\mathbf{x}_n)
#   = \pi_k\mathcal{N}(\mathbf{x}_n;\mu_k,\Sigma_k)/\sum_j\pi_j\mathcal{N}(\mathbf{x}_n;\mu_j,\Sigma_j)$;
# - **M-step**: with $N_k=\sum_n r_{nk}$: $\pi_k = N_k/N$,
#   $\mu_k = \frac1{N_k}\sum_n r_{nk}\mathbf{x}_n$,
#   $\Sigma_k = \frac1{N_k}\sum_n r_{nk}(\mathbf{x}_n-\mu_k)(\mathbf{x}_n-\mu_k)^\top$.

# %% slideshow={"slide_type": "subslide"}
true_means = np.array([[0.0, 0.0], [4.0, 1.0], [1.5, 4.0]])
true_covs = np.array([[[1.0, 0.6], [0.6, 1.0]], [[0.6, -0.3], [-0.3, 0.8]],
                      [[1.5, 0.0], [0.0, 0.3]]])
true_weights = np.array([0.4, 0.35, 0.25])
z_true = rng.choice(3, size=cfg.gmm_n, p=true_weights)
Xg = true_means[z_true] + np.einsum("nij,nj->ni", np.linalg.cholesky(true_covs)[z_true],
                                    rng.standard_normal((cfg.gmm_n, 2)))


def log_gauss(X: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(x; mu_k, Sigma_k) for every point and component: (N, D) -> (N, K)."""
    D = X.shape[1]
    L = np.linalg.cholesky(cov)                                        # (K, D, D)
    diff = X[None] - mu[:, None]                                       # (K, N, D)
    sol = np.linalg.solve(L[:, None], diff[..., None])[..., 0]         # L^{-1}(x - mu)
    logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(1)       # log |Sigma_k|
    return (-0.5 * (sol**2).sum(-1) - 0.5 * logdet[:, None] - 0.5 * D * np.log(2 * np.pi)).T


def e_step(X, w, mu, cov) -> tuple[np.ndarray, float]:
    """Responsibilities r (N, K) and log p(X) = sum_n log sum_k pi_k N(x_n; mu_k, Sigma_k)."""
    log_joint = np.log(w) + log_gauss(X, mu, cov)                       # log pi_k N(x_n | k)
    log_px = logsumexp(log_joint, axis=1, keepdims=True)
    return np.exp(log_joint - log_px), float(log_px.sum())


def m_step(X, r) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted maximum likelihood: pi_k, mu_k, Sigma_k from responsibilities r (N, K)."""
    Nk = r.sum(0)
    mu = r.T @ X / Nk[:, None]
    diff = X[None] - mu[:, None]                                       # (K, N, D)
    cov = np.einsum("nk,kni,knj->kij", r, diff, diff) / Nk[:, None, None]
    return Nk / len(X), mu, cov


# a poor initialisation on purpose: three random data points, unit covariances
w0 = np.full(3, 1 / 3)
mu0 = Xg[rng.choice(len(Xg), 3, replace=False)]
cov0 = np.repeat(np.eye(2)[None], 3, axis=0)
w, mu, cov = w0, mu0, cov0
gmm_ll, history = [], [(w, mu, cov)]
gmm_max_iter = profile.capped(cfg.gmm_max_iter)
for it in range(gmm_max_iter):
    r, ll = e_step(Xg, w, mu, cov)
    gmm_ll.append(ll)
    w, mu, cov = m_step(Xg, r)
    history.append((w, mu, cov))
    if it > 0 and gmm_ll[-1] - gmm_ll[-2] < 1e-10 * abs(gmm_ll[-1]):
        break
r, ll_final = e_step(Xg, w, mu, cov)
gmm_ll.append(ll_final)
assert np.all(np.diff(gmm_ll) >= -1e-9 * abs(gmm_ll[-1])), "EM must not decrease log p(X)"
ll_true_params = e_step(Xg, true_weights, true_means, true_covs)[1]
print(tr(f"EM: {len(gmm_ll) - 1} iterations, log p(X) {gmm_ll[0]:.3f} -> {gmm_ll[-1]:.3f} "
         f"(the true parameters: {ll_true_params:.3f})",
         f"EM：迭代 {len(gmm_ll) - 1} 次，log p(X) {gmm_ll[0]:.3f} -> {gmm_ll[-1]:.3f}"
         f"（真实参数：{ll_true_params:.3f}）"))
# on its own training data the maximum-likelihood fit beats the true parameters, unless EM stopped
# in a poor local maximum (or early)
_ = quality.at_least(tr("GMM: log p(X) of EM's fit − of the true parameters",
                        "GMM：EM 拟合结果的 log p(X) − 真实参数的 log p(X)"), gmm_ll[-1] - ll_true_params,
                     smoke=0.0, cpu=0.0, full=0.0)   # measured +7.7 (smoke), +6.9 (cpu)

# %% [markdown] slideshow={"slide_type": "subslide"}
# scikit-learn's `GaussianMixture` from the **same initialisation** (and no covariance
# regularisation) reaches the same log-likelihood and the same parameters.

# %% slideshow={"slide_type": "fragment"}
from sklearn.mixture import GaussianMixture

with warnings.catch_warnings():
    if profile.dry_run():  # capped at a few iterations, neither fit converges: that is expected
        warnings.simplefilter("ignore", ConvergenceWarning)
    sk_gmm = GaussianMixture(3, covariance_type="full", reg_covar=0.0, tol=1e-12,
                             max_iter=gmm_max_iter, weights_init=w0, means_init=mu0,
                             precisions_init=np.linalg.inv(cov0)).fit(Xg)
print(tr(f"log p(X): ours {gmm_ll[-1]:.8f}, sklearn {sk_gmm.score(Xg) * len(Xg):.8f} "
         f"({sk_gmm.n_iter_} iterations)",
         f"log p(X)：我们的 {gmm_ll[-1]:.8f}，sklearn {sk_gmm.score(Xg) * len(Xg):.8f}"
         f"（迭代 {sk_gmm.n_iter_} 次）"))
assert np.isclose(gmm_ll[-1], sk_gmm.score(Xg) * len(Xg), rtol=1e-7)
assert np.allclose(mu, sk_gmm.means_, atol=1e-4) and np.allclose(w, sk_gmm.weights_, atol=1e-4)

# %% slideshow={"slide_type": "subslide"}
COLOURS = np.array([[0.9, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.3, 0.9]])  # one per component


def draw_gmm(ax, X, w, mu, cov, title):
    """Points coloured by their responsibilities (RGB mix), 1σ and 2σ ellipses per component."""
    r, ll = e_step(X, w, mu, cov)
    colours = COLOURS
    ax.scatter(X[:, 0], X[:, 1], c=np.clip(r @ colours, 0, 1), s=6)
    for k in range(len(w)):
        vals, vecs = np.linalg.eigh(cov[k])
        angle = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1]))
        for s in (1, 2):
            ax.add_patch(Ellipse(mu[k], 2 * s * np.sqrt(vals[-1]), 2 * s * np.sqrt(vals[0]),
                                 angle=angle, fill=False, color=colours[k], lw=1.5 / s))
    ax.set(title=f"{title}\nlog p(X) = {ll:.1f}", xlabel="x₁", ylabel="x₂", aspect="equal")


shots = sorted({i for i in (0, 1, 3) if i < len(history)} | {len(history) - 1})
fig, axes = plt.subplots(1, len(shots), figsize=(3.6 * len(shots), 3.8))
for ax, i in zip(axes, shots):
    draw_gmm(ax, Xg, *history[i], tr(f"iteration {i}", f"第 {i} 次迭代"))
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Sampling new points** (the generative use): $z\sim\mathrm{Cat}(\pi)$, then
# $\mathbf{x} = \mu_z + L_z\boldsymbol\epsilon$ with $L_zL_z^\top = \Sigma_z$ and
# $\boldsymbol\epsilon\sim\mathcal{N}(0, I)$.

# %% slideshow={"slide_type": "fragment"}
n_new = 1000
z_new = rng.choice(3, size=n_new, p=w)
x_new = mu[z_new] + np.einsum("nij,nj->ni", np.linalg.cholesky(cov)[z_new],
                              rng.standard_normal((n_new, 2)))
fig, ax = plt.subplots(1, 2, figsize=(9, 4), sharex=True, sharey=True)
ax[0].scatter(Xg[:, 0], Xg[:, 1], s=5, c="gray")
ax[0].set(title=tr("training data", "训练数据"), xlabel="x₁", ylabel="x₂")
ax[1].scatter(x_new[:, 0], x_new[:, 1], s=5, c=COLOURS[z_new])
ax[1].set(title=tr("new samples from the fitted GMM (colour: z)", "从拟合的 GMM 采样的新样本（颜色：z）"), xlabel="x₁")
plt.show()


def moment_z(x: np.ndarray, z: np.ndarray) -> float:
    """Per component: |sample mean - mu_k| and |sample covariance - Sigma_k| in standard errors
    (Var of a Gaussian sample's covariance entry ≈ (Σ_ii Σ_jj + Σ_ij²) / n); the largest."""
    worst = 0.0
    for k in range(len(w)):
        xk, d = x[z == k], np.diag(cov[k])
        se_mean, se_cov = np.sqrt(d / len(xk)), np.sqrt((np.outer(d, d) + cov[k] ** 2) / len(xk))
        worst = max(worst, np.max(np.abs(xk.mean(0) - mu[k]) / se_mean),
                    np.max(np.abs(np.cov(xk.T) - cov[k]) / se_cov))
    return float(worst)


# the samples have each component's mean and covariance; forgetting L_z (x = mu_z + eps) fails
x_no_L = mu[z_new] + rng.standard_normal((n_new, 2))
print(tr(f"largest moment error: {moment_z(x_new, z_new):.1f} standard errors; "
         f"without L_z: {moment_z(x_no_L, z_new):.0f}",
         f"矩的最大误差：{moment_z(x_new, z_new):.1f} 个标准误；去掉 L_z：{moment_z(x_no_L, z_new):.0f}"))
assert moment_z(x_new, z_new) < 5 and moment_z(x_no_L, z_new) > 5
_ = artifacts.save_metrics(NOTEBOOK, {"hmm_loglik_true": float(ll_ours.sum()),
                                      "hmm_loglik_em": ll_trace[-1], "gmm_loglik": gmm_ll[-1],
                                      "gmm_iterations": len(gmm_ll) - 1})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Try it: watch EM iterate
# Move the slider through the EM iterations of the fit above: the colours are the
# responsibilities $r_{nk}$ (a mix of red, green and blue when a point is shared).

# %% slideshow={"slide_type": "subslide"}
import ipywidgets as widgets


def show_iteration(iteration: int = 0) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    draw_gmm(ax, Xg, *history[min(iteration, len(history) - 1)], tr(f"iteration {iteration}", f"第 {iteration} 次迭代"))
    plt.show()


_ = widgets.interact(show_iteration,
                     iteration=widgets.IntSlider(0, 0, min(len(history) - 1, 60),
                                                 description=tr("iteration", "迭代次数")))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises (练习)
# ### Exercise 03.1 — posterior decoding (练习 03.1)
# *Posterior decoding.* Return, for one sequence `x` (shape (T,)) and HMM parameters
# `pi, A, B`, the state that is most probable **at each time on its own**,
# $\hat y_t = \arg\max_j p(y_t = j\mid\mathbf{x})$, using `forward` and `backward`. Is it the same
# as the Viterbi path? (The check compares with hmmlearn's `decode(algorithm="map")` on two casino
# sequences and one from a 3-state HMM.)

# %% slideshow={"slide_type": "fragment"}
def my_posterior_decode(x: np.ndarray, pi: np.ndarray, A: np.ndarray, B: np.ndarray) -> np.ndarray | None:
    # YOUR CODE HERE
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
# Solution (the two decodings differ where a short excursion is likely step by step but
# impossible as a whole path)
def my_posterior_decode(x: np.ndarray, pi: np.ndarray, A: np.ndarray, B: np.ndarray) -> np.ndarray | None:
    la, lb = forward(x[None], pi, A, B)[0], backward(x[None], pi, A, B)[0]
    return (la + lb).argmax(axis=1)          # log gamma_t(j) + const: the same argmax


print("positions where posterior decoding != Viterbi on sequence 0:",
      int((my_posterior_decode(X_seq[0], pi, A, B) != path).sum()))
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.posterior_decode(my_posterior_decode)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 03.2 — the responsibilities (练习 03.2)
# *The E-step.* Write the responsibilities $r_{nk}$ for data `X` (N, D) and parameters
# `w` (K,), `mu` (K, D), `cov` (K, D, D), without calling `e_step`.
# `scipy.stats.multivariate_normal.pdf` is allowed. (The check compares with scikit-learn's
# `predict_proba` on three mixtures, one of them in 3-D.)

# %% slideshow={"slide_type": "fragment"}
def my_responsibilities(X, w, mu, cov) -> np.ndarray | None:
    # YOUR CODE HERE
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
from scipy.stats import multivariate_normal


def my_responsibilities(X, w, mu, cov) -> np.ndarray | None:
    dens = np.stack([w[k] * multivariate_normal.pdf(X, mu[k], cov[k]) for k in range(len(w))],
                    axis=1)
    return dens / dens.sum(axis=1, keepdims=True)
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.responsibilities(my_responsibilities)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 03.3 — the parameters of a GMM (练习 03.3)
# How many free parameters does a $K$-component, full-covariance GMM in $D$ dimensions
# have? Write it as a function of $(K, D)$; what is it for the fit above ($K = 3$, $D = 2$)? (The
# check reads the number off scikit-learn's BIC,
# $\mathrm{BIC} = -2\log p(X) + n_{\text{params}}\log N$, for three $(K, D)$.)

# %% slideshow={"slide_type": "fragment"}
def my_n_gmm(K: int, D: int) -> int | None:
    # YOUR CODE HERE
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def my_n_gmm(K: int, D: int) -> int | None:
    return (K - 1) + K * D + K * D * (D + 1) // 2    # weights, means, symmetric covariances


n_params_sklearn = (sk_gmm.bic(Xg) + 2 * sk_gmm.score(Xg) * len(Xg)) / np.log(len(Xg))
print(f"K = 3, D = 2: {my_n_gmm(3, 2)} parameters (scikit-learn's BIC of the fit above: {n_params_sklearn:.6f})")
assert np.isclose(my_n_gmm(3, 2), n_params_sklearn)
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.gmm_parameters(my_n_gmm)
