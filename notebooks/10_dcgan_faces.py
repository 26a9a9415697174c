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
# # 10 · Convolutional GAN on faces (卷积GAN, DCGAN)
# For images, replace the MLPs by convolutional networks: the game and the training step stay
# the same ("用CNN代替MLP，逻辑不变"). We build G and D by the five DCGAN rules of the lecture,
# train them on faces (the lecture's `demo_genface`), interpolate between faces in latent space
# and walk it with a widget. Lecture section "3. 卷积GAN".

# %% slideshow={"slide_type": "skip"}
import os
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import artifacts, checkpoints, data, plotting, profile, quality
from course_utils.exercises import neural_models as ex
from course_utils.i18n import tr  # tr(English, Chinese): the words a figure or a line shows, in the notebook's language
from course_utils.neural import gan
from course_utils.train import fit

NB = "10_dcgan_faces"
profile.seed_everything(0)
profile.set_cpu_threads()  # 1 torch thread on the CPU: small models, often busy cores (COURSE_THREADS=0: all)
device = profile.device()


@dataclass(frozen=True)
class Config:
    steps: int            # G/D updates; the number of epochs follows from the size of the face set
    ngf: int              # width of G and D: channels next to the image (doubling inwards)
    batch_size: int       # faces per step
    z_dim: int = 64       # latent size
    lr: float = 2e-4      # Adam, both players (the DCGAN paper's)


cfg = profile.pick(
    smoke=Config(steps=15, ngf=16, batch_size=40),
    cpu=Config(steps=1500, ngf=32, batch_size=40),
    full=Config(steps=20000, ngf=64, batch_size=64),
)
# A folder of face images (e.g. aligned CelebA) replaces the 100 embedded faces; it is used at
# 64×64 (embedded LFW faces: 32×32). Set FACES_DIR, or put the images under <data dir>/faces.
faces_dir = os.environ.get("FACES_DIR")
cfg

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The five DCGAN rules (DCGAN 的五条结构规则)
# Radford, Metz & Chintala (2015), as listed in the lecture:
#
# | # | lecture (中文) | in English | where in `course_utils/neural/gan.py` |
# |---|---|---|---|
# | 1 | 取消所有pooling层。G网络中使用转置卷积进行上采样，D网络中用加入stride的卷积代替pooling | no pooling: transposed convolutions upsample in G, strided convolutions downsample in D | `nn.ConvTranspose2d(…, 4, 2, 1)` in G; `nn.Conv2d(…, 4, 2, 1)` in D |
# | 2 | 在D和G中均使用batch normalization | batch norm in both | `nn.BatchNorm2d` after every hidden layer (not on G's output nor D's input, as in the paper) |
# | 3 | 去掉FC层，使网络变为全卷积网络 | no fully connected hidden layers | z enters as a 1×1 "image"; D ends with a 4×4 convolution to one logit |
# | 4 | G网络中用ReLU为激活函数，最后一层tanh | ReLU in G, tanh on the last layer | `nn.ReLU`, then `nn.Tanh()` |
# | 5 | D网络中使用LeakyReLU作为激活函数 | LeakyReLU in D | `nn.LeakyReLU(0.2)` |

# %% slideshow={"slide_type": "subslide"}
# 32×32 for the embedded 25×25 LFW faces, 64×64 for a folder of real photos; the folder's images
# are resized while they are read (a folder of CelebA-sized photos would not fit in memory otherwise)
size = 32 if faces_dir is None and data.sources(shown=False)["faces"].startswith("embedded") else 64
faces = data.load("faces", path=faces_dir, size=size)
channels = faces.images.shape[1]
G = gan.DCGANGenerator(z_dim=cfg.z_dim, channels=channels, image_size=size, ngf=cfg.ngf)
D = gan.DCGANDiscriminator(channels=channels, image_size=size, ndf=cfg.ngf)
print(G)
print(D)

