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
# # 02 · Bayesian networks (有向图模型 · 贝叶斯网络)
# A Bayesian network is a generative model written as a graph: a DAG plus one local
# conditional distribution per node, $p(\mathbf{x}) = \prod_k p(x_k\mid \mathbf{x}_{\pi_k})$.
# We build the lecture's examples, check the factorisation, the local Markov property and the
# parameter count numerically, meet the lecture's undirected graphs (Markov random fields), then
# learn the CPDs of real networks (asia, alarm) by counting.
# Lecture: "概率图模型" ((a) 有向图, (b) 无向图), "有向图模型", "贝叶斯网络的性质", "有向图模型的学习".

# %% slideshow={"slide_type": "skip"}
import itertools
import warnings
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from course_utils import artifacts, plotting, profile, quality
from course_utils.exercises import graphical_models as ex
from course_utils.i18n import tr  # tr(English, Chinese): the words a figure or a line shows, in the notebook's language
from course_utils.pgm import BayesianNetwork, Factor, draw_network, example_network, sum_product

NOTEBOOK = "02_bayesian_networks"
rng = np.random.default_rng(0)


# %% slideshow={"slide_type": "skip"}
@dataclass(frozen=True)
class Config:
    n_ancestral: int        # ancestral samples of the 7-variable network
    sizes: tuple[int, ...]  # training-set sizes N of the learning curves (the last one also for asia, alarm)
    n_repeats: int          # independent data sets per size, averaged


cfg = profile.pick(
    smoke=Config(20_000, (100, 1_000, 10_000), 1),
    cpu=Config(100_000, (30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000), 3),
    full=Config(200_000, (30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000), 5),
)
cfg

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Definition (定义 11.1): $p(\mathbf{x}) = \prod_{k=1}^K p(x_k\mid\mathbf{x}_{\pi_k})$
# The lecture's 7-variable example (all binary here):
# $$p(x_1,\dots,x_7) = p(x_1)p(x_2)p(x_3)p(x_4\mid x_1,x_2,x_3)p(x_5\mid x_1,x_3)p(x_6\mid x_4)
# p(x_7\mid x_4,x_5).$$
# A CPD (conditional probability table) `cpd[x, *parents]` $= p(x\mid \text{parents})$ sums to
# 1 over its first axis, for every configuration of the parents.

# %% slideshow={"slide_type": "subslide"}
parents7 = {"x1": [], "x2": [], "x3": [], "x4": ["x1", "x2", "x3"], "x5": ["x1", "x3"],
            "x6": ["x4"], "x7": ["x4", "x5"]}


def random_cpd(v: str, pa: list[str], card: int = 2, rng=rng) -> Factor:
    """p(v | pa) with each column drawn from a Dirichlet(1, ..., 1): values[x, *pa]."""
    n_cols = card ** len(pa)
    table = rng.dirichlet(np.ones(card), size=n_cols).T              # (card, n_cols)
    return Factor([v, *pa], [card] * (1 + len(pa)), table.reshape([card] * (1 + len(pa))))


bn7 = BayesianNetwork(parents7, {v: random_cpd(v, pa) for v, pa in parents7.items()})
draw_network(bn7, title=tr("the lecture's 7-variable Bayesian network", "讲义中 7 个变量的贝叶斯网络"))
plt.show()
bn7

# %% [markdown] slideshow={"slide_type": "subslide"}
# The factorisation as code: one `einsum` multiplies the seven tables into the joint table
# (axis order $x_1,\dots,x_7$). It sums to 1 although we never normalised it.

# %% slideshow={"slide_type": "fragment"}
p1, p2, p3, p4, p5, p6, p7 = (bn7.cpds[v].values for v in bn7.variables)
joint7 = np.einsum("a,b,c,dabc,eac,fd,gde->abcdefg", p1, p2, p3, p4, p5, p6, p7)
print(tr(f"joint table shape {joint7.shape}, sum = {joint7.sum():.15f}",
         f"联合概率表的形状 {joint7.shape}，总和 = {joint7.sum():.15f}"))
assert np.isclose(joint7.sum(), 1.0, atol=1e-12)
assert np.allclose(joint7, bn7.joint().values)              # the library's product agrees
# why: summing out a leaf removes its CPD (it sums to 1), then the next leaf, and so on
without_x7 = np.einsum("a,b,c,dabc,eac,fd->abcdef", p1, p2, p3, p4, p5, p6)
assert np.allclose(joint7.sum(axis=6), without_x7)

# %% [markdown] slideshow={"slide_type": "subslide"}
# > **Pitfall (lecture slide "贝叶斯网络的性质", point 1).** The slide says two directly
# > connected nodes are *certainly* dependent and that every edge is a cause→effect relation.
# > Neither holds in general: an edge only *allows* dependence (a CPD may ignore its parent),
# > and the direction of an edge is not identified by the distribution: $a\to b$ and
# > $b\to a$ (with CPDs from Bayes' rule) describe exactly the same $p(a, b)$. Causal
# > readings need assumptions beyond the joint distribution.

# %% slideshow={"slide_type": "fragment"}
# (1) an edge a -> b whose CPD ignores a: a and b are independent
ab = BayesianNetwork({"a": [], "b": ["a"]},
                     {"a": Factor(["a"], [2], [0.3, 0.7]),
                      "b": Factor(["b", "a"], [2, 2], [[0.9, 0.9], [0.1, 0.1]])})
p_ab = ab.joint().values
assert np.allclose(p_ab, np.outer(p_ab.sum(1), p_ab.sum(0)))     # p(a,b) = p(a) p(b)
# (2) reverse a dependent edge with Bayes' rule: b -> a gives the same joint
ab2 = BayesianNetwork({"a": [], "b": ["a"]},
                      {"a": Factor(["a"], [2], [0.3, 0.7]),
                       "b": Factor(["b", "a"], [2, 2], [[0.9, 0.2], [0.1, 0.8]])})
