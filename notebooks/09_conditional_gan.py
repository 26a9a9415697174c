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
# # 09 · Conditional GAN (条件生成对抗网络)
# Give both players the label $y$: $G(z, y)$ draws a digit *of class y*, $D(x, y)$ judges
# whether $x$ is a real digit *of class y*. We train one on MNIST (the lecture's
# `demo_cgan_mnist`), draw one row per class, and measure how often the samples really show
# the requested digit (**conditional accuracy**) against training time. Lecture section
# "2. Conditional GAN".

# %% slideshow={"slide_type": "skip"}
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from course_utils import artifacts, checkpoints, data, evaluation, metrics, plotting, profile, quality
from course_utils.exercises import neural_models as ex
from course_utils.i18n import tr  # tr(English, Chinese): the words a figure or a line shows, in the notebook's language
from course_utils.neural import gan
from course_utils.train import fit

NB = "09_conditional_gan"
profile.seed_everything(0)
profile.set_cpu_threads()  # 1 torch thread on the CPU: small models, often busy cores (COURSE_THREADS=0: all)
device = profile.device()


@dataclass(frozen=True)
class Config:
    n_train: int | None                      # training digits (None: all that the data source has)
    epochs: int                              # epochs of the cGAN with the projection discriminator
    compare_epochs: int                      # epochs of the cGAN with the concatenation discriminator
    eval_every: int                          # epochs between two conditional-accuracy evaluations
    conditioning: str = "projection"         # how D uses the label: "projection" or "concat"
    lr: float = 5e-4                         # Adam, both players
    z_dim: int = 64                          # latent size
    batch_size: int = 64                     # digits per step
    G_hidden: tuple[int, ...] = (128, 256, 512)   # G's hidden layers (batch norm, ReLU)
    D_hidden: tuple[int, ...] = (512, 256)        # D's hidden layers (LeakyReLU, dropout 0.3)
    seed: int = 0                            # initialisation and shuffling


cfg = profile.pick(
    smoke=Config(n_train=512, epochs=2, compare_epochs=1, eval_every=1),
    cpu=Config(n_train=None, epochs=60, compare_epochs=20, eval_every=2),
    full=Config(n_train=None, epochs=200, compare_epochs=40, eval_every=5),
)
cfg

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conditioning both players (条件生成)
# $$\min_G \max_D\; \mathbb E_{(x, y) \sim p_r}[\log D(x, y)]
#   + \mathbb E_{z \sim p_z,\, y \sim p(y)}[\log(1 - D(G(z, y), y))]$$
# - **G**: the input is $[z, \mathrm{onehot}(y)]$ (Mirza & Osindero 2014), an MLP with batch
#   norm, tanh output.
# - **D**, two ways to use $y$ (`course_utils.neural.gan.ConditionalDiscriminator`):
#   - *concat*: $a = f([x, \mathrm{onehot}(y)])$, ten more inputs beside 784 pixels;
#   - *projection* (Miyato & Koyama 2018): $a = w^\top\phi(x) + e_y^\top\phi(x)$ with a learned
#     class embedding $e_y$: the label selects a direction in D's feature space.
#
# A fake that looks like a fine "3" but was asked to be a "7" is a *fake* to D: so G must
# obey the label.

# %% slideshow={"slide_type": "fragment"}
train = data.load("mnist", split="train", n=cfg.n_train)
test = data.load("mnist", split="test")
x_train, y_train = gan.to_tanh_range(train.images), train.labels  # G's tanh range is [-1, 1]
K = len(train.classes)


def d_loss(logit_real, logit_fake):
    """-[log D(x_r, y_r) + log(1 - D(G(z, y_f), y_f))]: BCE, real = 1, fake = 0."""
    return (F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
            + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))


def g_loss(logit_fake):
    """Non-saturating: -log D(G(z, y), y)."""
    return F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))


