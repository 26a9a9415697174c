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
# # 06 · Autoencoders (自编码器)
#
# An autoencoder learns a code $h = f(x)$ from which a decoder rebuilds $x' = g(f(x))$. This
# notebook follows the lecture's section 自编码器: the objective, **linear coding** $x = Az$ (and
# why its optimum is PCA), the lecture's **MLP** (`autoencoder1`) and **convolutional**
# (`autoencoder2`) autoencoders on MNIST, the reconstruction error against the code size, and
# why an autoencoder is **not yet a generative model**, which motivates the VAE (notebook 07).

# %% slideshow={"slide_type": "skip"}
import inspect
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_utils import artifacts, checkpoints, data, plotting, profile, quality
from course_utils.exercises import neural_models as ex
from course_utils.i18n import tr  # tr(English, Chinese): the words a figure or a line shows, in the notebook's language
from course_utils.neural.autoencoders import (
    LinearAutoencoder,
    MLPAutoencoder,
    autoencoder1,
    autoencoder2,
    pca_basis,
    subspace_cosines,
)
from course_utils.train import fit

NB = "06_autoencoders"
profile.seed_everything(0)
profile.set_cpu_threads()  # 1 torch thread on the CPU: small models, often busy cores (COURSE_THREADS=0: all)
dev = profile.device()

# %% slideshow={"slide_type": "skip"}
@dataclass(frozen=True)
class Config:
    n_train: int | None           # training digits (None: all that the data source has)
    n_test: int | None            # test digits (None: all)
    code: int                     # code size M of the linear autoencoder and of autoencoder1
    epochs_linear: int            # epochs of the linear autoencoder
    epochs_ae: int                # epochs of autoencoder1 at code size M
    epochs_conv: int              # epochs of autoencoder2
    conv_channels: int            # autoencoder2's hidden_features (its code: 196 numbers each)
    code_sizes: tuple[int, ...]   # code sizes of the error-against-code-size curve
    epochs_curve: int             # epochs of autoencoder1 at each of those code sizes
    epochs_2d: int                # epochs of the MLP autoencoder with a 2-D code
    lr: float = 3e-3              # Adam's learning rate, every autoencoder
    batch_size: int = 64          # digits per step


cfg = profile.pick(
    # seconds on 2 CPU cores: proves the notebook runs
    smoke=Config(n_train=1000, n_test=200, code=16, epochs_linear=100, epochs_ae=3, epochs_conv=1,
                 conv_channels=2, code_sizes=(2, 8, 32), epochs_curve=2, epochs_2d=3),
    # a laptop, a few minutes: the embedded 4,500 + 500 MNIST digits
    cpu=Config(n_train=None, n_test=None, code=16, epochs_linear=30, epochs_ae=50, epochs_conv=15,
               conv_channels=2, code_sizes=(2, 4, 8, 16, 32, 64, 128), epochs_curve=30,
               epochs_2d=30),
    # a GPU: full MNIST when it is under data/MNIST/raw
    full=Config(n_train=None, n_test=None, code=16, epochs_linear=30, epochs_ae=50, epochs_conv=30,
                conv_channels=2, code_sizes=(2, 4, 8, 16, 32, 64, 128), epochs_curve=50,
                epochs_2d=60),
)
cfg

# %% slideshow={"slide_type": "skip"}
train_set = data.load("mnist", "train", n=cfg.n_train)
test_set = data.load("mnist", "test", n=cfg.n_test)
x_train = train_set.images.flatten(1)          # (N, 784) in [0, 1]
x_test = test_set.images.flatten(1).to(dev)
y_test = test_set.labels
show = torch.cat([(y_test == c).nonzero()[:1, 0] for c in range(10)])   # one test digit per class
metrics: dict = {"dataset": f"{train_set.source}; {len(train_set)} train / {len(test_set)} test"}