j = ab2.joint()                                                  # axes (a, b)
p_b = j.marginalize(["a"])                                       # p(b)
p_a_given_b = (j / p_b).permute(["a", "b"])                      # p(a | b) = p(a,b) / p(b)
ba = BayesianNetwork({"b": [], "a": ["b"]}, {"b": p_b, "a": p_a_given_b})
assert ba.joint().allclose(j)
print(tr("a -> b and b -> a: same joint ✓; an edge with a constant CPD: independent ✓",
         "a -> b 与 b -> a：联合概率相同 ✓；条件概率表不随父节点变化的边：独立 ✓"))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Local Markov property and the number of parameters (局部马尔可夫性质)
# *Each variable is conditionally independent of its non-descendants given its parents.*
# The lecture's 4-variable example: the chain rule always holds,
# $$p(\mathbf{x}) = p(x_1)p(x_2\mid x_1)p(x_3\mid x_1,x_2)p(x_4\mid x_1,x_2,x_3),$$
# and the graph $x_1\to x_2,\ x_1\to x_3,\ x_2\to x_4,\ x_3\to x_4$ says
# $x_3\perp x_2\mid x_1$ and $x_4\perp x_1\mid x_2,x_3$, so
# $p(\mathbf{x}) = p(x_1)p(x_2\mid x_1)p(x_3\mid x_1)p(x_4\mid x_2,x_3)$.

# %% slideshow={"slide_type": "subslide"}
parents4 = {"x1": [], "x2": ["x1"], "x3": ["x1"], "x4": ["x2", "x3"]}
chain4 = {"x1": [], "x2": ["x1"], "x3": ["x1", "x2"], "x4": ["x1", "x2", "x3"]}  # chain rule
bn4 = BayesianNetwork(parents4, {
    "x1": Factor(["x1"], [2], [0.6, 0.4]),
    "x2": Factor(["x2", "x1"], [2, 2], [[0.9, 0.2], [0.1, 0.8]]),   # [x2, x1]
    "x3": Factor(["x3", "x1"], [2, 2], [[0.7, 0.1], [0.3, 0.9]]),   # [x3, x1]
    "x4": random_cpd("x4", ["x2", "x3"]),
})
full4 = BayesianNetwork(chain4, {v: random_cpd(v, pa) for v, pa in chain4.items()})
fig, ax = plt.subplots(1, 2, figsize=(8, 3))
draw_network(full4, ax=ax[0], title=tr(f"chain rule: {full4.n_free_parameters()} parameters",
                                        f"链式法则：{full4.n_free_parameters()} 个独立参数"))
draw_network(bn4, ax=ax[1], title=tr(f"the network: {bn4.n_free_parameters()} parameters",
                                     f"这个网络：{bn4.n_free_parameters()} 个独立参数"))
plt.show()


def count_free_entries(bn: BayesianNetwork) -> int:
    """Brute force: visit every entry of every CPD table; in each column (one parent configuration)
    all entries but the last are free, the last is 1 minus the others."""
    free = 0
    for f in bn.cpds.values():
        for index in np.ndindex(f.values.shape):     # (state of v, *parent states)
            free += index[0] < f.values.shape[0] - 1
    return free


# a joint of 4 binary variables has 2**4 - 1 free numbers; the lecture counts 1 + 2 + 2 + 4
assert count_free_entries(full4) == full4.n_free_parameters() == 2**4 - 1
assert count_free_entries(bn4) == bn4.n_free_parameters() == 9

# %% [markdown] slideshow={"slide_type": "subslide"}
# Check the independences on the network's joint table, axes $(x_1, x_2, x_3, x_4)$:
# $p(x_2, x_3\mid x_1) = p(x_2\mid x_1)\,p(x_3\mid x_1)$, although $x_2$ and $x_3$ are
# dependent when $x_1$ is not observed.

# %% slideshow={"slide_type": "fragment"}
P = bn4.joint().values                                   # p(x1, x2, x3, x4)
p123 = P.sum(axis=3)                                     # p(x1, x2, x3)
p1_ = p123.sum(axis=(1, 2))                              # p(x1)
p23_given_1 = p123 / p1_[:, None, None]                  # p(x2, x3 | x1)
p2_given_1 = p23_given_1.sum(axis=2)                     # p(x2 | x1)
p3_given_1 = p23_given_1.sum(axis=1)                     # p(x3 | x1)
gap_cond = np.abs(p23_given_1 - p2_given_1[:, :, None] * p3_given_1[:, None, :]).max()
p23 = p123.sum(axis=0)
gap_marg = np.abs(p23 - np.outer(p23.sum(1), p23.sum(0))).max()
print(f"max |p(x2,x3|x1) - p(x2|x1)p(x3|x1)| = {gap_cond:.2e};  "
      f"max |p(x2,x3) - p(x2)p(x3)| = {gap_marg:.3f}")
assert gap_cond < 1e-12                                  # x3 ⟂ x2 | x1
assert gap_marg > 1e-3                                   # but not marginally independent
# x4 ⟂ x1 | x2, x3: p(x4 | x1, x2, x3) does not depend on x1
p4_given_123 = P / p123[..., None]
assert np.allclose(p4_given_123[0], p4_given_123[1])
assert np.allclose(p4_given_123[0], bn4.cpds["x4"].values.transpose(1, 2, 0))  # = the CPD

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same check for every node of any small network: $p(x_k\mid \text{non-descendants})$ equals
# $p(x_k\mid \text{parents})$, the CPD itself.

# %% slideshow={"slide_type": "fragment"}
def descendants(bn: BayesianNetwork, v: str) -> set[str]:
    out, todo = set(), list(bn.children(v))
    while todo:
        c = todo.pop()
        if c not in out:
            out.add(c)
            todo.extend(bn.children(c))
    return out


def conditional(joint: Factor, v: str, given: list[str]) -> Factor:
    """p(v | given) read off a joint table, axes (v, *given)."""
    fam = joint.marginalize([u for u in joint.variables if u not in (v, *given)])
    return (fam / fam.marginalize([v])).permute([v, *given])


