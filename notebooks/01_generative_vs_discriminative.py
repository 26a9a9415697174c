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
# # 01 · Generative vs discriminative models (判别模型 & 生成模型)
# A **discriminative** model learns $p(y\mid x)$; a **generative** model learns $p(x)$, or with
# labels $p(x\mid y)$ and $p(y)$. On real handwritten digits we fit one of each: **naive Bayes**
# (generative, fitted by counting) and **logistic regression** (discriminative, fitted by
# gradient descent), compare their accuracy, and then do what only the generative one can:
# sample new digits, score how likely an image is, and classify with missing pixels.
# Lecture: section "判别模型 & 生成模型" and "常见的有向图模型 · 朴素贝叶斯分类器".

# %% slideshow={"slide_type": "skip"}
import itertools
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.special import logsumexp
from scipy.stats import binom

from course_utils import artifacts, data, profile, quality
from course_utils.exercises import graphical_models as ex

NOTEBOOK = "01_generative_vs_discriminative"
profile.seed_everything(0)
rng = np.random.default_rng(0)


# %% slideshow={"slide_type": "skip"}
@dataclass(frozen=True)
class Config:
    n_train: int | None       # training digits (None: all that the data source has)
    lr_steps: int             # gradient steps of each logistic regression
    n_curve: tuple[int, ...]  # training-set sizes of the learning curve
    n_check: int              # samples per class drawn from naive Bayes to check the sampler


CURVE = (20, 50, 100, 200, 500, 1000, 2000, 4500)
cfg = profile.pick(smoke=Config(2000, 100, (50, 200, 1000), 200),
                   cpu=Config(None, 300, CURVE, 1000),
                   full=Config(None, 500, CURVE, 2000))
cfg

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The data: binarised MNIST digits
# Each image becomes $x \in \{0,1\}^{M}$, $M = 784$ pixels (a pixel is 1 where the ink is
# above one half), with a label $y \in \{0,\dots,9\}$.

# %% slideshow={"slide_type": "subslide"}
train = data.load("mnist", "train", n=cfg.n_train)
test = data.load("mnist", "test")
X = (train.images.reshape(len(train), -1).numpy() > 0.5).astype(np.int64)  # (N, M) in {0,1}
y = train.labels.numpy()
X_test = (test.images.reshape(len(test), -1).numpy() > 0.5).astype(np.int64)
y_test = test.labels.numpy()
N, M = X.shape
C = 10
print(f"train {X.shape}, test {X_test.shape}, classes {np.bincount(y, minlength=C)}")
fig, ax = plt.subplots(1, 10, figsize=(10, 1.3))
for c in range(C):
    ax[c].imshow(X[np.flatnonzero(y == c)[0]].reshape(28, 28), cmap="gray_r")
    ax[c].set_title(f"y={c}")
    ax[c].axis("off")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Naive Bayes: a generative classifier (朴素贝叶斯)
# The lecture's model: given the class, the pixels are independent,
# $$p(y\mid \mathbf{x};\theta) \propto p(y;\theta_c)\prod_{m=1}^{M} p(x_m\mid y;\theta_m),\qquad
# p(x_m = 1 \mid y = c) = \theta_{cm}.$$
# Maximum likelihood is **counting**: $\hat p(y=c) = N_c/N$ and
# $\hat\theta_{cm} = N_{cm}/N_c$, where $N_{cm}$ counts class-$c$ images with pixel $m$ on.
# With Laplace smoothing $\alpha$: $\hat\theta_{cm} = (N_{cm}+\alpha)/(N_c+2\alpha)$, so that
# no pixel has probability exactly 0 or 1.

# %% slideshow={"slide_type": "subslide"}
alpha = 1.0
Y = np.eye(C)[y]                                   # (N, C) one-hot labels
N_c = Y.sum(axis=0)                                # (C,)   images per class
N_cm = Y.T @ X                                     # (C, M) images of class c with pixel m on
log_prior = np.log(N_c / N)                        # log p(y)
theta = (N_cm + alpha) / (N_c[:, None] + 2 * alpha)  # p(x_m = 1 | y), shape (C, M)


def nb_log_joint(X: np.ndarray) -> np.ndarray:
    """log p(y) + sum_m log p(x_m | y) for every class: (n, M) -> (n, C)."""
    return log_prior + X @ np.log(theta).T + (1 - X) @ np.log1p(-theta).T