def make_cgan_step(G, D, opt_G, opt_D, z_dim, n_classes):
    """One alternating D/G update on a batch of real (x, y); fake labels drawn uniformly."""

    def step(batch):
        x_r, y_r = batch
        n = x_r.shape[0]
        z = torch.randn(n, z_dim, device=x_r.device)
        y_f = torch.randint(0, n_classes, (n,), device=x_r.device)
        x_f = G(z, y_f)
        # D step: real pairs (x_r, y_r) -> 1, fake pairs (G(z, y_f), y_f) -> 0
        loss_D = d_loss(D(x_r, y_r), D(x_f.detach(), y_f))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        # G step: make D accept (G(z, y_f), y_f) as real
        loss_G = g_loss(D(x_f, y_f))
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        return {"loss_D": loss_D.item(), "loss_G": loss_G.item()}

    return step


# %% [markdown] slideshow={"slide_type": "slide"}
# ## The evaluation classifier (评估分类器)
# A small CNN trained once on the real training digits (`course_utils.evaluation`, cached in
# data/checkpoints). Its accuracy on real test digits is the ceiling for what it can certify.

# %% slideshow={"slide_type": "fragment"}
clf = evaluation.evaluation_classifier()
y_eval = torch.arange(K).repeat_interleave(100)  # 100 samples per class
z_eval = torch.randn(len(y_eval), cfg.z_dim, generator=torch.Generator().manual_seed(3))


@torch.no_grad()
def conditional_accuracy(G):
    """Fraction of G(z, y) that the classifier labels y (1000 samples, 100 per class)."""
    was_training = G.training
    G.eval()
    x = gan.to_unit_range(G(z_eval.to(device), y_eval.to(device))).cpu()
    G.train(was_training)
    return evaluation.classifier_accuracy(clf.model, x, y_eval), x


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Training, with accuracy against training time (需要训练很长时间！)
# The lecture warns that a cGAN needs long training. We record the conditional accuracy every
# few epochs against the training seconds, for the projection discriminator and, for a shorter
# run, the concatenation discriminator.

# %% slideshow={"slide_type": "fragment"}
D_NAMES = {"projection": tr("projection D", "投影判别网络"), "concat": tr("concat D", "拼接判别网络")}  # shown names


def train_cgan(run: Config):
    """Train (or load) the cGAN of ``run``; returns G, D, the history and the accuracy curve."""
    torch.manual_seed(run.seed)
    G = gan.ConditionalGenerator(run.z_dim, K, hidden=run.G_hidden)
    D = gan.ConditionalDiscriminator(K, hidden=run.D_hidden, dropout=0.3,
                                     conditioning=run.conditioning)
    opt_G = torch.optim.Adam(G.parameters(), lr=run.lr, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=run.lr, betas=(0.5, 0.999))
    curve = {"seconds": [0.0], "accuracy": [conditional_accuracy(G.to(device))[0]], "epoch": [0]}

    def on_epoch_end(epoch, history):
        if (epoch + 1) % run.eval_every == 0 or epoch + 1 == run.epochs:
            curve["seconds"].append(history.seconds)
            curve["accuracy"].append(conditional_accuracy(G)[0])
            curve["epoch"].append(epoch + 1)

    what = dict(config=run, modules={"G": G, "D": D}, optimizers={"G": opt_G, "D": opt_D},
                data=(x_train, y_train))
    key = checkpoints.key(NB, f"cgan_{run.conditioning}", **what)
    curve_key = checkpoints.key(NB, f"cgan_{run.conditioning}_curve", **what)  # kept beside it
    history = fit(make_cgan_step(G, D, opt_G, opt_D, run.z_dim, K), (x_train, y_train),
                  epochs=run.epochs, batch_size=run.batch_size, modules={"G": G, "D": D},
                  optimizers={"G": opt_G, "D": opt_D}, checkpoint=key, seed=run.seed,
                  desc=f"cGAN ({D_NAMES[run.conditioning]})", on_epoch_end=on_epoch_end)
    if history.resumed_from:  # a cached run: reload its curve (or keep just the end point)
        curve = checkpoints.load(curve_key) or {
            "seconds": [history.seconds], "accuracy": [conditional_accuracy(G)[0]],
            "epoch": [run.epochs]}
    elif not profile.dry_run():  # a capped run is not worth keeping (fit keeps nothing either)
        checkpoints.save(curve_key, curve)
    return G, D, history, curve