def local_markov_gap(bn: BayesianNetwork, joint: Factor) -> float:
    """max over k of |p(x_k | non-descendants) - p(x_k | parents)|: the graph of bn, the numbers of joint."""
    worst = 0.0
    for v in bn.variables:
        nondesc = [u for u in bn.variables if u != v and u not in descendants(bn, v)]
        card = [bn.card[u] for u in nondesc]
        ones = Factor(nondesc, card, np.ones(card))                      # broadcast helper
        given_pa = (conditional(joint, v, list(bn.parents[v])) * ones).permute([v, *nondesc])
        worst = max(worst, float(np.abs(conditional(joint, v, nondesc).values - given_pa.values).max()))
    return worst


for name, bn in [(tr("4-variable", "4 个变量"), bn4), (tr("7-variable", "7 个变量"), bn7)]:
    gap = local_markov_gap(bn, bn.joint())
    print(tr(f"{name}: local Markov property holds, max gap {gap:.1e}",
             f"{name}：局部马尔可夫性质成立，最大差距 {gap:.1e}"))
    assert gap < 1e-12
# a control: the chain-rule network's joint (x3 depends on x2 given x1) breaks the 4-variable graph's claims
gap_control = local_markov_gap(bn4, full4.joint())
print(tr(f"control, the 4-variable graph against another joint: max gap {gap_control:.2f}",
         f"对照，4 个变量的图配上另一个联合分布：最大差距 {gap_control:.2f}"))
assert gap_control > 0.01

# %% [markdown] slideshow={"slide_type": "subslide"}
# Why it matters: the saving grows exponentially. A real network, **alarm** (37 medical
# variables with 2–4 states), needs 509 numbers; the full joint table would need about $10^{16}$.

# %% slideshow={"slide_type": "fragment"}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)   # pgmpy 1.1 deprecation notices
    alarm = example_network("alarm")                 # offline: data/networks/alarm.bif.gz
    asia = example_network("asia")
n_joint = np.prod([float(c) for c in alarm.card.values()]) - 1
print(tr(f"alarm: {len(alarm.variables)} variables, {alarm.n_free_parameters()} free parameters, "
         f"full joint {n_joint:.2e}",
         f"alarm：{len(alarm.variables)} 个变量，{alarm.n_free_parameters()} 个独立参数，"
         f"完整的联合概率表要 {n_joint:.2e} 个"))
# the counts published with the bnlearn repository (bnlearn.com/bnrepository), and by brute force
published = {"asia": 18, "child": 230, "alarm": 509}
for name, n_published in published.items():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        bn = example_network(name)
    assert bn.n_free_parameters() == count_free_entries(bn) == n_published, name
draw_network(alarm, title=tr("alarm (ALARM monitoring system, Beinlich et al. 1989)",
                              "alarm（ALARM 病人监护系统，Beinlich 等，1989）"))
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Undirected graphs: Markov random fields (无向图：马尔可夫随机场)
# The lecture's 概率图模型 has two kinds of graph: (a) directed, the Bayesian networks of this
# notebook, and (b) undirected, **Markov random fields** (MRF). An undirected edge has no
# direction and no conditional distribution. Instead each **clique** $C$ (a set of nodes all joined
# to each other) carries a **potential** $\psi_C(\mathbf{x}_C) \ge 0$, any non-negative table:
# $$p(\mathbf{x}) = \frac{1}{Z}\prod_{C}\psi_C(\mathbf{x}_C), \qquad
#   Z = \sum_{\mathbf{x}}\prod_{C}\psi_C(\mathbf{x}_C)\quad \text{(the partition function, 配分函数)}.$$
# In a Bayesian network the factors are CPDs and $Z = 1$ by construction. In an MRF, $Z$ is a sum
# over every configuration, and computing it is what makes MRFs hard (notebook 05's Ising image is
# an MRF whose $Z$ has $2^{144}$ terms).
#
# **Local Markov property** (undirected): each variable is independent of all the others given its
# **neighbours**, $x_v \perp \mathbf{x}_{\text{rest}} \mid \mathbf{x}_{N(v)}$: the neighbours are its
# Markov blanket. In a DAG it was "given the parents, of the non-descendants".

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### An example: four students on a cycle
# Koller & Friedman's "misconception" network (*Probabilistic Graphical Models*, 2009, §4.1): students
# A, B, C, D study in pairs A–B, B–C, C–D, D–A, and $x = 1$ means a student holds a misconception.
# Each pair's potential says how strongly the pair tends to agree (B–C, D–A) or to disagree (C–D).
# The cliques are the four edges. Below: $p$ and $Z$ with the course's `Factor` algebra, checked
# against enumerating the 16 states with plain loops, and against pgmpy's `DiscreteMarkovNetwork`.

# %% slideshow={"slide_type": "fragment"}
psi = {("A", "B"): [[30, 5], [1, 10]],        # psi[(u, w)][x_u][x_w] ≥ 0: any numbers, not probabilities
       ("B", "C"): [[100, 1], [1, 100]],
       ("C", "D"): [[1, 100], [100, 1]],
       ("D", "A"): [[100, 1], [1, 100]]}
mrf_vars = ["A", "B", "C", "D"]
potentials = [Factor(list(clique), [2, 2], table) for clique, table in psi.items()]

# the course's Factor algebra: the product of the potentials, then Z = the sum of all its entries
product = Factor.unit()
for f in potentials:
    product = product * f
product = product.permute(mrf_vars)
Z = product.values.sum()
p_mrf = Factor(mrf_vars, [2] * 4, product.values / Z)             # p(A, B, C, D)

# brute force: every one of the 2^4 states, the product of four table entries
p_brute = np.zeros((2,) * 4)
for x in itertools.product([0, 1], repeat=4):
    s = dict(zip(mrf_vars, x))
    p_brute[x] = np.prod([table[s[u]][s[w]] for (u, w), table in psi.items()])
