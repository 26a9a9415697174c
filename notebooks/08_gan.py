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
# # 08 · Generative adversarial networks (生成对抗网络, GAN)
# A generator G and a discriminator D play a minimax game; we write their two-step training
# loop, train an MLP GAN on handwritten digits (the lecture's `demo_gan_mnist`), and then show,
# on a 2-D toy, the two difficulties the lecture names: **mode collapse (模式崩溃)** and
# **instability (不稳定性)**. Lecture section "2 GAN".

# %% slideshow={"slide_type": "skip"}
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from course_utils import artifacts, checkpoints, data, evaluation, metrics, plotting, profile, quality
from course_utils.exercises import neural_models as ex
from course_utils.i18n import tr  # tr(English, Chinese): the words a figure or a line shows, in the notebook's language
from course_utils.neural import gan
from course_utils.train import fit

NB = "08_gan"
profile.seed_everything(0)
profile.set_cpu_threads()  # 1 torch thread on the CPU: small models, often busy cores (COURSE_THREADS=0: all)
device = profile.device()


@dataclass(frozen=True)
class Config:
    n_train: int | None      # training digits (None: all that the data source has)
    epochs: int              # epochs of the MLP GAN on digits
    mog_epochs: int          # epochs of each GAN on the 2-D mixture
    mog_n: int               # points in the 2-D mixture's training set
    batch_size: int = 64     # digits per step
    z_dim: int = 64          # latent size of the digit GAN
    lr: float = 5e-4         # Adam, both players, on digits


cfg = profile.pick(
    smoke=Config(n_train=512, epochs=2, mog_epochs=3, mog_n=2048),
    cpu=Config(n_train=None, epochs=40, mog_epochs=40, mog_n=16384),
    full=Config(n_train=None, epochs=150, mog_epochs=60, mog_n=16384),
)
cfg

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Two networks (生成网络 G 与判别网络 D)
# - **Generator G** (生成网络): draws a latent $z \sim p_z = \mathcal N(0, I)$ and maps it to a
#   sample $x_f = G(z)$. Like the decoder of an autoencoder, but no encoder is trained with it.
# - **Discriminator D** (判别网络): a binary classifier. Real samples $x_r \sim p_r$ get the
#   label **1 (真)**, generated samples $x_f = G(z)$ the label **0 (假)**; $D(x)$ is the
#   probability that $x$ is real.
#
# Our discriminators return a *logit* $a$ with $D(x) = \sigma(a)$; losses are computed from the
# logit (`binary_cross_entropy_with_logits`), which is the same function but never takes
# $\log 0$.

# %% [markdown] slideshow={"slide_type": "subslide"}
# > **Pitfall (lecture slide "生成网络(Generator)")** The slide writes "sample the latent
# > $x \sim p_z(\cdot)$" and "$x \sim p_g(x|z)$". The latent is $z \sim p_z$, and $G$ is a
# > *deterministic* network: $x = G(z)$, so $p_g(x \mid z)$ is a point mass. The model
# > distribution $p_g(x)$ is only *implicit* (the push-forward of $p_z$ through $G$): we can
# > sample it, but, unlike a VAE or a GMM, we cannot evaluate its density. That is why GANs are
# > evaluated with sample-based metrics (below: a classifier's Fréchet distance).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The minimax game (极小极大问题)
# $$\min_G \max_D \; V(D, G) = \mathbb E_{x_r \sim p_r}[\log D(x_r)]
#   + \mathbb E_{z \sim p_z}[\log(1 - D(G(z)))]$$
# One training step alternates two moves:
# 1. **D step**: maximise $\log D(x_r) + \log(1 - D(G(z)))$, i.e. minimise the binary
#    cross-entropy with labels real = 1, fake = 0 (G is frozen: `x_f.detach()`).
# 2. **G step**: make D call the fakes real. The minimax G would minimise
#    $\log(1 - D(G(z)))$; in practice we use the **non-saturating** loss
#    $-\log D(G(z))$ (Goodfellow et al. 2014), the cross-entropy with the *real* label 1.
#
# For a fixed G the best discriminator is $D^*(x) = p_r(x)/(p_r(x) + p_g(x))$, and then
# $V(D^*, G) = 2\,\mathrm{JS}(p_r \| p_g) - \log 4$: G minimises a Jensen-Shannon divergence.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 08.1 — the loss of the discriminator (练习 08.1)
# Write the discriminator loss from probabilities $D(x_r)$ and $D(x_f)$ (tensors of
# numbers in (0, 1)): the mean of $-[\log D(x_r) + \log(1 - D(x_f))]$.