def sq_err(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared reconstruction error per image, Σ_pixels (x − x')², averaged over the batch."""
    return ((x_hat - x) ** 2).flatten(1).sum(1).mean()


def train_autoencoder(name: str, model: torch.nn.Module, x: torch.Tensor, *, epochs: int,
                      progress: bool = True):
    """min_θ L(x, g(f(x))) with Adam; cached in a checkpoint (re-running loads it)."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def step(batch):
        (xb,) = batch
        _, x_hat = model(xb)           # en = f(x), de = g(f(x))
        loss = sq_err(x_hat, xb)       # L(x, x') = ||x − x'||²
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    key = checkpoints.key(NB, name, config=cfg, modules={"model": model}, optimizers={"opt": opt},
                          data=x)
    return fit(step, x, epochs=epochs, batch_size=cfg.batch_size, modules={"model": model},
               optimizers={"opt": opt}, checkpoint=key, desc=name, progress=progress)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Encoder, decoder, objective (编码器 + 解码器)
#
# - encoder: $h = f(x)$, the code (编码) of $x$;
# - decoder: the reconstruction $x' = g(f(x))$;
# - objective: $\min_{f, g} \; L(x, x')$, here the squared error $\lVert x - x' \rVert^2$
#   summed over pixels and averaged over the data.
#
# The aim is $x' \approx x$ — but **not** $x' = x$: the code is smaller than $x$ (降维), so the
# autoencoder must keep what matters and drop the rest.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Linear coding $x = Az$ (线性编码, 字典)
#
# With linear maps, $z = Wx + c$ and $x' = Az + b = \sum_{m=1}^{M} z_m a_m + b$: the columns
# $a_m$ of $A$ form a **dictionary**, and $z$ says how much of each atom to add.
#
# The best linear autoencoder is known in closed form: the span of $A$ is the **PCA subspace**
# (the top-$M$ principal axes of the centred data; Baldi & Hornik, 1989), and its error is PCA's.
# Gradient descent does not know this; let us train one and compare.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 06.1 — reconstruct with PCA (练习 06.1)
# Write the rank-$M$ PCA reconstruction $x' = \bar{x} + (x - \bar{x})\,U U^\top$ for a batch
# `x` (N, D), the mean `mean` (D,) and orthonormal axes `U` (D, M).

# %% slideshow={"slide_type": "fragment"}
def pca_reconstruct(x, mean, U):
    return None  # your code here


# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"}
### BEGIN SOLUTION
def pca_reconstruct(x, mean, U):
    coefficients = (x - mean) @ U          # (N, M): the coordinates along the axes
    return mean + coefficients @ U.T       # back to pixel space, mean added back
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.pca_reconstruction(pca_reconstruct)

# %% slideshow={"slide_type": "subslide"}
M = cfg.code
linear_ae = LinearAutoencoder(784, M)
hist_linear = train_autoencoder("linear", linear_ae, x_train, epochs=cfg.epochs_linear,
                                progress=False)

x_train_d = x_train.to(dev)
# PCA axes are nested (the top-m axes are the first m of the top-M), so one SVD serves all sizes
mean, U_all = pca_basis(x_train_d, max([M, *cfg.code_sizes, 196 * cfg.conv_channels]))
U = U_all[:, :M]                                                  # (784, M) orthonormal
with torch.no_grad():
    err_linear = sq_err(linear_ae(x_train_d)[1], x_train_d).item()
err_pca = sq_err(mean + (x_train_d - mean) @ U @ U.T, x_train_d).item()
print(tr(f"M = {M}: squared error per image on the training digits: "
         f"linear AE {err_linear:.3f}, PCA {err_pca:.3f} (ratio {err_linear / err_pca:.4f})",
         f"M = {M}：训练集上每张图像的平方误差："
         f"线性自编码器 {err_linear:.3f}，PCA {err_pca:.3f}（比值 {err_linear / err_pca:.4f}）"))
# PCA's error on the data it was fitted to is the sum of the discarded eigenvalues of the
# covariance (1/N Σ (x − x̄)(x − x̄)ᵀ): an independent check of the SVD behind pca_basis
eigvals = torch.linalg.eigvalsh(torch.cov(x_train_d.T.double(), correction=0)).flip(0)
print(tr(f"sum of the {784 - M} discarded eigenvalues: {eigvals[M:].sum():.3f}",
         f"舍弃的 {784 - M} 个特征值之和：{eigvals[M:].sum():.3f}"))
assert abs(err_pca - eigvals[M:].sum().item()) < 1e-3 * err_pca, "PCA error ≠ discarded variance"
# PCA is optimal among rank-M linear reconstructions, so the AE can approach it, never beat it
# (a PCA that is not the optimum, or a wrongly computed error, would let the AE beat it)
assert err_linear >= err_pca * (1 - 1e-4), "a linear AE cannot beat PCA on its training data"
quality.at_most(tr("linear AE error / PCA error (training digits)", "线性自编码器的误差 / PCA 的误差（训练集）"),
                err_linear / err_pca,
                smoke=1.05, cpu=1.05, full=1.05)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Same error — is it the same subspace? The **principal angles** between span$(A)$ and the PCA
# subspace answer that (cosine 1: the same direction). The directions with the largest variance
# agree at once; the last few converge slowly, because swapping variance between nearly equal
# eigen-directions hardly changes the loss.

# %% slideshow={"slide_type": "fragment"}
with torch.no_grad():
    cosines = subspace_cosines(linear_ae.dictionary, U).cpu()
# the energy of span(A) that lies in the PCA subspace: mean squared cosine
overlap = (cosines ** 2).mean().item()
print(tr(f"mean squared cosine of the principal angles: {overlap:.3f}", f"主角度余弦平方的平均值：{overlap:.3f}"))
# a random M-dimensional subspace would give about M/784 = 0.02
quality.at_least(tr("mean squared cosine, span(A) vs PCA", "余弦平方的平均值，span(A) 与 PCA"), overlap,
                 smoke=0.8, cpu=0.8, full=0.8)
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(np.arange(1, M + 1), cosines.numpy())
ax.set_xlabel(tr("principal angle (largest cosine first)", "主角度（余弦从大到小）"))
ax.set_ylabel(tr("cos θ between span(A) and PCA", "span(A) 与 PCA 之间的 cos θ"))
ax.set_ylim(0, 1.05)
ax.set_title(tr(f"linear AE vs PCA, M = {M}", f"线性自编码器与 PCA，M = {M}"))
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The dictionary atoms as images
# The atoms $a_m$ of the linear AE span the same space as the principal axes but are a **mixed**
# basis: any invertible $R$ gives the same reconstruction with $A R$ and $R^{-1} z$. PCA picks
# the orthonormal basis ordered by variance; the autoencoder's loss does not care which.

# %% slideshow={"slide_type": "fragment"}
def as_images(columns: torch.Tensor) -> torch.Tensor:
    """(784, M) columns → M images in [0, 1], each scaled symmetrically around 0.5."""
    a = columns.T.detach().cpu()
    a = a / a.abs().amax(1, keepdim=True).clamp_min(1e-12)
    return (0.5 + 0.5 * a).reshape(-1, 1, 28, 28)


fig, axes = plt.subplots(2, 1, figsize=(8, 2.6))
plotting.image_grid(as_images(linear_ae.dictionary), nrow=M, ax=axes[0],
                    title=tr("linear autoencoder: dictionary atoms a_m (gray = 0)", "线性自编码器：字典的原子 a_m（灰色 = 0）"))
plotting.image_grid(as_images(U), nrow=M, ax=axes[1], title=tr("PCA: principal axes u_m", "PCA：主轴 u_m"))
plt.show()
plotting.savefig(fig, NB, "linear_dictionary")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The lecture's MLP autoencoder: `autoencoder1`
# One hidden layer: $h = \mathrm{ReLU}(W_1 x + b_1)$, $x' = \mathrm{sigmoid}(W_2 h + b_2)$, so
# $x' \in (0, 1)$ like the pixels. It is non-linear, but is it better than PCA at the same
# code size? (PCA's error is printed beside it.)

# %% slideshow={"slide_type": "fragment"}
print(inspect.getsource(autoencoder1))

# %% slideshow={"slide_type": "subslide"}
ae1 = autoencoder1(784, M)
hist_ae1 = train_autoencoder(f"ae1_h{M}", ae1, x_train, epochs=cfg.epochs_ae)
with torch.no_grad():
    en, de = ae1(x_test)
    err_ae1 = sq_err(de, x_test).item()
err_pca_test = sq_err(mean + (x_test - mean) @ U @ U.T, x_test).item()
print(tr(f"test squared error per image, code size {M}: autoencoder1 {err_ae1:.2f}, PCA {err_pca_test:.2f}",
         f"测试集上每张图像的平方误差，编码长度 {M}：autoencoder1 {err_ae1:.2f}，PCA {err_pca_test:.2f}"))
metrics.update(ae1_code=M, ae1_test_sq_err=err_ae1, pca_test_sq_err=err_pca_test,
               ae1_train_seconds=hist_ae1.seconds)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw=dict(width_ratios=[1, 1.6]))
plotting.plot_history(hist_ae1, ["loss"], per="epoch", ax=axes[0], labels={"loss": tr("loss", "损失")},
                      title=tr("autoencoder1: training loss", "autoencoder1：训练损失"))
axes[0].set_ylabel(tr("squared error per image", "每张图像的平方误差"))
plotting.image_grid(torch.cat([x_test[show], de[show]]).reshape(-1, 1, 28, 28).cpu(), nrow=10,
                    ax=axes[1], row_labels=["x", "x'"],
                    title=tr(f"test digits and reconstructions (code size {M})", f"测试数字及其重建（编码长度 {M}）"))
plt.show()
plotting.savefig(fig, NB, "ae1_reconstructions")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The lecture's convolutional autoencoder: `autoencoder2`
# Encoder: 3×3 convolution → ReLU → 2×2 max-pooling; decoder: a stride-2 transposed convolution
# (doubles the size) → ReLU → 3×3 transposed convolution → **Tanh**. Tanh outputs lie in
# $(-1, 1)$, so the images are rescaled to $[-1, 1]$ for this model.

# %% slideshow={"slide_type": "fragment"}
print(inspect.getsource(autoencoder2))

# %% [markdown] slideshow={"slide_type": "subslide"}
# > **Pitfall (lecture slide "自编码器 – PyTorch实现示例一瞥").** `autoencoder2` keeps a
# > 14×14 feature map per channel, so its code has $196 \cdot$ `hidden_features` numbers: with 4
# > or more channels the "code" is **as large as the 784-pixel input** and need not compress at
# > all (the slide also repeats a ReLU after the max-pooling, which changes nothing). We use two
# > channels, a code of 392 numbers: half the pixels.

# %% slideshow={"slide_type": "subslide"}
C = cfg.conv_channels
ae2 = autoencoder2(1, C)
x_train_pm = train_set.images * 2 - 1                     # [0, 1] → [-1, 1] for Tanh
hist_ae2 = train_autoencoder(f"ae2_c{C}", ae2, x_train_pm, epochs=cfg.epochs_conv)
x_test_img = test_set.images.to(dev)
with torch.no_grad():
    en2, de2 = ae2(x_test_img * 2 - 1)
de2 = (de2 + 1) / 2                                         # back to [0, 1]
err_ae2 = sq_err(de2, x_test_img).item()
U_code = U_all[:, :en2[0].numel()]                           # PCA with as many numbers as the code
err_pca_code = sq_err(mean + (x_test - mean) @ U_code @ U_code.T, x_test).item()
print(tr(f"code shape {tuple(en2.shape[1:])} = {en2[0].numel()} numbers; test squared error per "
         f"image {err_ae2:.2f} (PCA with {en2[0].numel()} components: {err_pca_code:.2f})",
         f"编码的形状 {tuple(en2.shape[1:])} = {en2[0].numel()} 个数；测试集上每张图像的平方误差 "
         f"{err_ae2:.2f}（取 {en2[0].numel()} 个主成分的 PCA：{err_pca_code:.2f}）"))
metrics.update(ae2_code=en2[0].numel(), ae2_test_sq_err=err_ae2, pca_ae2_size_test_sq_err=err_pca_code)
fig = plotting.image_grid(torch.cat([x_test_img[show], de2[show]]).cpu(), nrow=10,
                          row_labels=["x", "x'"],
                          title=tr("autoencoder2: test digits and reconstructions", "autoencoder2：测试数字及其重建"))
plt.show()
plotting.savefig(fig, NB, "ae2_reconstructions")

# %% [markdown] slideshow={"slide_type": "fragment"}
# The reconstructions look almost perfect — because the code is large, not because the model is
# clever: PCA keeping as many numbers (392 components) has an even smaller error (at `cpu`: 0.3
# against `autoencoder2`'s 4.0 per image).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 06.2 — the size of the code of autoencoder2 (练习 06.2)
# For a `side`×`side` image with one channel and `hidden_features` channels in the code, how many
# numbers are in `autoencoder2`'s code `en`? Work it out from the layers (the check compares with
# running the model on several sizes).

# %% slideshow={"slide_type": "fragment"}
def code_size(side, hidden_features):
    return None  # your code here


# %% jupyter={"source_hidden": true} slideshow={"slide_type": "skip"}
### BEGIN SOLUTION
def code_size(side, hidden_features):
    # Conv2d(3, padding=1) keeps side × side; MaxPool2d(2) halves each side; one map per channel
    return hidden_features * (side // 2) * (side // 2)


assert code_size(28, C) == en2[0].numel()  # the model trained above
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.code_size(code_size)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Reconstruction error against the code size (降维)
# A bigger code keeps more of $x$. For each code size $M$ we train `autoencoder1` and compare
# with PCA using $M$ components (the best *linear* code).

# %% slideshow={"slide_type": "subslide"}
curve = {"M": [], "autoencoder1": [], "PCA": []}
for m in cfg.code_sizes:
    model = autoencoder1(784, m)
    train_autoencoder(f"ae1_h{m}_curve", model, x_train, epochs=cfg.epochs_curve,
                      progress=False)
    U_m = U_all[:, :m]
    with torch.no_grad():
        curve["autoencoder1"].append(sq_err(model(x_test)[1], x_test).item())
    curve["PCA"].append(sq_err(mean + (x_test - mean) @ U_m @ U_m.T, x_test).item())
    curve["M"].append(m)
    print(f"M = {m:4d}: autoencoder1 {curve['autoencoder1'][-1]:7.2f}   PCA {curve['PCA'][-1]:7.2f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(curve["M"], curve["autoencoder1"], "o-", label=tr("autoencoder1 (trained)", "autoencoder1（训练所得）"))
ax.plot(curve["M"], curve["PCA"], "s--", label=tr("PCA (optimal linear)", "PCA（最优的线性编码）"))
ax.set_xscale("log", base=2)
ax.set_xlabel(tr("code size M", "编码长度 M"))
ax.set_ylabel(tr("test squared error per image", "测试集上每张图像的平方误差"))
ax.set_title(tr("reconstruction error against code size", "重建误差与编码长度"))
ax.legend()
ax.grid(alpha=0.3)
plt.show()
plotting.savefig(fig, NB, "error_vs_code_size")
worse = [m for m, a, p in zip(curve["M"], curve["autoencoder1"], curve["PCA"]) if a > p]
better = [m for m in curve["M"] if m not in worse]
print(tr(f"autoencoder1 is worse than PCA at M = {worse}, better at M = {better}",
         f"autoencoder1 在 M = {worse} 时比 PCA 差，在 M = {better} 时比 PCA 好"))
metrics.update(ae1_worse_than_pca_at=str(worse), ae1_better_than_pca_at=str(better))
# the largest code: autoencoder1 must at least have learnt to use it (an untrained or broken one
# is many times worse than PCA there). Measured at cpu: 1.00 at M = 128; target 1.3.
quality.at_most(tr(f"autoencoder1 / PCA test error at M = {curve['M'][-1]}",
                   f"M = {curve['M'][-1]} 时 autoencoder1 / PCA 的测试误差"),
                curve["autoencoder1"][-1] / curve["PCA"][-1], cpu=1.3, full=1.3)

# %% [markdown] slideshow={"slide_type": "fragment"}
# Read the curve as it is: non-linear does not mean better. Up to $M = 32$ the lecture's
# `autoencoder1` is *worse* than PCA (at `cpu`: 49.6 against 43.7 at $M = 2$, 26.3 against 21.3
# at $M = 16$); it catches up around $M = 64$ (6.5 against 7.4) and ties at $M = 128$. Its code
# is a ReLU output: non-negative, with about half of the coordinates exactly 0 for a given
# digit, so it uses its $M$ numbers less well than PCA's signed coordinates; and one linear
# layer each way is little non-linearity. A deeper encoder and decoder with a linear code does
# beat PCA (the 2-D autoencoder below: about 20% less error than PCA with 2 components).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why an autoencoder is not (yet) a generative model
# To *generate*, we would pick a code and decode it. But which codes? The autoencoder never said
# how codes are distributed. Try codes drawn at random (Gaussian, independent coordinates) with
# the same per-coordinate mean and spread as the codes of real digits:

# %% slideshow={"slide_type": "subslide"}
gen = torch.Generator().manual_seed(0)
with torch.no_grad():
    h_train = ae1.encoder(x_train_d)
    h_rand = (h_train.mean(0) + h_train.std(0) * torch.randn(24, M, generator=gen).to(dev))
    x_rand = ae1.decoder(h_rand.clamp_min(0))                 # codes are ReLU outputs ≥ 0
print(tr(f"codes of real digits: {100 * (h_train == 0).float().mean():.0f}% of the coordinates "
         "are exactly 0 (ReLU) — the codes live on a thin, structured set",
         f"真实数字的编码：{100 * (h_train == 0).float().mean():.0f}% 的坐标恰好是 0（ReLU）"
         "——编码落在一个很薄、有结构的集合上"))
fig = plotting.image_grid(x_rand.reshape(-1, 1, 28, 28).cpu(), nrow=12,
                          title=tr("autoencoder1: decoding random codes", "autoencoder1：解码随机的编码"))
plt.show()
plotting.savefig(fig, NB, "random_codes")

# %% [markdown] slideshow={"slide_type": "fragment"}
# Some look like digits, many are blobs or hybrids. And we had to *invent* the distribution of
# the codes ourselves, from the training codes: the model does not define one, so it has no
# $p(x)$ to sample from or to evaluate.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Gaps in the latent space: a 2-D code
# An MLP autoencoder with a 2-D code (784–256–2–256–784) lets us see the code space. Each
# test digit is a point, coloured by its class; the decoder evaluated on a grid over the same
# square shows what the codes *between* the clusters mean.

# %% slideshow={"slide_type": "subslide"}
ae_2d = MLPAutoencoder(784, 256, 2)
train_autoencoder("mlp_2d", ae_2d, x_train, epochs=cfg.epochs_2d)
with torch.no_grad():
    z_test = ae_2d.encoder(x_test)
    err_2d = sq_err(ae_2d.decoder(z_test), x_test).item()
    z_test = z_test.cpu()
err_pca2 = sq_err(mean + (x_test - mean) @ U_all[:, :2] @ U_all[:, :2].T, x_test).item()
print(tr(f"2-D code: test squared error per image {err_2d:.2f} (PCA with 2 components {err_pca2:.2f})",
         f"二维编码：测试集上每张图像的平方误差 {err_2d:.2f}（取 2 个主成分的 PCA：{err_pca2:.2f}）"))
# the deeper non-linear autoencoder beats the best linear code of the same size (measured at cpu:
# 0.79; target 0.9)
quality.at_most(tr("2-D MLP autoencoder / PCA(2) test error", "二维 MLP 自编码器 / PCA(2) 的测试误差"),
                err_2d / err_pca2, cpu=0.9, full=0.9)
metrics.update(mlp2d_test_sq_err=err_2d, pca2_test_sq_err=err_pca2)
lo, hi = z_test.quantile(0.01, 0).tolist(), z_test.quantile(0.99, 0).tolist()
n_grid = 15
g1, g2 = torch.linspace(lo[0], hi[0], n_grid), torch.linspace(hi[1], lo[1], n_grid)
zz2, zz1 = torch.meshgrid(g2, g1, indexing="ij")   # row i: z₂ = g2[i] (top = high), column j: z₁
z_grid = torch.stack([zz1, zz2], -1).reshape(-1, 2)
with torch.no_grad():
    x_grid = ae_2d.decoder(z_grid.to(dev)).reshape(-1, 1, 28, 28).cpu()

fig, axes = plt.subplots(1, 2, figsize=(11, 5))
sc = axes[0].scatter(z_test[:, 0], z_test[:, 1], c=y_test, cmap="tab10", s=8)
axes[0].set_xlim(lo[0], hi[0])
axes[0].set_ylim(lo[1], hi[1])
axes[0].set_xlabel("z₁")
axes[0].set_ylabel("z₂")
axes[0].set_title(tr("2-D codes of test digits, coloured by class", "测试数字的二维编码，按类别着色"))
fig.colorbar(sc, ax=axes[0], ticks=range(10), label=tr("digit", "数字"))
plotting.image_grid(x_grid, nrow=n_grid, ax=axes[1],
                    title=tr("decoder on a grid over the same square", "在同一正方形的网格上解码"))
plt.show()
plotting.savefig(fig, NB, "latent_2d")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The codes form separate, oddly shaped clusters with empty space between them, and the decoder
# is only trained where data fall. Between the clusters it decodes to hybrids (a 1 growing into
# an 8, a 5 melting into a 9), and the codes are spread over a range that no simple distribution
# describes (the 1s far out at $z_2 \approx 10$, most other classes crowded near the origin). Nothing in the objective $\min L(x, x')$ asks the codes to fill a known
# region. The **variational autoencoder** (notebook 07) adds exactly this: a prior $p(z)$, an
# encoder that outputs a *distribution* $q(z \mid x)$, and a KL term that pulls it towards the prior.

# %% slideshow={"slide_type": "skip"}
# how much of the square the test codes cover: fraction of 15×15 grid cells with no test code
cells = ((z_test - torch.tensor(lo)) / (torch.tensor(hi) - torch.tensor(lo)) * n_grid).long()
cells = cells.clamp(0, n_grid - 1)
occupied = len({(int(a), int(b)) for a, b in cells})
metrics.update(latent2d_empty_cells_fraction=1 - occupied / n_grid ** 2)
print(tr(f"{100 * (1 - occupied / n_grid ** 2):.0f}% of the grid cells contain no test code",
         f"{100 * (1 - occupied / n_grid ** 2):.0f}% 的网格单元里没有任何测试编码"))
artifacts.save_samples(NB, x_rand.reshape(-1, 1, 28, 28))
artifacts.save_metrics(NB, metrics)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
# - An autoencoder learns $f$ and $g$ with $g(f(x)) \approx x$ through a small code.
# - Linear coding $x = Az$: the optimal dictionary spans the PCA subspace (checked: same error,
#   same subspace up to a mixing of the atoms).
# - Non-linear is not automatically better: the lecture's `autoencoder1` (one ReLU layer each
#   way) reconstructs *worse* than PCA for codes up to $M = 32$ and only matches it from
#   $M = 64$ on; a deeper MLP with a linear code beats PCA (2-D code: about 20% less error,
#   asserted). `autoencoder2` reconstructs well because its code is large (392 numbers, half the
#   pixels), not because it compresses better: PCA with 392 components does better still.
# - For every model the error falls as the code grows.
# - The code space has no known distribution, with gaps between classes: decoding random codes
#   does not give digits. → **07 · the variational autoencoder**.