Z_brute = p_brute.sum()
p_brute /= Z_brute
print(tr(f"Z = {Z:,.0f} (Factor algebra) = {Z_brute:,.0f} (enumeration); ",
         f"Z = {Z:,.0f}（因子运算）= {Z_brute:,.0f}（枚举）；")
      + f"p(A=0, B=1, C=1, D=0) = {p_mrf.values[0, 1, 1, 0]:.3f}, p(0, 0, 0, 0) = {p_mrf.values[0, 0, 0, 0]:.3f}")
assert np.isclose(Z, Z_brute, rtol=1e-12) and np.isclose(Z, 7_201_840, rtol=1e-12)  # K&F print 7,201,840
assert np.allclose(p_mrf.values, p_brute, atol=1e-15)

# %% slideshow={"slide_type": "fragment"}
# controls, the slips these checks catch: Z with each potential normalised on its own; ψ_AB transposed
z_each = np.prod([np.sum(table) for table in psi.values()])   # Π_C Σ ψ_C: as if the cliques were independent
flipped = Factor(["B", "A"], [2, 2], psi[("A", "B")])           # ψ_AB's table read as ψ(B, A)
p_flipped = Factor.unit()
for f in [flipped, *potentials[1:]]:
    p_flipped = p_flipped * f
p_flipped = p_flipped.permute(mrf_vars).normalize()
gap_flipped = np.abs(p_flipped.values - p_brute).max()
print(tr(f"controls: Π_C Σ ψ_C = {z_each:,.0f} ≠ Z;  ψ_AB read transposed: Z unchanged, "
         f"max |p − p_enumeration| = {gap_flipped:.2f}",
         f"对照：Π_C Σ ψ_C = {z_each:,.0f} ≠ Z；把 ψ_AB 转置着读：Z 不变，"
         f"max |p − p_枚举| = {gap_flipped:.2f}"))
assert not np.isclose(z_each, Z_brute, rtol=0.01) and gap_flipped > 0.1

# %% [markdown] slideshow={"slide_type": "subslide"}
# A potential is **not** a marginal: $\psi_{AB}$ normalised says $(A, B) = (0, 0)$ is the most
# likely pair; the marginal $p(A, B)$, where the other three potentials have their say, says
# $(0, 1)$. The marginal is computed three ways: summing the enumerated table; the course's
# variable elimination on the potentials (`sum_product` sums out C and D, then divides by $Z$,
# never building the joint); and pgmpy's `VariableElimination` on its own Markov network.

# %% slideshow={"slide_type": "fragment"}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")                  # pgmpy 1.1's deprecation notices
    from pgmpy.factors.discrete import DiscreteFactor
    from pgmpy.inference import VariableElimination
    from pgmpy.models import DiscreteMarkovNetwork

    mn = DiscreteMarkovNetwork(list(psi))
    mn.add_factors(*[DiscreteFactor(list(c), [2, 2], np.ravel(table)) for c, table in psi.items()])
    Z_pgmpy = float(mn.get_partition_function())
    q_ab = VariableElimination(mn).query(["A", "B"], show_progress=False)   # may come unnormalised
    p_ab_pgmpy = np.array([[q_ab.get_value(A=a, B=b) for b in (0, 1)] for a in (0, 1)])
    p_ab_pgmpy /= p_ab_pgmpy.sum()
    pgmpy_independencies = {(a.event1, a.event2, a.event3) for a in mn.get_local_independencies().get_assertions()}

p_ab_ve = sum_product(potentials, keep=["A", "B"]).values / sum_product(potentials).scalar()
p_ab_brute = p_brute.sum(axis=(2, 3))
psi_ab = np.array(psi[("A", "B")]) / np.sum(psi[("A", "B")])
print(tr(f"pgmpy's Z = {Z_pgmpy:,.0f}", f"pgmpy 的 Z = {Z_pgmpy:,.0f}"))
print("p(A, B): ", tr("enumeration", "枚举"), p_ab_brute.round(3).tolist(), tr(" course VE", " 课程的变量消去法"),
      p_ab_ve.round(3).tolist(), " pgmpy", p_ab_pgmpy.round(3).tolist())
print(tr("ψ_AB normalised (not a marginal):", "归一化的 ψ_AB（不是边际概率）："), psi_ab.round(3).tolist())
assert np.isclose(Z_pgmpy, Z_brute, rtol=1e-12)
assert np.allclose(p_ab_ve, p_ab_brute, atol=1e-12) and np.allclose(p_ab_pgmpy, p_ab_brute, atol=1e-12)
assert np.abs(psi_ab - p_ab_brute).max() > 0.3                   # the potential is far from the marginal

# %% [markdown] slideshow={"slide_type": "subslide"}
# **The local Markov property, checked on the numbers.** For each student $v$, $p(x_v \mid$ the
# other three$)$ must equal $p(x_v \mid$ its two neighbours$)$, and equal the product of the two
# potentials that touch $v$, normalised over $x_v$ (every other factor cancels in the ratio).
# pgmpy reads the same independences off the graph alone. A control: given only *one* neighbour,
# A still depends on C (through D).

# %% slideshow={"slide_type": "fragment"}
neighbours = {v: sorted({u for c in psi for u in c if v in c} - {v}) for v in mrf_vars}


def mrf_markov_gaps(p: Factor, v: str, given: list[str]) -> tuple[float, float]:
    """max |p(v | all others) − p(v | given)|, and max |p(v | given) − Π_{C ∋ v} ψ_C normalised over v|."""
    others = [u for u in mrf_vars if u != v]
    ones = Factor(others, [2] * 3, np.ones([2] * 3))                     # broadcast helper
    given_only = conditional(p, v, given)
    gap_rest = np.abs(conditional(p, v, others).values - (given_only * ones).permute([v, *others]).values).max()
    touching = Factor.unit()
    for f in potentials:
        if v in f.variables:
            touching = touching * f
    local = (touching / touching.marginalize([v])).permute([v, *given])  # Σ_v: normalised over x_v
    return float(gap_rest), float(np.abs(local.values - given_only.values).max())