# %% slideshow={"slide_type": "fragment"}
def discriminator_loss(D_real, D_fake):
    return None  # your code here


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def discriminator_loss(D_real, D_fake):
    # real samples carry the label 1: log D(x_r); fakes the label 0: log(1 − D(x_f))
    return -(torch.log(D_real) + torch.log(1 - D_fake)).mean()
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.discriminator_loss(discriminator_loss)

# %% slideshow={"slide_type": "subslide"}
def d_loss(logit_real: torch.Tensor, logit_fake: torch.Tensor) -> torch.Tensor:
    """-[log D(x_r) + log(1 - D(x_f))], averaged: BCE with labels real = 1, fake = 0."""
    return (F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
            + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))


def g_loss(logit_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss -log D(G(z)): BCE of the fakes with the *real* label."""
    return F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))


# the BCE form is the objective written above
a_r, a_f = torch.randn(5), torch.randn(5)
D_r, D_f = torch.sigmoid(a_r), torch.sigmoid(a_f)
assert torch.allclose(d_loss(a_r, a_f), -(torch.log(D_r) + torch.log(1 - D_f)).mean(), atol=1e-6)
assert torch.allclose(g_loss(a_f), -torch.log(D_f).mean(), atol=1e-6)


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why the non-saturating loss (非饱和损失)
# Early in training D easily spots the fakes: $D(G(z)) \approx 0$. The gradient that reaches
# G passes through D's logit $a$; with $D = \sigma(a)$,
# $\frac{\partial}{\partial a}\log(1-\sigma(a)) = -\sigma(a) = -D$ (vanishes as $D \to 0$) while
# $\frac{\partial}{\partial a}[-\log\sigma(a)] = -(1-D)$ (largest as $D \to 0$). Both push the
# same way; only the second one still pushes when G is bad. Computed with autograd:

# %% slideshow={"slide_type": "fragment"}
D_fake = torch.linspace(0.001, 0.999, 200)
a = torch.logit(D_fake).requires_grad_(True)
grad_minimax = torch.autograd.grad(torch.log(1 - torch.sigmoid(a)).sum(), a)[0]  # G minimises this
grad_nonsat = torch.autograd.grad((-torch.log(torch.sigmoid(a))).sum(), a)[0]    # G minimises this
assert torch.allclose(grad_minimax, -D_fake, atol=1e-5)
assert torch.allclose(grad_nonsat, -(1 - D_fake), atol=1e-5)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(D_fake, grad_minimax.abs(), label=tr(r"minimax: $\log(1-D(G(z)))$", r"极小极大：$\log(1-D(G(z)))$"))
ax.plot(D_fake, grad_nonsat.abs(), label=tr(r"non-saturating: $-\log D(G(z))$", r"非饱和损失：$-\log D(G(z))$"))
ax.axvspan(0, 0.1, color="grey", alpha=0.2)
ax.text(0.012, 0.5, tr("early training:\nD rejects fakes", "训练初期：\nD 拒绝假样本"), fontsize=8)
ax.set_xlabel("D(G(z))")
ax.set_ylabel(tr("|∂ loss / ∂ logit|", "|∂ 损失 / ∂ logit|"))
ax.set_title(tr("Gradient that reaches G", "传到 G 的梯度"))
ax.legend()
plotting.savefig(fig, NB, "nonsaturating_gradient")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The training step (训练步骤), written once
# `fit` (course_utils.train) does the batching, progress bar, checkpoints and resume; it calls
# `step(batch)` for each mini-batch of real data. The step below *is* the GAN algorithm.

# %% slideshow={"slide_type": "fragment"}
def make_gan_step(G, D, opt_G, opt_D, z_dim, g_steps=1):
    """One alternating D/G update on a batch of real samples; returns the two losses.

    g_steps > 1 gives G several updates per D update (used below to provoke mode collapse).
    """

    def step(batch):
        (x_r,) = batch
        n = x_r.shape[0]
        x_f = G(torch.randn(n, z_dim, device=x_r.device))
        # D step: maximise log D(x_r) + log(1 - D(G(z)))  (G frozen by detach)
        loss_D = d_loss(D(x_r), D(x_f.detach()))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        # G step (non-saturating): minimise -log D(G(z)) through the updated D
        for i in range(g_steps):
            if i > 0:
                x_f = G(torch.randn(n, z_dim, device=x_r.device))
            loss_G = g_loss(D(x_f))
            opt_G.zero_grad()
            loss_G.backward()
            opt_G.step()
        return {"loss_D": loss_D.item(), "loss_G": loss_G.item()}

    return step


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Handwritten digits (手写数字生成器)
# An MLP G (64 → 128 → 256 → 512 → 784, batch norm, ReLU, tanh output) and an MLP D
# (784 → 512 → 256 → 1, LeakyReLU, dropout 0.3: a D that memorises the 4,500 training digits
# would win too easily). The digits are rescaled from [0, 1] to [-1, 1] to match G's tanh.

# %% slideshow={"slide_type": "fragment"}
train = data.load("mnist", split="train", n=cfg.n_train)
test = data.load("mnist", split="test")
x_train = gan.to_tanh_range(train.images)

torch.manual_seed(0)
G = gan.MLPGenerator(z_dim=cfg.z_dim, x_shape=(1, 28, 28), hidden=(128, 256, 512),
                     batch_norm=True)
D = gan.MLPDiscriminator(x_shape=(1, 28, 28), hidden=(512, 256), dropout=0.3)
opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
opt_D = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
z_fixed = torch.randn(32, cfg.z_dim, generator=torch.Generator().manual_seed(1)).to(device)
snapshots = {}  # epoch -> samples G(z_fixed), to watch training


def snapshot(epoch, history):
    if (epoch + 1) in snap_epochs:
        G.eval()
        with torch.no_grad():
            snapshots[epoch + 1] = gan.to_unit_range(G(z_fixed)).cpu()
        G.train()


snap_epochs = sorted({1, max(1, cfg.epochs // 10), max(1, cfg.epochs // 3), cfg.epochs})
key = checkpoints.key(NB, "mlp_gan", config=cfg, modules={"G": G, "D": D},
                      optimizers={"G": opt_G, "D": opt_D}, data=x_train)
history = fit(make_gan_step(G, D, opt_G, opt_D, cfg.z_dim), x_train,
              epochs=cfg.epochs, batch_size=cfg.batch_size,
              modules={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D},
              checkpoint=key, desc="MLP GAN", on_epoch_end=snapshot)
train_seconds = history.seconds
print(tr(f"training time {train_seconds:.0f} s ({history.resumed_from} epochs loaded from checkpoint)",
         f"训练用时 {train_seconds:.0f} 秒（从检查点载入了 {history.resumed_from} 个迭代周期）"))

# %% slideshow={"slide_type": "subslide"}
fig, ax = plt.subplots(figsize=(7, 3.5))
plotting.plot_history(history, ["loss_D", "loss_G"], per="step",
                      smooth=min(50, len(history.steps["loss_D"])), ax=ax,
                      title=tr("MLP GAN losses (moving average)", "MLP GAN 的损失（滑动平均）"))
ax.axhline(2 * np.log(2), ls="--", c="k", lw=0.8)
ax.text(1, 2 * np.log(2) + 0.05, tr("loss_D at equilibrium: 2 log 2", "均衡时的 loss_D：2 log 2"), fontsize=8)
ax.set_ylabel(tr("loss", "损失"))
plotting.savefig(fig, NB, "mlp_gan_losses")
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# Unlike a classifier's loss, neither GAN loss falls to zero: each player's loss depends on the
# other. At the game's equilibrium D(x) = 1/2 everywhere, so loss_D = 2 log 2 ≈ 1.39 and
# loss_G = log 2 ≈ 0.69. A loss_D near 0 means D wins (G gets no useful signal).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Samples over training (same $z$ at every snapshot; cached runs show only the last one)

# %% slideshow={"slide_type": "fragment"}
if not snapshots:  # loaded from a finished checkpoint: only the final model exists
    with torch.no_grad():
        snapshots[cfg.epochs] = gan.to_unit_range(G(z_fixed)).cpu()
fig, axes = plt.subplots(1, len(snapshots), figsize=(3.2 * len(snapshots), 1.9), squeeze=False)
for ax, (ep, imgs) in zip(axes[0], snapshots.items()):
    plotting.image_grid(imgs[:32], nrow=8, ax=ax, title=tr(f"epoch {ep}", f"第 {ep} 个迭代周期"))
fig.tight_layout()
plotting.savefig(fig, NB, "mlp_gan_samples_over_training")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### How good are the samples? A classifier's Fréchet distance
# The GAN has no likelihood. We embed real test digits and generated digits with an
# **evaluation classifier** (a small CNN trained once on the real training digits,
# `course_utils.evaluation`) and compare the two Gaussians fitted to the features:
# $\mathrm{FD} = \|\mu_r - \mu_g\|^2 + \mathrm{Tr}(\Sigma_r + \Sigma_g - 2(\Sigma_r\Sigma_g)^{1/2})$.
# Real training digits against real test digits give the **floor** (finite-sample noise).

# %% slideshow={"slide_type": "fragment"}
clf = evaluation.evaluation_classifier()
# as many samples as real test digits (a dry run only checks the code path: at most 1,000)
n_eval = min(len(test.images), 1000) if profile.dry_run() else len(test.images)
test_images = test.images[:n_eval]
with torch.no_grad():
    samples = gan.to_unit_range(G(torch.randn(n_eval, cfg.z_dim, device=device))).cpu()
real_ref = data.load("mnist", split="train", n=n_eval, seed=1).images
fid = metrics.classifier_fid(clf.model, samples, test_images)
fid_floor = metrics.classifier_fid(clf.model, real_ref, test_images)
fid_noise = metrics.classifier_fid(clf.model, torch.rand_like(samples), test_images)
pred = evaluation.classifier_predict(clf.model, samples)
class_freq = torch.bincount(pred, minlength=10).float() / len(pred)
print(tr(f"classifier test accuracy   {clf.test_accuracy:.3f}", f"分类器的测试准确率 {clf.test_accuracy:.3f}"))
print(tr(f"classifier-FID GAN vs test {fid:.2f}   (real train vs test: {fid_floor:.2f}; "
         f"uniform noise: {fid_noise:.1f})",
         f"GAN 样本与测试集的分类器 FID {fid:.2f}（真实训练集与测试集：{fid_floor:.2f}；"
         f"均匀噪声：{fid_noise:.1f}）"))
print(tr("predicted class frequencies of the samples:", "样本被预测为各个类别的频率："), np.round(class_freq.numpy(), 2))

# %% slideshow={"slide_type": "subslide"}
fig = plotting.image_grid(samples[:64], nrow=16, title=tr("MLP GAN: final samples", "MLP GAN：最终的样本"))
plotting.savefig(fig, NB, "mlp_gan_final_samples")
artifacts.save_samples(NB, samples)
artifacts.save_metrics(NB, {
    "classifier_fid": fid, "classifier_fid_real_floor": fid_floor, "classifier_fid_noise": fid_noise,
    "classifier_test_accuracy": clf.test_accuracy, "train_seconds": train_seconds,
    "min_class_frequency": float(class_freq.min()),
})
# Measured at cpu (500 samples against the 500 embedded test digits): FID 47.4, real-vs-real
# floor 4.6 (ratio 10.3), uniform noise 763; rarest class 5.2% of the samples. GAN training is
# chaotic, so the cpu targets leave a factor 2. At full the floor (10,000 vs 10,000) is far
# smaller, so the full targets compare with noise instead.
quality.at_most(tr("classifier-FID / real-vs-real floor", "分类器 FID / 真实对真实的下限"), fid / fid_floor, cpu=20)
quality.at_most(tr("classifier-FID / uniform-noise FID", "分类器 FID / 均匀噪声的 FID"), fid / fid_noise,
                cpu=0.25, full=0.25)
quality.at_least(tr("rarest digit class among the samples", "样本中最少见的数字类别所占的比例"), class_freq.min(),
                 cpu=0.02, full=0.02)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Difficulties (存在的困难): a 2-D mixture of 8 Gaussians
# Eight Gaussians ($\sigma = 0.02$) on a circle of radius 2. With 2-D data we can *count*:
# a sample is **high quality** when it lies within $3\sigma$ of a mode, and a mode is
# **covered** when it receives at least 1% of the samples
# (`course_utils.neural.gan.mode_coverage`, as in Metz et al. 2017).

# %% slideshow={"slide_type": "fragment"}
centers = gan.mixture_centers(8, layout="ring", radius=2.0)
STD = 0.02
x_mog, _ = gan.sample_mixture(cfg.mog_n, centers, STD,
                              generator=torch.Generator().manual_seed(0))
real_cov = gan.mode_coverage(x_mog[:2000], centers, STD)
print(tr("real data:", "真实数据："), {k: v for k, v in real_cov.items() if k != "counts"})
z_eval = torch.randn(2000, 2, generator=torch.Generator().manual_seed(2)).to(device)


@dataclass(frozen=True)
class MogRun:
    lr: float = 1e-3   # Adam, both players
    g_steps: int = 1   # G updates per D update (5: G plays against a nearly fixed D)
    pack: int = 1      # samples D judges at once (2: PacGAN)
    seed: int = 0      # initialisation and shuffling


def train_mog(run: MogRun, name: str):
    """Train a 2-D GAN with the same `make_gan_step`; track mode coverage after each epoch."""
    torch.manual_seed(run.seed)
    G2 = gan.MLPGenerator(z_dim=2, x_shape=(2,), hidden=(128, 128), out="linear")
    D2 = gan.MLPDiscriminator(x_shape=(2,), hidden=(128, 128), pack=run.pack)
    oG = torch.optim.Adam(G2.parameters(), lr=run.lr, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D2.parameters(), lr=run.lr, betas=(0.5, 0.999))
    track = {"modes": [], "hq": [], "samples": {}}

    def on_epoch_end(epoch, history):
        with torch.no_grad():
            s = G2(z_eval).cpu()
        cov = gan.mode_coverage(s, centers, STD)
        track["modes"].append(cov["modes_covered"])
        track["hq"].append(cov["high_quality_fraction"])
        track["samples"][epoch + 1] = s

    hist = fit(make_gan_step(G2, D2, oG, oD, 2, run.g_steps), x_mog, epochs=cfg.mog_epochs,
               batch_size=256, modules={"G": G2, "D": D2}, optimizers={"G": oG, "D": oD},
               seed=run.seed, desc=name, on_epoch_end=on_epoch_end, progress=False)
    track["last"] = track["samples"][max(track["samples"])]   # the final samples
    return hist, track


balanced = MogRun()                          # the 1 : 1 game
collapse = replace(balanced, g_steps=5)      # provoked mode collapse: G 5 : 1 D
pacgan = replace(collapse, pack=2)           # the same, with a packing discriminator
hot = replace(balanced, lr=1e-2)             # a 10× larger learning rate


def scatter(ax, s, title):
    ax.scatter(x_mog[:1000, 0], x_mog[:1000, 1], s=2, c="tab:blue", alpha=0.3, label=tr("real", "真实数据"))
    ax.scatter(s[:1000, 0], s[:1000, 1], s=2, c="tab:red", alpha=0.5, label="G(z)")
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title, fontsize=9)


# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Mode collapse (模式崩溃), provoked
# Goodfellow (2016) explains collapse by the order of the game: $\min_G\max_D$ needs D to
# (nearly) win each round. If instead G is optimised against a *fixed* D, its best reply is to
# send **every** $z$ to the single point D finds most real: $\max_D\min_G$ collapses. We
# push training towards that regime by giving G **5 updates per D update**, and compare with
# the balanced 1 : 1 game.

# %% slideshow={"slide_type": "fragment"}
def summary(track):
    """Modes covered and high-quality fraction over the last 5 epochs (median, mean): the
    count flickers from epoch to epoch (see below), a single epoch would be noisy."""
    last = min(5, len(track["modes"]))
    return int(np.median(track["modes"][-last:])), float(np.mean(track["hq"][-last:]))


hist_bal, track_bal = train_mog(balanced, "balanced 1:1")
hist_col, track_col = train_mog(collapse, "G 5:1 D")
BALANCED = tr("balanced 1:1", "平衡 1:1")  # the runs' names on the figures and lines


def coverage_line(name: str, track: dict) -> str:
    """A run's modes covered and high-quality fraction, and its last epoch's samples per mode."""
    modes, hq = summary(track)
    counts = gan.mode_coverage(track["last"], centers, STD)["counts"]
    return tr(f"{name:14s} modes covered {modes}/8, high quality {hq:.2f}; "
              f"last epoch, high-quality samples per mode: {counts}",
              f"{name}：覆盖了 {modes}/8 个模式，高质量比例 {hq:.2f}；"
              f"最后一个迭代周期，每个模式的高质量样本数：{counts}")


for name, track in [(BALANCED, track_bal), ("G 5:1 D", track_col)]:
    print(coverage_line(name, track))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A remedy: let D see several samples at once (PacGAN)
# A discriminator that judges one sample at a time cannot see that all fakes are *the same*.
# **Packing** (Lin et al. 2018) feeds D two samples concatenated, both real or both fake
# (`MLPDiscriminator(pack=2)`). Two independent real points come from different modes 7 times
# out of 8; two points of a collapsed G always sit at the same place. D can see that and punish
# the lack of diversity. Same G, same 5 : 1 schedule, same step function:

# %% slideshow={"slide_type": "fragment"}
hist_pac, track_pac = train_mog(pacgan, "G 5:1 D, PacGAN")
modes_pac, hq_pac = summary(track_pac)
print(coverage_line("G 5:1 D + PacGAN(2)", track_pac))

fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
for ax, (name, track) in zip(axes[:3], [(BALANCED, track_bal),
                                        (tr("G 5:1 D (collapse)", "G 5:1 D（模式崩溃）"), track_col),
                                        ("G 5:1 D + PacGAN", track_pac)]):
    scatter(ax, track["last"], tr(f"{name}: {summary(track)[0]}/8 modes", f"{name}：{summary(track)[0]}/8 个模式"))
axes[0].legend(loc="lower left", fontsize=7, markerscale=4)
epochs_axis = np.arange(1, len(track_bal["modes"]) + 1)   # (a dry run stops after one)
for name, track, style in [(BALANCED, track_bal, "-"), ("G 5:1 D", track_col, "--"),
                           ("G 5:1 D + PacGAN", track_pac, "-.")]:
    axes[3].plot(epochs_axis, track["modes"], style, label=name)
axes[3].set_xlabel(tr("epoch", "迭代周期"))
axes[3].set_ylabel(tr("modes covered (of 8)", "覆盖的模式数（共 8 个）"))
axes[3].set_ylim(-0.3, 8.3)
axes[3].legend(fontsize=7)
axes[3].set_title(tr("modes covered over training", "训练过程中覆盖的模式数"), fontsize=9)
fig.tight_layout()
plotting.savefig(fig, NB, "mode_collapse")
plt.show()

# %% slideshow={"slide_type": "fragment"}
fig, ax = plt.subplots(figsize=(6, 3))
for name, track, style in [(BALANCED, track_bal, "-"), ("G 5:1 D", track_col, "--"),
                           ("G 5:1 D + PacGAN", track_pac, "-.")]:
    ax.plot(epochs_axis, track["hq"], style, label=name)
ax.set_xlabel(tr("epoch", "迭代周期"))
ax.set_ylabel(tr("high-quality fraction", "高质量样本的比例"))
ax.set_title(tr("samples within 3σ of a mode", "落在某个模式 3σ 以内的样本"))
ax.legend(fontsize=8)
plotting.savefig(fig, NB, "high_quality_fraction")
(modes_bal, hq_bal), (modes_col, hq_col) = summary(track_bal), summary(track_col)
artifacts.save_metrics(NB, {
    "modes_covered": modes_bal, "high_quality_fraction": hq_bal,
    "modes_covered_collapse": modes_col, "high_quality_fraction_collapse": hq_col,
    "modes_covered_pacgan": modes_pac, "high_quality_fraction_pacgan": hq_pac,
})
# medians over the last 5 epochs (robust to the epoch-to-epoch flicker). Measured at cpu over
# seeds 0-4 (balanced, collapsed, PacGAN modes): 7/0/6, 7/0/4, 8/0/8, 7/0/6, 6/0/6.
quality.at_least(tr("modes: balanced − collapsed (of 8)", "模式数：平衡 − 崩溃（共 8 个）"), modes_bal - modes_col,
                 cpu=3, full=3)
quality.at_least(tr("modes: PacGAN − collapsed (of 8)", "模式数：PacGAN − 崩溃（共 8 个）"), modes_pac - modes_col,
                 cpu=2, full=2)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Instability (不稳定性)
# The balanced run's mode count above already flickers: D and G chase each other and the
# samples hop between modes instead of settling. With a 10× larger learning rate (0.01) the
# same configuration oscillates much more: the two losses swing against each other.

# %% slideshow={"slide_type": "fragment"}
hist_hot, track_hot = train_mog(hot, "lr 0.01")
fig, axes = plt.subplots(1, 3, figsize=(15, 3.4))
axes[1].sharey(axes[0])
lr_shown = {"lr 0.001": tr("lr 0.001", "学习率 0.001"), "lr 0.01": tr("lr 0.01", "学习率 0.01")}
for ax, (name, h) in zip(axes[:2], [("lr 0.001", hist_bal), ("lr 0.01", hist_hot)]):
    plotting.plot_history(h, ["loss_D", "loss_G"], per="step", smooth=5, ax=ax,
                          title=tr(f"losses, {lr_shown[name]}", f"损失，{lr_shown[name]}"))
    ax.set_ylabel(tr("loss", "损失"))
axes[2].plot(epochs_axis, track_bal["modes"], label=lr_shown["lr 0.001"])
axes[2].plot(epochs_axis, track_hot["modes"], label=lr_shown["lr 0.01"])
axes[2].set_xlabel(tr("epoch", "迭代周期"))
axes[2].set_ylabel(tr("modes covered (of 8)", "覆盖的模式数（共 8 个）"))
axes[2].legend()
fig.tight_layout()
plotting.savefig(fig, NB, "instability")
swing = {name: float(np.std(np.diff(h.steps["loss_G"]))) for name, h in
         [("lr 0.001", hist_bal), ("lr 0.01", hist_hot)]}
print(tr("step-to-step std of loss_G:", "loss_G 相邻两步之差的标准差："), {lr_shown[k]: round(v, 3) for k, v in swing.items()})
artifacts.save_metrics(NB, {"loss_G_swing_lr1e-3": swing["lr 0.001"],
                            "loss_G_swing_lr1e-2": swing["lr 0.01"]})
# measured at cpu over seeds 0-4: 4.4, 3.3, 5.7, 4.6, 4.4
# (a dry run has a single step difference, std 0: hence the floor in the denominator)
quality.at_least(tr("loss_G swing, lr 0.01 / lr 0.001", "loss_G 的波动，学习率 0.01 / 学习率 0.001"),
                 swing["lr 0.01"] / max(swing["lr 0.001"], 1e-12),
                 cpu=2, full=2)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises (练习)
# ### Exercise 08.2 — the optimal discriminator (练习 08.2)
# The optimal discriminator. Real data $p_r = \mathcal N(0, 1)$, generator
# $p_g = \mathcal N(\mu_g, 1)$. Write $D^*(x) = p_r(x)/(p_r(x) + p_g(x))$ for a tensor of points
# `x` and a number `mu_g`.

# %% slideshow={"slide_type": "fragment"}
def D_star(x, mu_g):
    return None  # your code here


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def D_star(x, mu_g):
    # p_r / (p_r + p_g) = sigmoid(log p_r − log p_g), and log p_r − log p_g = μ_g²/2 − μ_g x
    return torch.sigmoid(mu_g ** 2 / 2 - mu_g * x)
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.optimal_discriminator(D_star)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 08.3 — the value of the game at D* (练习 08.3)
# The value of the game for the best D. With $p_r = \mathcal N(0, 1)$ and
# $p_g = \mathcal N(\mu_g, 1)$, compute
# $V(D^*, G) = \int p_r \log D^* \,dx + \int p_g \log(1 - D^*)\,dx$ numerically (a fine grid
# and `torch.trapezoid`). At $\mu_g = 0$ ($p_g = p_r$, $D^* = \tfrac12$ everywhere) it is
# $-\log 4$; away from it, $V(D^*, G) = 2\,\mathrm{JS}(p_r \| p_g) - \log 4$ is larger.

# %% slideshow={"slide_type": "fragment"}
def V_of_D_star(mu_g):
    return None  # your code here


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def V_of_D_star(mu_g):
    x = torch.linspace(-15.0, 15.0 + abs(mu_g), 40_001, dtype=torch.float64)
    p_r = torch.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi)
    p_g = torch.exp(-(x - mu_g) ** 2 / 2) / np.sqrt(2 * np.pi)
    a = mu_g ** 2 / 2 - mu_g * x            # log p_r − log p_g, so D* = sigmoid(a)
    # log D* = logsigmoid(a), log(1 − D*) = logsigmoid(−a): no log 0 where D* rounds to 1
    return torch.trapezoid(p_r * F.logsigmoid(a) + p_g * F.logsigmoid(-a), x).item()


print(f"V(D*, G) at μ_g = 0: {V_of_D_star(0.0):.6f}  (−log 4 = {-np.log(4):.6f}); "
      f"at μ_g = 2: {V_of_D_star(2.0):.4f}")
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.game_value(V_of_D_star)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary (小结)
# - A GAN trains two networks in turn: D by binary cross-entropy with real = 1, fake = 0; G by
#   the non-saturating loss $-\log D(G(z))$, which keeps its gradient when D wins.
# - The samples are judged without a likelihood: classifier-FID with its real-vs-real floor.
# - Mode collapse is visible and countable on a 2-D mixture; letting D see packed samples
#   (PacGAN) brings modes back; too large a learning rate makes the game oscillate.
# - Next: conditioning G and D on a label (09), and convolutional GANs (10).