# the same cGAN with the label concatenated to D's input, trained for a shorter run
concat = replace(cfg, conditioning="concat", epochs=cfg.compare_epochs)
G, D, history, curve = train_cgan(cfg)
G_cat, _, history_cat, curve_cat = train_cgan(concat)
accuracy, samples = conditional_accuracy(G)
print(tr(f"conditional accuracy (projection D, {cfg.epochs} epochs, {history.seconds:.0f} s): {accuracy:.3f}",
         f"条件准确率（投影判别网络，{cfg.epochs} 个迭代周期，{history.seconds:.0f} 秒）：{accuracy:.3f}"))
print(tr(f"conditional accuracy (concat D, {cfg.compare_epochs} epochs, "
         f"{history_cat.seconds:.0f} s): {curve_cat['accuracy'][-1]:.3f}",
         f"条件准确率（拼接判别网络，{cfg.compare_epochs} 个迭代周期，"
         f"{history_cat.seconds:.0f} 秒）：{curve_cat['accuracy'][-1]:.3f}"))

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
axes[0].plot(curve["seconds"], curve["accuracy"], "o-", ms=3, label=D_NAMES["projection"])
axes[0].plot(curve_cat["seconds"], curve_cat["accuracy"], "s-", ms=3, label=D_NAMES["concat"])
axes[0].axhline(clf.test_accuracy, ls="--", c="k", lw=0.8,
                label=tr("classifier on real test digits", "分类器在真实测试数字上的准确率"))
axes[0].axhline(0.1, ls=":", c="grey", lw=0.8, label=tr("chance", "随机猜测"))
axes[0].set_xlabel(tr("training time (s)", "训练时间（秒）"))
axes[0].set_ylabel(tr("conditional accuracy", "条件准确率"))
axes[0].set_title(tr("Does G(z, y) show digit y?", "G(z, y) 画的是数字 y 吗？"))
axes[0].legend(fontsize=8)
plotting.plot_history(history, ["loss_D", "loss_G"], per="epoch", ax=axes[1],
                      title=tr("cGAN losses (projection D), per-epoch means",
                               "cGAN 的损失（投影判别网络），每个迭代周期的平均"))
axes[1].set_ylabel(tr("loss", "损失"))
fig.tight_layout()
plotting.savefig(fig, NB, "accuracy_vs_time")
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# What to look for: with the concatenated one-hot label, D first learns "is this a digit?" and
# ignores the ten label inputs; G then has no reason to obey y and the conditional accuracy
# stays near chance (10%) for many epochs: the long training the lecture warns about. The
# projection discriminator multiplies D's features by a class embedding, so the label matters
# from the first epochs. The time axis is wall-clock time of `fit`: on a machine shared with
# other jobs it stretches unevenly.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## One row per class (每行一个类别)
# Each row asks for one digit with ten different $z$: the label fixes the class, $z$ the
# style (slant, thickness).

# %% slideshow={"slide_type": "fragment"}
with torch.no_grad():
    z10 = torch.randn(10, cfg.z_dim, generator=torch.Generator().manual_seed(4))
    z_grid = z10.repeat(K, 1).to(device)                       # same 10 styles in every row
    y_grid = torch.arange(K).repeat_interleave(10).to(device)  # row k asks for digit k
    grid = gan.to_unit_range(G(z_grid, y_grid)).cpu()
fig = plotting.image_grid(grid, nrow=10, title=tr("cGAN: row = requested class, column = z", "cGAN：行 = 要求的类别，列 = z"),
                          row_labels=train.classes, scale=0.9)
plotting.savefig(fig, NB, "class_rows")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Which digits come out wrong? Per-class accuracy and classifier-FID