def nb_log_posterior(X: np.ndarray) -> np.ndarray:
    """log p(y | x) = log p(x, y) - log sum_y' p(x, y'): (n, M) -> (n, C)."""
    lj = nb_log_joint(X)
    return lj - logsumexp(lj, axis=1, keepdims=True)


nb_pred = nb_log_posterior(X_test).argmax(axis=1)
acc_nb = float((nb_pred == y_test).mean())
print(f"naive Bayes test accuracy: {acc_nb:.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same model in scikit-learn is `BernoulliNB(alpha=1)`: its predictions and posteriors
# must be ours exactly.

# %% slideshow={"slide_type": "fragment"}
from sklearn.naive_bayes import BernoulliNB

sk_nb = BernoulliNB(alpha=alpha).fit(X, y)
assert np.array_equal(sk_nb.predict(X_test), nb_pred)
assert np.allclose(sk_nb.predict_log_proba(X_test), nb_log_posterior(X_test), atol=1e-8)
assert np.allclose(np.exp(sk_nb.feature_log_prob_), theta)
print("our counting naive Bayes == sklearn BernoulliNB ✓")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Logistic regression: a discriminative classifier (判别模型)
# Model $p(y\mid x)$ directly: $p(y = c\mid \mathbf{x}) = \mathrm{softmax}(W^\top\mathbf{x}+b)_c$,
# fitted by minimising the cross-entropy $-\frac1N\sum_n \log p(y_n\mid \mathbf{x}_n)$
# (plus a small $\ell_2$ penalty) with gradient descent. There is no $p(\mathbf{x})$ anywhere.

# %% slideshow={"slide_type": "subslide"}
def softmax(z: np.ndarray) -> np.ndarray:
    """softmax over the last axis, (n, C) -> (n, C)."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_logistic(X: np.ndarray, y: np.ndarray, steps: int, eta: float = 0.05, mom: float = 0.9,
                 lam: float = 1e-3) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Gradient descent with momentum on the mean cross-entropy + lam/2 |W|^2."""
    Xf, Y = X.astype(float), np.eye(C)[y]
    W, b = np.zeros((X.shape[1], C)), np.zeros(C)
    vW, vb, losses = np.zeros_like(W), np.zeros_like(b), []
    for _ in range(steps):
        P = softmax(Xf @ W + b)                       # p(y | x) for every training image
        losses.append(float(-np.log(P[np.arange(len(y)), y]).mean()))
        gW = Xf.T @ (P - Y) / len(y) + lam * W        # d loss / dW
        gb = (P - Y).mean(axis=0)
        vW, vb = mom * vW - eta * gW, mom * vb - eta * gb
        W, b = W + vW, b + vb
    return W, b, losses


W_lr, b_lr, losses = fit_logistic(X, y, profile.capped(cfg.lr_steps))
acc_lr = float(((X_test @ W_lr + b_lr).argmax(axis=1) == y_test).mean())
assert losses[-1] < losses[0], "gradient descent must lower the training cross-entropy"
fig, ax = plt.subplots(figsize=(5, 2.8))
ax.plot(losses)
ax.set(xlabel="gradient step", ylabel="training cross-entropy", title="logistic regression")
plt.show()
print(f"logistic regression test accuracy: {acc_lr:.3f}   naive Bayes: {acc_nb:.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Same form, different fitting.** Naive Bayes' posterior is itself a softmax of a linear
# function: $\log p(y\mid x) = \mathrm{const} + \log p(y) + \sum_m \log(1-\theta_{ym})
# + \sum_m x_m \log\frac{\theta_{ym}}{1-\theta_{ym}}$. So both models live in the same family
# $\mathrm{softmax}(W^\top x + b)$; naive Bayes picks $W$ by counting (maximising
# $p(x, y)$), logistic regression by maximising $p(y\mid x)$ (Ng & Jordan 2001: a
# *generative–discriminative pair*).

# %% slideshow={"slide_type": "fragment"}
W_nb = (np.log(theta) - np.log1p(-theta)).T          # (M, C)
b_nb = log_prior + np.log1p(-theta).sum(axis=1)      # (C,)
assert np.allclose(np.log(softmax(X_test @ W_nb + b_nb)), nb_log_posterior(X_test), atol=1e-8)
print("naive Bayes posterior == softmax(W_nb x + b_nb) ✓")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Accuracy as a function of the number of training images. Naive Bayes flattens out early, at
# the ceiling its (wrong) independence assumption allows; logistic regression keeps improving
# with more data. Ng & Jordan (2001) showed that the generative model approaches *its*
# asymptote faster and can win at very small $N$; on these binarised digits the discriminative
# model is ahead at every size we try: look at the curve, not the folklore.

# %% slideshow={"slide_type": "fragment"}
curve = {"naive Bayes": [], "logistic regression": []}
sizes = [n for n in cfg.n_curve if n <= N]
for n in sizes:
    idx = rng.permutation(N)[:n]
    nb_n = BernoulliNB(alpha=alpha).fit(X[idx], y[idx])
    curve["naive Bayes"].append((nb_n.predict(X_test) == y_test).mean())
    W_n, b_n, _ = fit_logistic(X[idx], y[idx], profile.capped(cfg.lr_steps))
    curve["logistic regression"].append(((X_test @ W_n + b_n).argmax(1) == y_test).mean())
fig, ax = plt.subplots(figsize=(5, 3))
for name, accs in curve.items():
    ax.plot(sizes, accs, "o-", label=name)
ax.set(xscale="log", xlabel="training images N", ylabel="test accuracy",
       title="generative vs discriminative")
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What only the generative model can do (生成新的数据)
# ### 1. Sampling: $y \sim p(y)$, then $x_m \sim \mathrm{Bernoulli}(\theta_{ym})$ for each pixel
# The samples are recognisable but speckled: the model assumes pixels are independent given the
# digit, so it cannot draw connected strokes. Better generative models (VAE, GAN, diffusion)
# in later notebooks remove exactly this assumption.

# %% slideshow={"slide_type": "subslide"}
n_per_class = 8
y_new = np.repeat(np.arange(C), n_per_class)                      # 8 samples of each digit
x_new = (rng.random((len(y_new), M)) < theta[y_new]).astype(np.int64)  # x ~ p(x | y)
fig, axes = plt.subplots(1, 2, figsize=(9, 5.2), gridspec_kw=dict(width_ratios=[1, 8]))
for ax, imgs, title in [(axes[0], theta, "θ_y = E[x | y]"),
                        (axes[1], x_new, "samples x ~ p(x | y), one row per digit")]:
    k = 1 if imgs is theta else n_per_class
    grid = imgs.reshape(C, k, 28, 28).transpose(0, 2, 1, 3).reshape(C * 28, k * 28)
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_yticks(np.arange(C) * 28 + 14, labels=[str(c) for c in range(C)])
    ax.set_xticks([])
    ax.set_ylabel("digit y")
plt.show()
_ = artifacts.save_samples(NOTEBOOK, torch.tensor(x_new, dtype=torch.float32).reshape(-1, 1, 28, 28),
                       torch.tensor(y_new))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Do the samples follow $p(x \mid y)$?** Eight per digit cannot tell. Draw `cfg.n_check` per
# digit: for each digit $c$ and pixel $m$ the number of inked samples is
# $\mathrm{Binomial}(n, \theta_{cm})$. The check fails when some count among the $10 \times 784$
# is further from $n\theta_{cm}$ than a right sampler's would be once in 1,000 runs (the smallest
# two-sided binomial p-value, times the number of counts). Three plausible wrong samplers must
# fail it: blank images (most pixels of a digit are blank, so a blank image is close to $\theta$
# *on average*), ink where $\theta$ says blank ($u < 1 - \theta$), and the next digit's $\theta$.

# %% slideshow={"slide_type": "fragment"}
def sampler_p_value(x: np.ndarray, labels: np.ndarray) -> float:
    """Chance that a right sampler's ink counts are this far from n θ anywhere: (n, M) samples -> p."""
    p_min = 1.0
    for c in range(C):
        k, n = x[labels == c].sum(axis=0), int((labels == c).sum())   # ink counts per pixel
        p = 2 * np.minimum(binom.cdf(k, n, theta[c]), binom.sf(k - 1, n, theta[c]))
        p_min = min(p_min, float(p.min()))
    return min(1.0, p_min * C * M)


y_check = np.repeat(np.arange(C), cfg.n_check)
u = rng.random((len(y_check), M))
samplers = {
    "x ~ p(x | y): u < θ_y": u < theta[y_check],
    "blank images": np.zeros_like(u, dtype=bool),
    "ink where θ says blank: u < 1 − θ_y": u < 1 - theta[y_check],
    "the next digit's θ": u < theta[(y_check + 1) % C],
}
p_values = {name: sampler_p_value(x.astype(np.int64), y_check) for name, x in samplers.items()}
for name, p in p_values.items():
    print(f"{name:>36}: p = {p:.2g}")
print(f"(the mean |pixel mean − θ| of blank images is {theta.mean():.2f}: an average hides them)")
assert p_values["x ~ p(x | y): u < θ_y"] > 1e-3, "the samples do not follow p(x | y)"
assert all(p < 1e-3 for name, p in p_values.items() if name != "x ~ p(x | y): u < θ_y"), \
    "a wrong sampler passed the check"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 2. Density estimation (密度估计): how likely is an image?
# $\log p(\mathbf{x}) = \log\sum_y p(y)\,p(\mathbf{x}\mid y)$ scores real test digits far above
# random noise with the same number of ink pixels. Logistic regression has no $p(\mathbf{x})$:
# it returns a class distribution for noise too, with no way to say "this is not a digit".

# %% slideshow={"slide_type": "fragment"}
def nb_log_px(X: np.ndarray) -> np.ndarray:
    """log p(x) = logsumexp_y [log p(y) + log p(x | y)]: (n, M) -> (n,)."""
    return logsumexp(nb_log_joint(X), axis=1)


noise = (rng.random(X_test.shape) < X_test.mean()).astype(np.int64)
lp_real, lp_noise = nb_log_px(X_test), nb_log_px(noise)
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(lp_real, bins=40, alpha=0.7, label="test digits")
ax.hist(lp_noise, bins=40, alpha=0.7, label="noise, same ink")
ax.set(xlabel="log p(x)  (nats)", ylabel="images", title="naive Bayes as a density model")
ax.legend()
plt.show()
assert (lp_real > lp_noise.max()).mean() > 0.99   # (nearly) every digit beats every noise image
conf_noise = softmax(noise @ W_lr + b_lr).max(axis=1).mean()
print(f"mean log p(x): digits {lp_real.mean():.0f}, noise {lp_noise.mean():.0f}; "
      f"logistic regression's mean confidence on noise: {conf_noise:.2f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 3. Inference with missing pixels (特征推断)
# Hide the bottom half of every test image. The generative model marginalises the unseen
# pixels: $\sum_{x_{\text{hidden}}} \prod_{m} p(x_m\mid y) = \prod_{m\in\text{seen}} p(x_m\mid y)$,
# so it simply drops their factors. The discriminative model was trained on whole images and
# can only guess a value (here 0) for the hidden pixels.

# %% slideshow={"slide_type": "fragment"}
seen = np.zeros(M, dtype=bool)
seen[: M // 2] = True                                            # the top 14 rows
lj_seen = log_prior + X_test[:, seen] @ np.log(theta[:, seen]).T \
    + (1 - X_test[:, seen]) @ np.log1p(-theta[:, seen]).T
acc_nb_half = float((lj_seen.argmax(1) == y_test).mean())
X_zero = X_test * seen
acc_lr_half = float(((X_zero @ W_lr + b_lr).argmax(1) == y_test).mean())
# check the marginalisation by brute force on one image with 4 hidden pixels
H = np.flatnonzero(~seen)[300:304]
x0 = X_test[0].copy()
completions = []
for bits in itertools.product([0, 1], repeat=len(H)):              # all 2^4 fillings
    x0[H] = bits
    completions.append(nb_log_joint(x0[None])[0])               # log p(x, y)
obs = np.ones(M, dtype=bool)
obs[H] = False
dropped = log_prior + (X_test[0] * np.log(theta)
                       + (1 - X_test[0]) * np.log1p(-theta))[:, obs].sum(axis=1)
assert np.allclose(logsumexp(np.array(completions), axis=0), dropped)  # sum_xH p(x,y) = drop
print(f"top half only: naive Bayes {acc_nb_half:.3f}, logistic regression (zeros) "
      f"{acc_lr_half:.3f}")

# %% [markdown] slideshow={"slide_type": "fragment"}
# What a student should see (measured at `cpu` on the 4,500 embedded digits: naive Bayes 0.84,
# logistic regression 0.90; the targets leave a margin).

# %% slideshow={"slide_type": "fragment"}
quality.at_least("naive Bayes test accuracy", acc_nb, smoke=0.7, cpu=0.8, full=0.8)
quality.at_least("logistic regression test accuracy", acc_lr, smoke=0.8, cpu=0.87, full=0.87)
quality.at_least("logistic regression − naive Bayes", acc_lr - acc_nb, cpu=0.02, full=0.02)
_ = artifacts.save_metrics(NOTEBOOK, {"acc_naive_bayes": acc_nb, "acc_logistic": acc_lr,
                                      "acc_naive_bayes_top_half": acc_nb_half,
                                      "acc_logistic_top_half": acc_lr_half, "n_train": int(N)})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Try it: smoothing and sampling
# Laplace smoothing $\alpha$ pulls every $\theta_{cm}$ towards $1/2$. Move $\alpha$ and watch
# both the samples of one digit and the test accuracy: with a large $\alpha$ the model forgets
# the data; with $\alpha \to 0$ unseen pixels get probability 0 and a single stray pixel can
# veto the right class.

# %% slideshow={"slide_type": "subslide"}
import ipywidgets as widgets


def show_alpha(digit: int = 3, log10_alpha: float = 0.0) -> None:
    a = 10.0**log10_alpha
    th = (N_cm + a) / (N_c[:, None] + 2 * a)
    acc = (BernoulliNB(alpha=a, force_alpha=True).fit(X, y).predict(X_test) == y_test).mean()
    xs = rng.random((8, M)) < th[digit]
    fig, ax = plt.subplots(1, 9, figsize=(10, 1.6))
    ax[0].imshow(th[digit].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
    ax[0].set_title("θ_y")
    for i in range(8):
        ax[i + 1].imshow(xs[i].reshape(28, 28), cmap="gray_r")
    for a_ in ax:
        a_.axis("off")
    fig.suptitle(f"α = {a:.3g}: test accuracy {acc:.3f}", y=1.05)
    plt.show()


_ = widgets.interact(show_alpha, digit=widgets.IntSlider(3, 0, 9),
                     log10_alpha=widgets.FloatSlider(0.0, min=-4, max=3, step=0.5))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises (练习)
# ### Exercise 01.1 — the log prior by counting (练习 01.1)
# The class prior by counting: return the vector $\log p(y)$, shape (10,), from the
# labels `y` alone (no `log_prior`, no scikit-learn). The check runs your function on three
# label vectors and compares with scikit-learn's `BernoulliNB`.

# %% slideshow={"slide_type": "fragment"}
def my_log_prior(y: np.ndarray) -> np.ndarray | None:
    # YOUR CODE HERE
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def my_log_prior(y: np.ndarray) -> np.ndarray | None:
    return np.log(np.bincount(y, minlength=10) / len(y))


assert np.allclose(my_log_prior(y), log_prior)   # and on our training labels it is the model's prior
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.log_prior(my_log_prior)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 01.2 — log p(x | y) of naive Bayes (练习 01.2)
# Write $\log p(\mathbf{x}\mid y=c)=\sum_m [x_m\log\theta_{cm} + (1-x_m)\log(1-\theta_{cm})]$
# for one image `x` (shape (M,)) and every class, given `theta` (shape (C, M)); return shape (C,).
# (The check compares with `scipy.stats.bernoulli` on three images and parameter tables.)

# %% slideshow={"slide_type": "fragment"}
def my_log_px_given_y(x: np.ndarray, theta: np.ndarray) -> np.ndarray | None:
    # YOUR CODE HERE
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def my_log_px_given_y(x: np.ndarray, theta: np.ndarray) -> np.ndarray | None:
    return (x * np.log(theta) + (1 - x) * np.log1p(-theta)).sum(axis=1)
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.log_px_given_y(my_log_px_given_y)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 01.3 — counting the parameters of naive Bayes (练习 01.3)
# How many free parameters does naive Bayes have with $C$ classes and $M$ binary pixels?
# And $\log_{10}$ of the number a full table $p(\mathbf{x}, y)$ would need? Return both, as a
# function of $(C, M)$. (The check builds naive Bayes as a Bayesian network $y \to x_m$ with
# `course_utils.pgm` and counts its parameters from the tables; Python's integers are exact at
# any size, so `math.log10(C * 2**M - 1)` works even for $M = 784$.)

# %% slideshow={"slide_type": "fragment"}
import math


def my_nb_counts(C: int, M: int) -> tuple[int, float] | None:
    # YOUR CODE HERE: return (free parameters of naive Bayes, log10 of the full table's)
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def my_nb_counts(C: int, M: int) -> tuple[int, float] | None:
    return (C - 1) + C * M, math.log10(C * 2**M - 1)


n_nb, log10_full = my_nb_counts(C, M)
print(f"here: {n_nb:,} parameters instead of about 10^{log10_full:.0f}")
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.naive_bayes_counts(my_nb_counts)