# %% slideshow={"slide_type": "subslide"}
# The rules, checked on the modules themselves
g_mods, d_mods = list(G.modules()), list(D.modules())
pooling = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
checks = {
    tr("1 no pooling; ConvTranspose2d in G, stride-2 Conv2d in D",
       "1 不用池化；G 用 ConvTranspose2d，D 用步幅为 2 的 Conv2d"):
        not any(isinstance(m, pooling) for m in g_mods + d_mods)
        and any(isinstance(m, nn.ConvTranspose2d) and m.stride == (2, 2) for m in g_mods)
        and any(isinstance(m, nn.Conv2d) and m.stride == (2, 2) for m in d_mods),
    tr("2 batch norm in G and D", "2 G 和 D 都用批量归一化"): any(isinstance(m, nn.BatchNorm2d) for m in g_mods)
        and any(isinstance(m, nn.BatchNorm2d) for m in d_mods),
    tr("3 no Linear layer", "3 没有全连接层（Linear）"): not any(isinstance(m, nn.Linear) for m in g_mods + d_mods),
    tr("4 ReLU in G, tanh last", "4 G 用 ReLU，最后一层用 tanh"): any(isinstance(m, nn.ReLU) for m in g_mods)
        and isinstance(G.net[-1], nn.Tanh),
    tr("5 LeakyReLU in D", "5 D 用 LeakyReLU"): any(isinstance(m, nn.LeakyReLU) for m in d_mods)
        and not any(type(m) is nn.ReLU for m in d_mods),
}
for rule, ok in checks.items():
    print(f"{'✓' if ok else '✗'} " + tr(f"rule {rule}", f"规则 {rule}"))
assert all(checks.values())
with torch.no_grad():
    x_probe = G(torch.randn(2, cfg.z_dim))
assert x_probe.shape == (2, channels, size, size)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Data: faces in [-1, 1], flipped (数据与增强)
# - **Range.** G ends in tanh, so its images lie in $[-1, 1]$; the real images must live in the
#   same range, or D could tell real from fake by the pixel range alone. We map
#   $x \mapsto 2x - 1$ for training and back with $(x + 1)/2$ for display. (Zero-centred inputs
#   also suit D's first convolution, which has no batch norm.)
# - **Augmentation.** The embedded set has only **100 faces**. A mirrored face is still a face,
#   so horizontal flips double the set to 200. Expect blurry, low-resolution faces that look
#   like averages of a few training faces: with 200 images G can hardly learn more, and a long
#   run starts to memorise (we check the nearest training face below). A folder of thousands of
#   aligned faces (CelebA) gives far better samples at 64×64.

# %% slideshow={"slide_type": "fragment"}
x_faces = faces.images  # size × size, resized by data.load
x_train = gan.to_tanh_range(torch.cat([x_faces, x_faces.flip(-1)]))  # flips: 2× the faces
batch_size = min(cfg.batch_size, len(x_train))
epochs = max(1, -(-cfg.steps // (len(x_train) // batch_size)))
print(tr(f"{len(x_faces)} faces ({faces.source}) -> {len(x_train)} training images "
         f"{tuple(x_train.shape[1:])}, range [{x_train.min():.1f}, {x_train.max():.1f}]; "
         f"{epochs} epochs of {len(x_train) // batch_size} steps",
         f"{len(x_faces)} 张人脸（{data.shown_source(faces.source)}）-> {len(x_train)} 张训练图像 "
         f"{tuple(x_train.shape[1:])}，取值范围 [{x_train.min():.1f}, {x_train.max():.1f}]；"
         f"{epochs} 个迭代周期，每个 {len(x_train) // batch_size} 步"))
fig = plotting.image_grid(x_faces[:32], nrow=16, title=tr("real faces (before flips)", "真实人脸（翻转之前）"))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The same game, with convolutions (逻辑不变)
# The step is the one of notebook 08: D maximises $\log D(x_r) + \log(1 - D(G(z)))$ (labels
# real = 1, fake = 0), then G minimises the non-saturating $-\log D(G(z))$.

# %% slideshow={"slide_type": "fragment"}
def d_loss(logit_real, logit_fake):
    """-[log D(x_r) + log(1 - D(x_f))]: BCE with labels real = 1, fake = 0."""
    return (F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
            + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))


def g_loss(logit_fake):
    """Non-saturating generator loss -log D(G(z))."""
    return F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))


opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999))  # DCGAN paper
opt_D = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999))


def step(batch):
    (x_r,) = batch
    z = torch.randn(x_r.shape[0], cfg.z_dim, device=x_r.device)
    x_f = G(z)
    loss_D = d_loss(D(x_r), D(x_f.detach()))  # D step
    opt_D.zero_grad()
    loss_D.backward()
    opt_D.step()
    loss_G = g_loss(D(x_f))  # G step
    opt_G.zero_grad()
    loss_G.backward()
    opt_G.step()
    return {"loss_D": loss_D.item(), "loss_G": loss_G.item()}


z_fixed = torch.randn(32, cfg.z_dim, generator=torch.Generator().manual_seed(5)).to(device)
snapshots = {}
snap_epochs = sorted({1, max(1, epochs // 10), max(1, epochs // 3), epochs})


def on_epoch_end(epoch, history):
    if epoch + 1 in snap_epochs:
        G.eval()
        with torch.no_grad():
            snapshots[epoch + 1] = gan.to_unit_range(G(z_fixed)).cpu()
        G.train()


key = checkpoints.key(NB, "dcgan", config=cfg, modules={"G": G, "D": D},
                      optimizers={"G": opt_G, "D": opt_D}, data=x_train)
history = fit(step, x_train, epochs=epochs, batch_size=batch_size,
              modules={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D},
              checkpoint=key, desc="DCGAN", on_epoch_end=on_epoch_end)

# %% slideshow={"slide_type": "subslide"}
if not snapshots:  # a finished run loaded from its checkpoint: only the final model
    with torch.no_grad():
        snapshots[epochs] = gan.to_unit_range(G(z_fixed)).cpu()
fig, axes = plt.subplots(1, len(snapshots) + 1, figsize=(3.4 * (len(snapshots) + 1), 3.4),
                         squeeze=False)
for ax, (ep, imgs) in zip(axes[0], snapshots.items()):
    plotting.image_grid(imgs[:16], nrow=4, ax=ax, title=tr(f"epoch {ep}", f"第 {ep} 个迭代周期"))
plotting.plot_history(history, ["loss_D", "loss_G"], per="epoch", ax=axes[0][-1],
                      title=tr("losses (epoch means)", "损失（每个迭代周期的平均）"))
axes[0][-1].set_ylabel(tr("loss", "损失"))
fig.tight_layout()
plotting.savefig(fig, NB, "training")
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# With only 200 training images D soon separates real from fake well (loss_D far below the
# equilibrium value 2 log 2 ≈ 1.39, loss_G high): the non-saturating loss still gives G a
# gradient, but this is the small-data regime in which GANs overfit. Occasional spikes are the
# instability of notebook 08.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Samples, and are they just copies? (样本与记忆)
# Each generated face (top) beside its nearest training face in pixel space (bottom). Small
# distances everywhere would mean G memorised the training set; we compare them with the
# distance between two different real faces.

# %% slideshow={"slide_type": "fragment"}
with torch.no_grad():
    samples = gan.to_unit_range(G(torch.randn(64, cfg.z_dim, device=device))).cpu()
train_unit = gan.to_unit_range(x_train)
d_nn, idx_nn = torch.cdist(samples.flatten(1), train_unit.flatten(1)).min(dim=1)
d_real = torch.cdist(x_faces.flatten(1), x_faces.flatten(1))
d_real.fill_diagonal_(float("inf"))
d_real_nn = d_real.min(dim=1).values  # each real face to its nearest *other* real face
print(tr(f"mean distance sample -> nearest training image {d_nn.mean():.2f}; "
         f"real face -> nearest other real face {d_real_nn.mean():.2f}",
         f"平均距离：样本 -> 最近的训练图像 {d_nn.mean():.2f}；"
         f"真实人脸 -> 最近的另一张真实人脸 {d_real_nn.mean():.2f}"))
fig = plotting.image_grid(torch.cat([samples[:16], train_unit[idx_nn[:16]]]), nrow=16,
                          title=tr("DCGAN samples (top) and their nearest training faces (bottom)",
                                   "DCGAN 的样本（上）和离它们最近的训练人脸（下）"))
plotting.savefig(fig, NB, "samples_and_nearest")
artifacts.save_samples(NB, samples)
artifacts.save_metrics(NB, {
    "train_seconds": history.seconds, "epochs": epochs, "n_faces": len(x_faces),
    "image_size": size, "nn_distance_samples": float(d_nn.mean()),
    "nn_distance_real": float(d_real_nn.mean()),
    "sample_pixel_std": float(samples.std(dim=0).mean()),
})
# Not copies: a G that memorised puts its samples on training faces (ratio near 0). Not
# collapsed: the samples differ from each other about as much as real faces do. Measured at cpu:
# 1.03 and 1.07; targets 0.6 and 0.5. (No full target for the first: 20,000 steps on the 200
# embedded images may well memorise, which is what this measures; with a folder of faces it is
# reported.)
quality.at_least(tr("sample→nearest training face / real face→nearest other",
                    "样本→最近的训练人脸 / 真实人脸→最近的另一张"),
                 d_nn.mean() / d_real_nn.mean(), cpu=0.6)
quality.at_least(tr("pixel std across samples / across real faces", "样本之间像素的标准差 / 真实人脸之间像素的标准差"),
                 samples.std(dim=0).mean() / x_faces.std(dim=0).mean(), cpu=0.5, full=0.5)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Latent interpolation (隐空间插值)
# Between two latent codes $z_0, z_1$ we walk $z_t = (1-t)z_0 + t z_1$. A smooth morph (rather
# than jumps) says G has learnt a continuous map, not a lookup table of training faces.

# %% slideshow={"slide_type": "fragment"}
def interpolate(z0, z1, n):
    """n codes from z0 to z1 on the straight line: z_t = (1 - t) z0 + t z1, t in [0, 1]."""
    t = torch.linspace(0, 1, n).unsqueeze(1)
    return (1 - t) * z0 + t * z1


g = torch.Generator().manual_seed(6)
rows = []
with torch.no_grad():
    for _ in range(4):
        z0, z1 = torch.randn(cfg.z_dim, generator=g), torch.randn(cfg.z_dim, generator=g)
        rows.append(gan.to_unit_range(G(interpolate(z0, z1, 10).to(device))).cpu())
fig = plotting.image_grid(torch.cat(rows), nrow=10, title=tr("latent interpolation: t = 0 … 1", "隐空间中的插值：t = 0 … 1"))
plotting.savefig(fig, NB, "interpolation")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Walk the latent space (隐空间漫游)
# Pick a face (seed) and move along two random directions $u, v$: $z = z_{seed} + a u + b v$.

# %% slideshow={"slide_type": "fragment"}
_dirs = torch.randn(2, cfg.z_dim, generator=torch.Generator().manual_seed(7))
_dirs = _dirs / _dirs.norm(dim=1, keepdim=True) * cfg.z_dim ** 0.5


def show_face(seed=0, a=0.0, b=0.0):
    z0 = torch.randn(1, cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    z = z0 + a * _dirs[0] + b * _dirs[1]
    with torch.no_grad():
        face = gan.to_unit_range(G(z.to(device))).cpu()
    fig, ax = plt.subplots(figsize=(2.2, 2.2))
    plotting.image_grid(face, nrow=1, ax=ax, title=tr(f"seed {seed}, a={a:.1f}, b={b:.1f}",
                                                      f"种子 {seed}，a={a:.1f}，b={b:.1f}"))
    plt.show()


_ = widgets.interact(show_face, seed=widgets.IntSlider(0, 0, 50, description=tr("seed", "种子")),
                     a=widgets.FloatSlider(0.0, min=-1.5, max=1.5, step=0.1),
                     b=widgets.FloatSlider(0.0, min=-1.5, max=1.5, step=0.1))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises (练习)
# ### Exercise 10.1 — the size after a transposed convolution (练习 10.1)
# The side of a transposed convolution's output: with input side $n$, kernel $k$,
# stride $s$ and padding $p$, $n_{out} = (n - 1)s - 2p + k$. Write it; the check compares with
# what `nn.ConvTranspose2d` really produces.

# %% slideshow={"slide_type": "fragment"}
def convT_out(n, k, s, p):
    return None  # your code here


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def convT_out(n, k, s, p):
    # input pixels sit s apart: (n − 1)·s + 1 positions, the kernel adds k − 1, padding trims 2p
    return (n - 1) * s - 2 * p + k


# G's layers: 1 → 4 (k=4, s=1, p=0), then doubling (k=4, s=2, p=1) up to the image size
side = convT_out(1, 4, 1, 0)
while side < size:
    side = convT_out(side, 4, 2, 1)
assert side == size == x_probe.shape[-1]
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.conv_transpose_size(convT_out)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 10.2 — slerp (练习 10.2)
# In many dimensions a straight line between two codes cuts through the middle of the
# Gaussian ($\|z_t\|$ shrinks near $t = 1/2$). The density is highest there, but almost every $z$
# G was trained on lies on a thin shell at radius about $\sqrt{d}$ (here $d = 64$: radius 8), and
# codes that short are ones G has rarely seen. Write spherical interpolation
# $\mathrm{slerp}(z_0, z_1, t) = \frac{\sin((1-t)\Omega)}{\sin\Omega} z_0
# + \frac{\sin(t\Omega)}{\sin\Omega} z_1$ with $\cos\Omega = \frac{z_0\cdot z_1}{\|z_0\|\|z_1\|}$.

# %% slideshow={"slide_type": "fragment"}
def slerp(z0, z1, t):
    return None  # your code here


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def slerp(z0, z1, t):
    cos_omega = torch.dot(z0, z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cos_omega.clamp(-1.0, 1.0))        # the angle between z0 and z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


# the point of it: halfway between two latent codes, the straight line is much shorter than a
# typical code (‖z‖ ≈ √64 = 8), the great circle is not
_g = torch.Generator().manual_seed(8)
_z0, _z1 = torch.randn(cfg.z_dim, generator=_g), torch.randn(cfg.z_dim, generator=_g)
_typical = (_z0.norm() + _z1.norm()) / 2
print(f"‖z‖ at t = ½: straight line {interpolate(_z0, _z1, 3)[1].norm():.2f}, slerp "
      f"{slerp(_z0, _z1, 0.5).norm():.2f}, endpoints {_typical:.2f}")
assert interpolate(_z0, _z1, 3)[1].norm() < 0.8 * _typical
assert abs(slerp(_z0, _z1, 0.5).norm() - _typical) < 0.1 * _typical
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.slerp(slerp)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary (小结)
# - DCGAN keeps the GAN game and changes only the networks: strided and transposed
#   convolutions, batch norm, no FC layers, ReLU/tanh in G, LeakyReLU in D.
# - Images go into $[-1, 1]$ to match tanh. With 100 faces (flipped to 200) expect small,
#   blurry faces and some memorisation; a folder of aligned faces gives real DCGAN quality.
# - Latent interpolation and the latent walk show a continuous face manifold.