# %% slideshow={"slide_type": "fragment"}
pred = evaluation.classifier_predict(clf.model, samples)
per_class = torch.stack([(pred[y_eval == k] == k).float().mean() for k in range(K)])
# as many samples as test digits, evenly over the classes (samples are ordered by class)
balanced = samples[torch.linspace(0, len(samples) - 1, len(test.images)).long()]
fid = metrics.classifier_fid(clf.model, balanced, test.images)
real_ref = data.load("mnist", split="train", n=len(test.images), seed=1).images
fid_floor = metrics.classifier_fid(clf.model, real_ref, test.images)
fig, ax = plt.subplots(figsize=(6, 2.8))
ax.bar(range(K), per_class.numpy())
ax.set_xticks(range(K), train.classes)
ax.set_xlabel(tr("requested class y", "要求的类别 y"))
ax.set_ylabel(tr("accuracy", "准确率"))
ax.set_ylim(0, 1)
ax.set_title(tr("Per-class conditional accuracy", "每个类别的条件准确率"))
plotting.savefig(fig, NB, "per_class_accuracy")
print(tr(f"classifier-FID cGAN vs test {fid:.2f} (real train vs test: {fid_floor:.2f})",
         f"cGAN 样本与测试集的分类器 FID {fid:.2f}（真实训练集与测试集：{fid_floor:.2f}）"))

# %% slideshow={"slide_type": "skip"}
reached = [t for t, acc in zip(curve["seconds"], curve["accuracy"]) if acc >= 0.90]
seconds_to_90 = reached[0] if reached else float("nan")
print(tr(f"first evaluation with conditional accuracy >= 0.90: {seconds_to_90:.0f} s of training",
         f"条件准确率第一次 >= 0.90 的评估：训练了 {seconds_to_90:.0f} 秒") if reached
      else tr("conditional accuracy 0.90 not reached", "条件准确率没有达到 0.90"))
artifacts.save_samples(NB, samples, y_eval)
artifacts.save_metrics(NB, {
    "conditional_accuracy": accuracy, "conditional_accuracy_concat": curve_cat["accuracy"][-1],
    "classifier_test_accuracy": clf.test_accuracy, "classifier_fid": fid,
    "classifier_fid_real_floor": fid_floor, "train_seconds": history.seconds,
    "seconds_to_90_percent": seconds_to_90,
    "epochs": cfg.epochs,
})
# Measured at cpu: conditional accuracy 0.949 (0.90 first reached after 72 s of training);
# classifier-FID 11.1 against a real-vs-real floor of 4.6 (ratio 2.4); after the concat run's
# 20 epochs, the projection D's accuracy was 0.81 and the concat D's 0.16.
quality.at_least(tr("conditional accuracy (projection D)", "条件准确率（投影判别网络）"), accuracy, cpu=0.90, full=0.97)
quality.at_most(tr("classifier-FID / real-vs-real floor", "分类器 FID / 真实对真实的下限"), fid / fid_floor, cpu=5)
same = max(i for i, ep in enumerate(curve["epoch"]) if ep <= concat.epochs)   # same epochs
print(tr(f"after {curve['epoch'][same]} epochs: projection D {curve['accuracy'][same]:.3f}, "
         f"concat D {curve_cat['accuracy'][-1]:.3f}",
         f"{curve['epoch'][same]} 个迭代周期之后：投影判别网络 {curve['accuracy'][same]:.3f}，"
         f"拼接判别网络 {curve_cat['accuracy'][-1]:.3f}"))
quality.at_least(tr("accuracy, projection − concat D after the same epochs",
                    "准确率，相同迭代周期后投影判别网络 − 拼接判别网络"),
                 curve["accuracy"][same] - curve_cat["accuracy"][-1], cpu=0.3)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## From a label to a sentence (潜在应用：条件生成)