for v in mrf_vars:
    gap_rest, gap_local = mrf_markov_gaps(p_mrf, v, neighbours[v])
    print(tr(f"{v} ⟂ the rest | {', '.join(neighbours[v])}: gaps {gap_rest:.1e} (numbers), "
             f"{gap_local:.1e} (its potentials)",
             f"{v} ⟂ 其余变量 | {', '.join(neighbours[v])}：差距 {gap_rest:.1e}（数值），"
             f"{gap_local:.1e}（它的势函数）"))
    assert gap_rest < 1e-12 and gap_local < 1e-12
# the graph's statements, as pgmpy derives them: v ⟂ non-neighbours | neighbours
ours = {(frozenset({v}), frozenset(set(mrf_vars) - {v} - set(neighbours[v])), frozenset(neighbours[v]))
        for v in mrf_vars}
assert ours == pgmpy_independencies, (ours, pgmpy_independencies)
# control: given B alone, A and C are dependent (the path A – D – C is open)
p_abc = p_mrf.marginalize(["D"])
gap_one = np.abs(conditional(p_abc, "A", ["B", "C"]).values
                 - (conditional(p_abc, "A", ["B"]) * Factor(["C"], [2], [1, 1])).permute(["A", "B", "C"]).values).max()
print(tr("control: ", "对照：") + f"max |p(A | B, C) − p(A | B)| = {gap_one:.3f}")
assert gap_one > 0.01

# %% slideshow={"slide_type": "fragment"}
fig, ax = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [1, 2.4]})
pos = {"A": (0, 1), "B": (1, 1), "C": (1, 0), "D": (0, 0)}
for u, w in psi:
    ax[0].plot(*zip(pos[u], pos[w]), "k-", lw=1.5, zorder=1)
    ax[0].annotate(f"ψ_{u}{w}", np.add(pos[u], pos[w]) / 2, ha="center", va="center", fontsize=9,
                   bbox=dict(boxstyle="round", fc="white", ec="none"))
for v, (px, py) in pos.items():
    ax[0].scatter(px, py, s=900, c="#cfe3f7", edgecolors="k", zorder=2)
    ax[0].annotate(v, (px, py), ha="center", va="center", fontsize=12, zorder=3)
ax[0].set(xlim=(-0.4, 1.4), ylim=(-0.4, 1.4), title=tr("an MRF: four cliques, no directions",
                                                       "马尔可夫随机场：四个团，没有方向"))
ax[0].set_aspect("equal")
ax[0].axis("off")
labels = ["".join(map(str, x)) for x in itertools.product([0, 1], repeat=4)]
ax[1].bar(range(16), p_mrf.values.ravel(), color="C0")
ax[1].set_xticks(range(16), labels=labels, rotation=90, fontsize=8)
ax[1].set(xlabel=tr("state (A B C D)", "状态 (A B C D)"), ylabel="p(x) = Π ψ / Z",
          title=tr(f"the 16 states, Z = {Z:,.0f}", f"16 个状态，Z = {Z:,.0f}"))
plt.tight_layout()
plotting.savefig(fig, NOTEBOOK, "markov_random_field")
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# Speaker notes: a Bayesian network is an MRF too: each CPD is a potential over its family and
# $Z = 1$; its undirected graph is the *moral* graph (parents of a common child joined), which is
# what notebook 04's junction tree starts from. The converse fails: no DAG over A, B, C, D has
# exactly this cycle's independences (A ⟂ C | B, D and B ⟂ D | A, C). Ask where $Z$ went in the
# local Markov check (it cancels in every conditional), and why Gibbs sampling (notebook 05) only
# ever needs those local conditionals.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Generating data: ancestral sampling (生成新的数据)
# A Bayesian network is a generative model: visit the nodes in topological order and draw
# each $x_k \sim p(x_k\mid \mathbf{x}_{\pi_k})$ from the CPD column picked by the parents'
# values. The frequencies of the samples approach the joint table.

# %% slideshow={"slide_type": "subslide"}
def ancestral_sample(bn: BayesianNetwork, n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples (n, K), columns in bn.variables (a topological order)."""
    x = np.zeros((n, len(bn.variables)), dtype=np.int64)
    col = {v: k for k, v in enumerate(bn.variables)}
    for v in bn.variables:                                      # parents come first
        cpd = bn.cpds[v].values                                 # [x_v, *parents]
        probs = cpd[(slice(None), *(x[:, col[p]] for p in bn.parents[v]))]  # column per row
        probs = probs.reshape(cpd.shape[0], -1)                 # (card, n), or (card, 1): root
        u = rng.random(n)
        x[:, col[v]] = (u[None, :] > np.cumsum(probs, axis=0)).sum(axis=0)  # inverse CDF
    return np.minimum(x, [bn.card[v] - 1 for v in bn.variables])


def total_variation(samples: np.ndarray, joint: np.ndarray) -> float:
    """½ Σ_x |frequency of x among the samples − p(x)|."""
    counts = np.bincount(np.ravel_multi_index(tuple(samples.T), joint.shape), minlength=joint.size)
    return 0.5 * float(np.abs(counts / len(samples) - joint.ravel()).sum())


def tv_bound(joint: np.ndarray, n: int, false_alarm: float = 1e-3) -> float:
    """A total variation that n right samples exceed with probability below ``false_alarm``:
    E[TV] ≤ ½ Σ √(p(1−p)/n) (Jensen), and one sample moves TV by at most 1/n (McDiarmid)."""
    return 0.5 * float(np.sqrt(joint * (1 - joint) / n).sum()) + np.sqrt(np.log(1 / false_alarm) / (2 * n))


n7 = cfg.n_ancestral
samples7 = ancestral_sample(bn7, n7, rng)
tv = total_variation(samples7, joint7)
print(tr(f"total variation between sample frequencies and the joint: {tv:.4f} "
         f"({n7:,} samples, {joint7.size} cells; a right sampler stays below {tv_bound(joint7, n7):.4f})",
         f"样本频率与联合分布之间的总变差：{tv:.4f}"
         f"（{n7:,} 个样本，{joint7.size} 个格子；正确的采样器低于 {tv_bound(joint7, n7):.4f}）"))
assert tv < tv_bound(joint7, n7)
lib = bn7.sample(n7, np.random.default_rng(1))              # course_utils' vectorised copy
assert total_variation(lib, joint7) < tv_bound(joint7, n7)
# a control: a sampler that reads p(x4 | x1, x2, x3) with its parents in reverse order fails
x4_reversed = bn7.cpds["x4"].values.transpose(0, 3, 2, 1)   # [x4, x3, x2, x1] read as [x4, x1, x2, x3]
bug7 = BayesianNetwork(parents7, {**bn7.cpds, "x4": Factor(bn7.cpds["x4"].variables, [2] * 4, x4_reversed)})
tv_bug = total_variation(ancestral_sample(bug7, n7, rng), joint7)
print(tr(f"control, parents read in reverse order: total variation {tv_bug:.4f}",
         f"对照，父节点按相反的顺序读：总变差 {tv_bug:.4f}"))
assert tv_bug > tv_bound(joint7, n7)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Learning: maximum likelihood by counting (有向图模型的学习)
# The log-likelihood splits into one term per variable,
# $$\mathcal{L}(\mathcal{D};\theta)=\sum_{n}\log p(\mathbf{x}^{(n)};\theta)
# = \sum_{k=1}^K \underbrace{\sum_{n}\log p(x_k^{(n)}\mid \mathbf{x}_{\pi_k}^{(n)};\theta_k)}_{
# \text{depends on } \theta_k \text{ only}},$$
# so each CPD is fitted on its own:
# $\theta_k=\arg\max\sum_n \log p(x_k^{(n)}\mid \mathbf{x}_{\pi_k}^{(n)};\theta_k)$. For a
# table the maximiser is the relative frequency
# $\hat p(x_k = i\mid \mathbf{x}_{\pi_k} = j) = N(i, j) / N(j)$.

# %% slideshow={"slide_type": "subslide"}
def mle_cpd(data: np.ndarray, bn: BayesianNetwork, v: str) -> np.ndarray:
    """N(x_v, x_pa) / N(x_pa), uniform where a parent configuration was never seen."""
    col = {u: k for k, u in enumerate(bn.variables)}
    family = [v, *bn.parents[v]]
    counts = np.zeros([bn.card[u] for u in family])
    np.add.at(counts, tuple(data[:, col[u]] for u in family), 1)    # N(x_v, x_pa)
    n_pa = counts.sum(axis=0, keepdims=True)                        # N(x_pa)
    return np.where(n_pa > 0, counts / np.maximum(n_pa, 1), 1 / bn.card[v])


data_asia = asia.sample(cfg.sizes[-1], rng)
fit_asia = asia.fit_mle(data_asia)
for v in asia.variables:                       # our counting == course_utils.pgm.fit_mle
    assert np.allclose(mle_cpd(data_asia, asia, v), fit_asia.cpds[v].values)
print(tr("true p(dysp | bronc, either):\n", "真实的 p(dysp | bronc, either)：\n"), asia.cpds["dysp"].values[0].round(3),
      tr("\nestimated:\n", "\n估计值：\n"), fit_asia.cpds["dysp"].values[0].round(3))

# %% [markdown] slideshow={"slide_type": "subslide"}
# pgmpy's `MaximumLikelihoodEstimator` on the same samples (as a table of state names) gives
# the same CPDs.

# %% slideshow={"slide_type": "fragment"}
import pandas as pd

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    from pgmpy.estimators import MaximumLikelihoodEstimator

    df = pd.DataFrame({v: np.array(asia.states[v])[data_asia[:, k]]
                       for k, v in enumerate(asia.variables)})
    mle_pgmpy = MaximumLikelihoodEstimator(asia.to_pgmpy(), df)
    for v in asia.variables:
        c, f = mle_pgmpy.estimate_cpd(v), fit_asia.cpds[v]
        for idx in itertools.product(*(range(k) for k in f.cardinality)):
            names = {u: asia.states[u][i] for u, i in zip(f.variables, idx)}
            assert np.isclose(f.values[idx], c.get_value(**names))
print(tr("counting == pgmpy MaximumLikelihoodEstimator ✓", "计数 == pgmpy 的 MaximumLikelihoodEstimator ✓"))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **The decomposition, checked.** On asia (8 variables, a 256-cell joint) we can compute
# $\sum_n \log p(\mathbf{x}^{(n)})$ from the joint table directly and compare it with the sum
# of the per-variable terms. On alarm the joint table is out of reach, so the sum of the terms is
# compared with the maximised log-likelihood written with counts alone, no CPD looked up:
# $\sum_k \sum_{i,j} N_k(i,j)\log\frac{N_k(i,j)}{N_k(j)}
# = \sum_k \big(\sum_{i,j} N_k(i,j)\log N_k(i,j) - \sum_j N_k(j)\log N_k(j)\big)$.

# %% slideshow={"slide_type": "fragment"}
def family_log_lik(bn: BayesianNetwork, data: np.ndarray, v: str) -> float:
    """sum_n log p(x_v^n | x_pa^n): look up each row's CPD entry."""
    col = {u: k for k, u in enumerate(bn.variables)}
    return float(np.log(bn.cpds[v].values[tuple(data[:, col[u]]
                                                 for u in (v, *bn.parents[v]))]).sum())


ll_joint = np.log(fit_asia.joint().values[tuple(data_asia.T)]).sum()
terms = {v: family_log_lik(fit_asia, data_asia, v) for v in asia.variables}
print(tr(f"asia: log-likelihood from the joint {ll_joint:.6f} = sum of terms {sum(terms.values()):.6f}",
         f"asia：由联合分布算出的对数似然 {ll_joint:.6f} = 各项之和 {sum(terms.values()):.6f}"))
assert np.isclose(ll_joint, sum(terms.values()), rtol=1e-12)
assert np.isclose(fit_asia.log_likelihood(data_asia), ll_joint, rtol=1e-12)
# the MLE beats the true parameters on its own training data
assert fit_asia.log_likelihood(data_asia) >= asia.log_likelihood(data_asia)



def max_log_lik_from_counts(bn: BayesianNetwork, data: np.ndarray) -> float:
    """Σ_k Σ_{i,j} N_k(i,j) log(N_k(i,j)/N_k(j)): the log-likelihood at the MLE, from the data's counts
    (np.unique over each family's columns); a root's N(j) is the number of rows N."""
    col = {u: k for k, u in enumerate(bn.variables)}
    total = 0.0
    for v in bn.variables:
        pa = [col[p] for p in bn.parents[v]]
        _, n_ij = np.unique(data[:, [col[v], *pa]], axis=0, return_counts=True)
        n_j = np.unique(data[:, pa], axis=0, return_counts=True)[1] if pa else np.array([len(data)])
        total += float(np.sum(n_ij * np.log(n_ij)) - np.sum(n_j * np.log(n_j)))
    return total


data_alarm = alarm.sample(cfg.sizes[-1], rng)
fit_alarm = alarm.fit_mle(data_alarm, pseudocount=0.0)
terms_alarm = {v: family_log_lik(fit_alarm, data_alarm, v) for v in alarm.variables}
ll_counts = max_log_lik_from_counts(alarm, data_alarm)
# controls, each a fit that is not the MLE: the true CPDs, and Laplace smoothing (pseudocount 1)
miss = {tr("true CPDs", "真实的条件概率表"): alarm.log_likelihood(data_alarm) - ll_counts,
        tr("pseudocount 1", "伪计数 1"): alarm.fit_mle(data_alarm, pseudocount=1.0).log_likelihood(data_alarm) - ll_counts}
print(tr(f"alarm: sum of the terms {sum(terms_alarm.values()):.6f}, from the counts {ll_counts:.6f}; controls: ",
         f"alarm：各项之和 {sum(terms_alarm.values()):.6f}，由计数算出 {ll_counts:.6f}；对照：")
      + tr(", ", "，").join(tr(f"{k} {d:+.1f} nats", f"{k} {d:+.1f} 奈特") for k, d in miss.items()))
assert np.isclose(sum(terms_alarm.values()), ll_counts, rtol=1e-12)
assert np.isclose(fit_alarm.log_likelihood(data_alarm), ll_counts, rtol=1e-12)
assert all(d < -1.0 for d in miss.values()), "a fit that is not the MLE must score below the counts' value"
fig, ax = plt.subplots(figsize=(10, 3))
ax.bar(range(len(terms_alarm)), [-t / len(data_alarm) for t in terms_alarm.values()])
ax.set_xticks(range(len(terms_alarm)), labels=list(terms_alarm), rotation=90, fontsize=7)
ax.set(ylabel=tr("-(1/N) Σ_n log p(x_k | x_πk)  (nats)", "-(1/N) Σ_n log p(x_k | x_πk)（奈特）"),
       title=tr("alarm: the negative log-likelihood, one term per variable", "alarm：负对数似然，每个变量一项"))
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Convergence.** With more samples the estimated CPDs approach the true ones. The error is the
# mean absolute difference of all CPD entries; rare parent configurations (seen a handful of
# times) dominate it, which is why alarm converges more slowly than asia. The dashed line is
# the $1/\sqrt{N}$ rate of a frequency estimate.

# %% slideshow={"slide_type": "fragment"}
def cpd_error(true: BayesianNetwork, fit: BayesianNetwork) -> float:
    """Mean over all CPD entries of |p_hat - p|."""
    diffs = [np.abs(fit.cpds[v].values - true.cpds[v].values).ravel() for v in true.variables]
    return float(np.concatenate(diffs).mean())


errors = {}
n_repeats = profile.capped(cfg.n_repeats)   # each repeat is a round of fits: a dry run does fewer
for name, bn in [("asia", asia), ("alarm", alarm)]:
    errs = np.zeros((n_repeats, len(cfg.sizes)))
    for r in range(n_repeats):
        d = bn.sample(cfg.sizes[-1], np.random.default_rng(100 + r))
        errs[r] = [cpd_error(bn, bn.fit_mle(d[:n])) for n in cfg.sizes]
    errors[name] = errs.mean(axis=0)
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for name, e in errors.items():
    ax.loglog(cfg.sizes, e, "o-", label=name)
ns = np.array(cfg.sizes, dtype=float)
ax.loglog(ns, errors["asia"][0] * np.sqrt(ns[0] / ns), "k--", label="∝ 1/√N")
ax.set(xlabel=tr("training samples N", "训练样本数 N"),
       ylabel=tr("mean |p̂ − p| over CPD entries", "条件概率表各项的平均 |p̂ − p|"),
       title=tr("maximum likelihood converges to the true CPDs", "最大似然估计收敛到真实的条件概率表"))
ax.legend()
plotting.savefig(fig, NOTEBOOK, "cpd_error_curve")
plt.show()
slopes = {name: float(np.polyfit(np.log(ns), np.log(e), 1)[0]) for name, e in errors.items()}
shrink = {name: float(e[-1] / e[0]) for name, e in errors.items()}
print(tr("log-log slope of the error:", "误差在双对数坐标下的斜率："), {k: round(v, 2) for k, v in slopes.items()},
      tr("; error at the largest N / at the smallest:", "；最大 N 处的误差 / 最小 N 处的误差："),
      {k: round(v, 3) for k, v in shrink.items()})
# measured: asia's slope -0.63 (smoke) and -0.59 (cpu); alarm's ratio 0.15 (smoke) and 0.04 (cpu)
quality.at_most(tr("asia: slope of log error against log N", "asia：log 误差对 log N 的斜率"), slopes["asia"],
                smoke=-0.4, cpu=-0.4, full=-0.4)
quality.at_most(tr("alarm: error at the largest N / at the smallest", "alarm：最大 N 处的误差 / 最小 N 处的误差"),
                shrink["alarm"], smoke=0.5, cpu=0.1, full=0.1)
_ = artifacts.save_metrics(NOTEBOOK, {f"cpd_error_{k}_N{cfg.sizes[-1]}": float(v[-1])
                                      for k, v in errors.items()})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Try it: pick a network and a sample size
# The bars show, per variable, the mean absolute error of its estimated CPD. Which variables
# are hard to learn? (Hint: count their parent configurations.)

# %% slideshow={"slide_type": "subslide"}
import ipywidgets as widgets


def show_mle(network: str = "asia", log10_n: float = 3.0, pseudocount: float = 0.0) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        bn = example_network(network)
    n = int(10**log10_n)
    fit = bn.fit_mle(bn.sample(n, np.random.default_rng(0)), pseudocount=pseudocount)
    err = [np.abs(fit.cpds[v].values - bn.cpds[v].values).mean() for v in bn.variables]
    n_cols = [np.prod([bn.card[p] for p in bn.parents[v]]) for v in bn.variables]
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.bar(range(len(err)), err, color=plt.cm.viridis(np.log(n_cols) / np.log(max(n_cols) + 1)))
    ax.set_xticks(range(len(err)), labels=list(bn.variables), rotation=90, fontsize=7)
    ax.set(ylabel=tr("mean |p̂ − p|", "平均 |p̂ − p|"),
           title=tr(f"{network}: N = {n:,}, overall error {cpd_error(bn, fit):.4f} "
                    "(colour: number of parent configurations)",
                    f"{network}：N = {n:,}，总误差 {cpd_error(bn, fit):.4f}（颜色：父节点取值组合的个数）"))
    plt.show()


_ = widgets.interact(show_mle,
                     network=widgets.Dropdown(options=["asia", "cancer", "sachs", "child", "insurance", "alarm"],
                                              value="asia", description=tr("network", "网络")),
                     log10_n=widgets.FloatSlider(3.0, min=1.5, max=5.0, step=0.5, description="log₁₀ N"),
                     pseudocount=widgets.FloatSlider(0.0, min=0.0, max=5.0, step=0.5,
                                                     description=tr("pseudocount", "伪计数")))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises (练习)
# ### Exercise 02.1 — the number of free parameters (练习 02.1)
# Count the free parameters of any discrete Bayesian network from its graph (`parents`,
# a dict of parent lists) and its numbers of states (`card`, a dict): $(|x_k|-1)$ times the
# number of parent configurations, summed over $k$. Then answer: in the 7-variable network, let
# $x_4$ have **3** states and all other variables 2; how many free parameters? (The check counts
# the entries of the CPD tables on three networks.)

# %% slideshow={"slide_type": "fragment"}
def my_n_free_parameters(parents: dict[str, list[str]], card: dict[str, int]) -> int | None:
    # YOUR CODE HERE
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def my_n_free_parameters(parents: dict[str, list[str]], card: dict[str, int]) -> int | None:
    return sum((card[v] - 1) * int(np.prod([card[p] for p in pa])) for v, pa in parents.items())


card_ex = {v: 3 if v == "x4" else 2 for v in parents7}
# x1, x2, x3: 1 each; x4: 2 * 8; x5: 1 * 4; x6: 1 * 3; x7: 1 * (3 * 2)
print("x4 with 3 states:", my_n_free_parameters(parents7, card_ex), "free parameters")
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.n_free_parameters(my_n_free_parameters)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 02.2 — p(x3 | x1) from the joint (练习 02.2)
# From the 4-variable joint table `P` (axes $x_1..x_4$) alone, compute the table
# $p(x_3\mid x_1)$, indexed `[x3, x1]`. What should it be equal to? (The check builds three
# networks with the lecture's graph, random CPDs and some variables with 3 or 4 states, and
# compares your table with the CPD of $x_3$ that built each joint.)

# %% slideshow={"slide_type": "fragment"}
def my_p3_given_1(P: np.ndarray) -> np.ndarray | None:
    # YOUR CODE HERE
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
# Solution: it is the network's own CPD of x3 (the factorisation is a set of conditionals)
def my_p3_given_1(P: np.ndarray) -> np.ndarray | None:
    p13 = P.sum(axis=(1, 3))                       # p(x1, x3)
    return (p13 / p13.sum(axis=1, keepdims=True)).T


assert np.allclose(my_p3_given_1(P), bn4.cpds["x3"].values)    # and on bn4's joint: its CPD
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.p3_given_1(my_p3_given_1)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 02.3 — a smoothed CPD (练习 02.3)
# Laplace smoothing: write the estimate of $p(\text{dysp}\mid\text{bronc},\text{either})$
# with pseudocount $a$, $\hat p(i\mid j) = (N(i,j)+a)/(N(j) + a\,|x|)$, from data with columns
# in `asia.variables` order. Return an array indexed `[dysp, bronc, either]`. (The check uses
# three samples of asia, with 20, 200 and 2,000 rows.)

# %% slideshow={"slide_type": "fragment"}
def my_smoothed_dysp(data: np.ndarray, a: float) -> np.ndarray | None:
    # YOUR CODE HERE
    return None


# %% slideshow={"slide_type": "skip"} jupyter={"source_hidden": true}
### BEGIN SOLUTION
def my_smoothed_dysp(data: np.ndarray, a: float) -> np.ndarray | None:
    col = {v: k for k, v in enumerate(asia.variables)}
    counts = np.zeros((2, 2, 2))
    np.add.at(counts, (data[:, col["dysp"]], data[:, col["bronc"]], data[:, col["either"]]), 1)
    counts += a
    return counts / counts.sum(axis=0, keepdims=True)
### END SOLUTION

# %% slideshow={"slide_type": "fragment"}
_ = ex.smoothed_dysp(my_smoothed_dysp)