# The lecture's slide on what conditioning is for, 根据条件针对性的生成数据, shows faces drawn from
# sentences: **"Girl with red hair and red eyes"**, **"Girl with yellow ribbon"**. The game is the
# one above with a richer condition: a text encoder turns the sentence $c$ into a vector $g(c)$,
# and $G(z, g(c))$ and $D(x, g(c))$ take that vector where this notebook feeds $\mathrm{onehot}(y)$
# (a one-hot code is the embedding of a ten-word vocabulary). $D$ must now judge whether $x$ fits
# the sentence, so it is also shown real images with *wrong* sentences as fakes (Reed et al. 2016,
# "Generative Adversarial Text to Image Synthesis": the matching-aware discriminator), the
# sentence version of "a fine 3 asked to be a 7 is a fake".
#
# Forward in this course: notebook 13 trains a text encoder (a small CLIP) and conditions a
# diffusion model on its $g(c)$ where notebook 12 used a class label (notebook 13's section 4,
# GLIDE-style), with prompts that, like the slide's, add attributes to an object: "a dark {class}",
# "a light {class}" (13's section 6 measures whether the samples follow them). Notebook 14 does
# the same for clips: "a three moving right".

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises (练习)
# ### Exercise 09.1 — the input of the generator (练习 09.1)
# Write G's input: concatenate $z$ (N×d) and the one-hot code of $y$ (N,) into an
# N×(d+K) tensor.

# %% slideshow={"slide_type": "fragment"}
def g_input(z, y, n_classes=10):
    return None  # your code here: torch.cat([...], dim=1)


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def g_input(z, y, n_classes=10):
    onehot = F.one_hot(y, n_classes).to(z.dtype)   # N×K: a 1 in column y_i of row i
    return torch.cat([z, onehot], dim=1)
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.g_input(g_input)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 09.2 — the projection logit (练习 09.2)
# The projection discriminator's logit: given features $\phi$ (N×F), the output weight
# $w$ (F,), bias $b$ and the class embeddings $E$ (K×F), return $a = \phi w + b + \sum_f
# E_{y}\odot\phi$ (N,).

# %% slideshow={"slide_type": "fragment"}
def projection_logit(phi, w, b, E, y):
    return None  # your code here


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def projection_logit(phi, w, b, E, y):
    e_y = E[y]                                   # N×F: each sample's own class embedding
    return phi @ w + b + (e_y * phi).sum(dim=1)


# the library's projection discriminator computes exactly this
D_small = gan.ConditionalDiscriminator(10, x_shape=(4,), hidden=(4,), dropout=0.0,
                                       conditioning="projection").eval()
_x, _y = torch.randn(5, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([1, 0, 9, 9, 3])
with torch.no_grad():
    assert torch.allclose(D_small(_x, _y), projection_logit(
        D_small.phi(_x), D_small.out.weight[0], D_small.out.bias[0], D_small.embed.weight, _y),
        atol=1e-6)
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.projection_logit(projection_logit)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 09.3 — the conditional accuracy (练习 09.3)
# Conditional accuracy by hand: given the classifier's logits for the samples (N×K)
# and the requested labels (N,), return the fraction classified as requested.

# %% slideshow={"slide_type": "fragment"}
def conditional_accuracy_from_logits(logits, y):
    return None  # your code here


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def conditional_accuracy_from_logits(logits, y):
    predicted = logits.argmax(dim=1)             # the class the classifier picks
    return (predicted == y).float().mean()


# on the cGAN's samples it gives the conditional accuracy measured above by course_utils.evaluation
with torch.no_grad():
    _logits = clf.model(samples.to(device)).cpu()
assert abs(conditional_accuracy_from_logits(_logits, y_eval).item() - accuracy) < 1e-6
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.conditional_accuracy(conditional_accuracy_from_logits)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary (小结)
# - Conditioning G and D on $y$ turns "a digit" into "the digit $y$"; the label-sample pairing
#   is what D judges.
# - Conditional accuracy under an independent classifier measures whether G obeys the label;
#   the classifier-FID measures how close the sample distribution is to real digits (with the
#   real-vs-real floor beside it).
# - How the label enters D matters for how long training takes: compare the two curves above.
