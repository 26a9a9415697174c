"""Discrete factors and Bayesian networks as values (the lecture's 概率图模型 / 有向图模型).

- :class:`Factor` is a table ``phi(x_1, ..., x_n)`` over named discrete variables. Every
  operation (product, marginalize, reduce, normalize, ...) returns a new factor; nothing is
  modified in place (pgmpy's algebra, minus its ``inplace`` flag).
- :class:`BayesianNetwork` is a DAG plus one conditional probability table (CPD) per variable,
  ``p(x) = prod_k p(x_k | x_{pi_k})`` (lecture eq. 11.8), with ancestral sampling, maximum
  likelihood by counting, the log-likelihood, and loaders for pgmpy's bundled networks.

States are always integer indices ``0 .. card-1``; state *names* are kept for display only.
"""

from __future__ import annotations

import functools
import gzip
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.paths import ROOT, data_dir

__all__ = ["Factor", "BayesianNetwork", "read_bif", "draw_network", "EXAMPLE_NETWORKS",
           "MAX_JOINT_ENTRIES"]

#: joint() refuses tables larger than this (4M float64 entries = 32 MiB).
MAX_JOINT_ENTRIES = 2**22

#: Networks that ``BayesianNetwork.example`` loads offline (pgmpy's bundled .bif files).
EXAMPLE_NETWORKS = (
    "asia", "cancer", "earthquake", "survey", "sachs", "child", "insurance", "alarm",
    "win95pts", "hailfinder", "hepar2", "andes", "pigs", "water", "link",
)


# --------------------------------------------------------------------------------------------
# Factor
# --------------------------------------------------------------------------------------------
class Factor:
    """A table phi over named discrete variables; ``values.shape == cardinality``.

    Immutable: the values array is a read-only copy and every method returns a new Factor.
    """

    __slots__ = ("variables", "cardinality", "values")

    variables: tuple[str, ...]
    cardinality: tuple[int, ...]
    values: np.ndarray

    def __init__(self, variables: Sequence[str], cardinality: Sequence[int], values: Any):
        if isinstance(variables, str):
            raise TypeError(f"variables must be a sequence of names, not the string {variables!r}")
        variables = tuple(variables)
        cardinality = tuple(int(c) for c in cardinality)
        if len(variables) != len(cardinality):
            raise ValueError(
                f"{len(variables)} variables {variables} but {len(cardinality)} cardinalities "
                f"{cardinality}"
            )
        dupes = sorted({v for v in variables if variables.count(v) > 1})
        if dupes:
            raise ValueError(f"duplicate variables in a factor: {dupes}")
        if any(c < 1 for c in cardinality):
            raise ValueError(f"cardinalities must be >= 1, got {cardinality}")
        arr = np.array(values, dtype=float)  # always a copy
        if arr.size == math.prod(cardinality) and arr.shape != cardinality and arr.ndim <= 1:
            arr = arr.reshape(cardinality)  # a flat list in C order is accepted
        if arr.shape != cardinality:
            raise ValueError(
                f"values have shape {arr.shape} but the cardinality of {variables} is "
                f"{cardinality}"
            )
        arr.setflags(write=False)
        object.__setattr__(self, "variables", variables)
        object.__setattr__(self, "cardinality", cardinality)
        object.__setattr__(self, "values", arr)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Factor is immutable: its operations return new factors")

    # ---- constructors ------------------------------------------------------------------
    @classmethod
    def unit(cls) -> Factor:
        """The factor over no variables with value 1 (the identity of ``product``)."""
        return cls((), (), 1.0)

    @classmethod
    def uniform(cls, variables: Sequence[str], cardinality: Sequence[int]) -> Factor:
        """A normalised uniform factor."""
        card = tuple(int(c) for c in cardinality)
        return cls(variables, card, np.full(card, 1.0 / max(math.prod(card), 1)))

    # ---- small helpers -----------------------------------------------------------------
    @property
    def card(self) -> dict[str, int]:
        """{variable: cardinality}."""
        return dict(zip(self.variables, self.cardinality))

    @property
    def scope(self) -> frozenset[str]:
        """The set of variables."""
        return frozenset(self.variables)

    def scalar(self) -> float:
        """The value of a factor over no variables (e.g. after marginalizing everything)."""
        if self.variables:
            raise ValueError(f"scalar() needs a factor over no variables, this one has "
                             f"{self.variables}; marginalize them first")
        return float(self.values)

    def total(self) -> float:
        """Sum of all entries (the partition function Z for an unnormalised factor)."""
        return float(self.values.sum())

    def _axes(self, variables: Iterable[str], what: str) -> tuple[int, ...]:
        if isinstance(variables, str):
            variables = (variables,)
        variables = tuple(variables)
        unknown = [v for v in variables if v not in self.variables]
        if unknown:
            raise ValueError(f"{what}: {unknown} not in the factor's variables {self.variables}")
        return tuple(self.variables.index(v) for v in variables)

    def _aligned(self, union: tuple[str, ...]) -> np.ndarray:
        """values with axes in ``union`` order and size-1 axes for missing variables."""
        own = [v for v in union if v in self.variables]
        arr = np.transpose(self.values, [self.variables.index(v) for v in own])
        shape = [self.card[v] if v in self.variables else 1 for v in union]
        return arr.reshape(shape)

    def _union(self, other: Factor) -> tuple[tuple[str, ...], tuple[int, ...]]:
        card = self.card
        for v, c in zip(other.variables, other.cardinality):
            if card.setdefault(v, c) != c:
                raise ValueError(f"variable {v!r} has cardinality {card[v]} in one factor and "
                                 f"{c} in the other")
        union = self.variables + tuple(v for v in other.variables if v not in self.variables)
        return union, tuple(card[v] for v in union)

    # ---- algebra -----------------------------------------------------------------------
    def product(self, other: Factor) -> Factor:
        """(phi1 * phi2)(x_union) = phi1(x_A) phi2(x_B); variables: self's, then other's new."""
        if not isinstance(other, Factor):
            return Factor(self.variables, self.cardinality, self.values * float(other))
        union, card = self._union(other)
        return Factor(union, card, self._aligned(union) * other._aligned(union))

    def __mul__(self, other: Factor | float) -> Factor:
        return self.product(other)

    __rmul__ = __mul__

    def divide(self, other: Factor) -> Factor:
        """phi1 / phi2 with 0/0 = 0 (the message division of belief propagation).

        other's variables must be a subset of self's.
        """
        extra = [v for v in other.variables if v not in self.variables]
        if extra:
            raise ValueError(f"divide: {extra} are not in the numerator's variables "
                             f"{self.variables}")
        self._union(other)  # cardinality check
        den = other._aligned(self.variables)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(den == 0, 0.0, self.values / np.where(den == 0, 1.0, den))
        return Factor(self.variables, self.cardinality, out)

    def __truediv__(self, other: Factor) -> Factor:
        return self.divide(other)

    def marginalize(self, variables: Iterable[str]) -> Factor:
        """Sum out ``variables``: sum_{x_V} phi(x). Unknown variables raise ValueError."""
        axes = self._axes(variables, "marginalize")
        keep = [i for i in range(len(self.variables)) if i not in axes]
        return Factor([self.variables[i] for i in keep], [self.cardinality[i] for i in keep],
                      self.values.sum(axis=axes))

    def maximize(self, variables: Iterable[str]) -> Factor:
        """Max out ``variables``: max_{x_V} phi(x) (max-product / MAP inference)."""
        axes = self._axes(variables, "maximize")
        keep = [i for i in range(len(self.variables)) if i not in axes]
        return Factor([self.variables[i] for i in keep], [self.cardinality[i] for i in keep],
                      self.values.max(axis=axes) if axes else self.values)

    def reduce(self, evidence: Mapping[str, int]) -> Factor:
        """Fix states ``{var: index}``; those variables are dropped, unknown ones ignored."""
        index: list[Any] = [slice(None)] * len(self.variables)
        for v, s in evidence.items():
            if v not in self.variables:
                continue
            i = self.variables.index(v)
            if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
                raise TypeError(f"reduce: evidence for {v!r} must be an int state index, "
                                f"got {s!r}")
            if not 0 <= s < self.cardinality[i]:
                raise ValueError(f"reduce: state {s} of {v!r} is out of range "
                                 f"0..{self.cardinality[i] - 1}")
            index[i] = int(s)
        keep = [i for i, ix in enumerate(index) if isinstance(ix, slice)]
        return Factor([self.variables[i] for i in keep], [self.cardinality[i] for i in keep],
                      self.values[tuple(index)])

    def normalize(self) -> Factor:
        """phi / sum(phi): a probability table. Raises if the factor sums to 0."""
        z = self.values.sum()
        if not np.isfinite(z) or z <= 0:
            raise ValueError(f"cannot normalize a factor whose entries sum to {z}")
        return Factor(self.variables, self.cardinality, self.values / z)

    def permute(self, variables: Sequence[str]) -> Factor:
        """The same factor with its axes in the order ``variables``."""
        variables = tuple(variables)
        if sorted(variables) != sorted(self.variables):
            raise ValueError(f"permute: {variables} is not a permutation of {self.variables}")
        axes = [self.variables.index(v) for v in variables]
        return Factor(variables, [self.cardinality[i] for i in axes],
                      np.transpose(self.values, axes))

    def allclose(self, other: Factor, *, atol: float = 1e-10, rtol: float = 1e-8) -> bool:
        """Same scope, cardinalities and values (up to axis order)."""
        if self.scope != other.scope or self.card != other.card:
            return False
        return bool(np.allclose(self.values, other.permute(self.variables).values,
                                atol=atol, rtol=rtol))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Factor):
            return NotImplemented
        return (self.scope == other.scope and self.card == other.card
                and np.array_equal(self.values, other.permute(self.variables).values))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking array inside: not hashable

    def __repr__(self) -> str:
        head = f"Factor({', '.join(f'{v}:{c}' for v, c in self.card.items()) or '∅'})"
        if self.values.size > 32:
            return f"{head} with {self.values.size} entries, sum {self.total():.6g}"
        rows = [f"  {dict(zip(self.variables, idx))} -> {val:.6g}"
                for idx, val in np.ndenumerate(self.values)]
        return head + ("\n" + "\n".join(rows) if self.variables else f" = {self.scalar():.6g}")


# --------------------------------------------------------------------------------------------
# Bayesian network
# --------------------------------------------------------------------------------------------
def _topological_order(parents: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Kahn's algorithm; ties keep the order of ``parents``. Raises ValueError on a cycle."""
    order: list[str] = []
    placed: set[str] = set()
    remaining = list(parents)
    while remaining:
        ready = [v for v in remaining if all(p in placed for p in parents[v])]
        if not ready:
            raise ValueError(f"the graph has a directed cycle among {sorted(remaining)}: a "
                             "Bayesian network must be a DAG (有向无环图)")
        for v in ready:
            order.append(v)
            placed.add(v)
        remaining = [v for v in remaining if v not in placed]
    return tuple(order)


class BayesianNetwork:
    """p(x) = prod_k p(x_k | x_{pi_k}) over discrete variables (lecture eq. 11.8).

    ``cpds[v]`` is a Factor over ``(v, *parents[v])`` with ``values[x, *pa] = p(x | pa)``,
    summing to 1 over axis 0. ``variables`` is a topological order; data arrays are int
    arrays of shape (n, K) with columns in that order.
    """

    def __init__(self, parents: Mapping[str, Sequence[str]], cpds: Mapping[str, Factor],
                 states: Mapping[str, Sequence[str]] | None = None, *, atol: float = 1e-6):
        parents = {str(v): tuple(ps) for v, ps in parents.items()}
        for v, ps in parents.items():
            unknown = [p for p in ps if p not in parents]
            if unknown:
                raise ValueError(f"parents of {v!r} include unknown variables {unknown}; every "
                                 "variable needs an entry in `parents` (roots: [])")
            if v in ps:
                raise ValueError(f"{v!r} is its own parent")
            if len(set(ps)) != len(ps):
                raise ValueError(f"duplicate parents of {v!r}: {ps}")
        missing = [v for v in parents if v not in cpds]
        extra = [v for v in cpds if v not in parents]
        if missing or extra:
            raise ValueError(f"one CPD per variable: missing CPDs for {missing}, CPDs of "
                             f"unknown variables {extra}")
        order = _topological_order(parents)

        cardinality: dict[str, int] = {}
        canon: dict[str, Factor] = {}
        for v in order:
            f = cpds[v]
            if not isinstance(f, Factor):
                raise TypeError(f"cpds[{v!r}] must be a Factor, got {type(f).__name__}")
            want = (v, *parents[v])
            if f.scope != frozenset(want):
                raise ValueError(f"cpds[{v!r}] is over {f.variables}, expected the variables "
                                 f"{want} (the variable, then its parents)")
            f = f.permute(want)
            for u, c in f.card.items():
                if cardinality.setdefault(u, c) != c:
                    raise ValueError(f"variable {u!r} has cardinality {cardinality[u]} in one "
                                     f"CPD and {c} in cpds[{v!r}]")
            if np.any(f.values < 0) or not np.all(np.isfinite(f.values)):
                raise ValueError(f"cpds[{v!r}] has negative or non-finite entries")
            sums = f.values.sum(axis=0)
            if not np.allclose(sums, 1.0, atol=atol):
                worst = float(np.max(np.abs(sums - 1.0)))
                raise ValueError(f"cpds[{v!r}] is not normalised: p({v} | parents) must sum to "
                                 f"1 over {v} for every parent configuration (off by {worst:.3g})")
            canon[v] = f

        if states is None:
            states = {}
        unknown_states = [v for v in states if v not in parents]
        if unknown_states:
            raise ValueError(f"state names given for unknown variables {unknown_states}")
        names: dict[str, list[str]] = {}
        for v in order:
            s = [str(x) for x in states.get(v, range(cardinality[v]))]
            if len(s) != cardinality[v]:
                raise ValueError(f"{len(s)} state names for {v!r} but its cardinality is "
                                 f"{cardinality[v]}")
            names[v] = s

        self.variables: tuple[str, ...] = order
        self.parents: dict[str, tuple[str, ...]] = {v: parents[v] for v in order}
        self.cardinality: dict[str, int] = {v: cardinality[v] for v in order}
        self.states: dict[str, list[str]] = names
        self.cpds: dict[str, Factor] = canon

    # ---- structure ---------------------------------------------------------------------
    @property
    def edges(self) -> list[tuple[str, str]]:
        """Directed edges (parent, child)."""
        return [(p, v) for v in self.variables for p in self.parents[v]]

    @property
    def factors(self) -> list[Factor]:
        """The CPDs as a list of factors (topological order): the input of VE / BP."""
        return [self.cpds[v] for v in self.variables]

    def children(self, v: str) -> tuple[str, ...]:
        """Variables that have ``v`` as a parent."""
        return tuple(c for c in self.variables if v in self.parents[c])

    def n_free_parameters(self) -> int:
        """sum_k (card_k - 1) * prod_{p in pi_k} card_p: independent numbers in the CPDs."""
        return sum((self.cardinality[v] - 1) * math.prod(self.cardinality[p]
                                                         for p in self.parents[v])
                   for v in self.variables)

    def __repr__(self) -> str:
        return (f"BayesianNetwork({len(self.variables)} variables, {len(self.edges)} edges, "
                f"{self.n_free_parameters()} free parameters)")

    # ---- the joint -----------------------------------------------------------------------
    def joint(self) -> Factor:
        """p(x) = prod_k p(x_k | x_pi_k) as one table over ``variables`` (small networks only)."""
        size = math.prod(self.cardinality.values())
        if size > MAX_JOINT_ENTRIES:
            raise ValueError(f"the joint of this network has {size:.3g} entries (more than "
                             f"{MAX_JOINT_ENTRIES}): use variable elimination instead of joint()")
        out = Factor.unit()
        for f in self.factors:
            out = out * f
        return out.permute(self.variables)

    # ---- data ----------------------------------------------------------------------------
    def _check_data(self, data: np.ndarray) -> np.ndarray:
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[1] != len(self.variables):
            raise ValueError(f"data must have shape (n, {len(self.variables)}) with columns "
                             f"{self.variables}, got shape {data.shape}")
        if data.size and not np.issubdtype(data.dtype, np.integer):
            if not np.all(data == np.round(data)):
                raise ValueError("data must hold integer state indices")
            data = data.astype(np.int64)
        card = np.array([self.cardinality[v] for v in self.variables])
        if data.size and (np.any(data < 0) or np.any(data >= card)):
            bad = [v for k, v in enumerate(self.variables)
                   if np.any(data[:, k] < 0) or np.any(data[:, k] >= card[k])]
            raise ValueError(f"state indices out of range in columns {bad}")
        return data

    def _family_index(self, v: str, data: np.ndarray) -> np.ndarray:
        """Flat index of (x_v, x_pa) per row, C order over cpds[v]'s axes."""
        cols = [self.variables.index(u) for u in self.cpds[v].variables]
        return np.ravel_multi_index(tuple(data[:, c] for c in cols), self.cpds[v].cardinality)

    def sample(self, n: int, generator: np.random.Generator) -> np.ndarray:
        """Ancestral sampling: x_k ~ p(x_k | x_pi_k) in topological order. Returns (n, K) ints."""
        if not isinstance(generator, np.random.Generator):
            raise TypeError("pass a numpy Generator, e.g. np.random.default_rng(0)")
        out = np.zeros((int(n), len(self.variables)), dtype=np.int64)
        for k, v in enumerate(self.variables):
            f = self.cpds[v]
            table = f.values.reshape(f.cardinality[0], -1)  # (card_v, n_parent_configs)
            if self.parents[v]:
                pa = np.ravel_multi_index(
                    tuple(out[:, self.variables.index(p)] for p in self.parents[v]),
                    f.cardinality[1:])
            else:
                pa = np.zeros(n, dtype=np.int64)
            cdf = np.cumsum(table, axis=0)[:, pa].T  # (n, card_v)
            u = generator.random(int(n)) * cdf[:, -1]  # scale: robust to rounding in the CPD
            out[:, k] = np.minimum((u[:, None] >= cdf).sum(axis=1), f.cardinality[0] - 1)
        return out

    def counts(self, v: str, data: np.ndarray) -> np.ndarray:
        """N(x_v, x_pa): counts of each family configuration, shape cpds[v].cardinality."""
        data = self._check_data(data)
        shape = self.cpds[v].cardinality
        return np.bincount(self._family_index(v, data), minlength=math.prod(shape)).reshape(shape)

    def fit_mle(self, data: np.ndarray, pseudocount: float = 0.0) -> BayesianNetwork:
        """theta_k = argmax sum_n log p(x_k^n | x_pi_k^n): p(x|pa) = N(x, pa) / N(pa).

        With ``pseudocount`` a > 0: (N(x, pa) + a) / (N(pa) + a card_k). Parent
        configurations never seen get the uniform distribution.
        """
        if pseudocount < 0:
            raise ValueError(f"pseudocount must be >= 0, got {pseudocount}")
        data = self._check_data(data)
        cpds = {}
        for v in self.variables:
            c = self.counts(v, data).astype(float) + pseudocount
            tot = c.sum(axis=0, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                p = np.where(tot > 0, c / np.where(tot > 0, tot, 1.0), 1.0 / c.shape[0])
            cpds[v] = Factor(self.cpds[v].variables, self.cpds[v].cardinality, p)
        return BayesianNetwork(self.parents, cpds, self.states)

    def log_likelihood_terms(self, data: np.ndarray) -> dict[str, float]:
        """{k: sum_n log p(x_k^n | x_pi_k^n)}: the per-variable terms of the log-likelihood."""
        data = self._check_data(data)
        with np.errstate(divide="ignore"):
            return {v: float(np.log(self.cpds[v].values.ravel()[self._family_index(v, data)]).sum())
                    for v in self.variables}

    def log_likelihood(self, data: np.ndarray) -> float:
        """sum_n log p(x^n) = sum_n sum_k log p(x_k^n | x_pi_k^n) (natural log)."""
        return float(sum(self.log_likelihood_terms(data).values()))

    # ---- pgmpy ---------------------------------------------------------------------------
    @classmethod
    def from_pgmpy(cls, model: Any) -> BayesianNetwork:
        """Convert a pgmpy DiscreteBayesianNetwork with TabularCPDs.

        Axis order comes from each CPD's ``variables`` (pgmpy's ``get_evidence()`` is reversed),
        and a parent's states are re-ordered to match that parent's own CPD where the state
        names are listed in a different order.
        """
        tabs = {str(c.variable): c for c in model.get_cpds()}
        missing = [str(v) for v in model.nodes() if str(v) not in tabs]
        if missing:
            raise ValueError(f"the pgmpy model has no CPD for {missing}")
        states = {v: [str(s) for s in c.state_names[c.variable]] for v, c in tabs.items()}
        parents, cpds = {}, {}
        for v in (str(n) for n in model.nodes()):
            c = tabs[v]
            vars_ = [str(u) for u in c.variables]
            values = np.asarray(c.values, dtype=float).reshape([int(k) for k in c.cardinality])
            for axis, u in enumerate(vars_):
                here = [str(s) for s in c.state_names[c.variables[axis]]]
                if here != states[u]:
                    if sorted(here) != sorted(states[u]):
                        raise ValueError(f"state names of {u!r} differ between CPDs: {here} vs "
                                         f"{states[u]}")
                    values = np.take(values, [here.index(s) for s in states[u]], axis=axis)
            parents[v] = tuple(vars_[1:])
            cpds[v] = Factor(vars_, values.shape, values)
            if set(parents[v]) != {str(p) for p in model.get_parents(c.variable)}:
                raise ValueError(f"CPD of {v!r} conditions on {parents[v]} but the graph's "
                                 f"parents are {model.get_parents(c.variable)}")
        return cls(parents, cpds, states)

    def to_pgmpy(self) -> Any:
        """The same network as a pgmpy DiscreteBayesianNetwork (for cross-checks)."""
        from pgmpy.factors.discrete import TabularCPD
        from pgmpy.models import DiscreteBayesianNetwork

        model = DiscreteBayesianNetwork()
        model.add_nodes_from(self.variables)
        model.add_edges_from(self.edges)
        for v in self.variables:
            f, ps = self.cpds[v], self.parents[v]
            # TabularCPD: rows = states of v, columns = parent configs, first parent slowest
            model.add_cpds(TabularCPD(
                v, f.cardinality[0], f.values.reshape(f.cardinality[0], -1),
                evidence=list(ps) or None, evidence_card=list(f.cardinality[1:]) or None,
                state_names={u: list(self.states[u]) for u in f.variables}))
        model.check_model()
        return model

    @classmethod
    def example(cls, name: str) -> BayesianNetwork:
        """A bundled network by name (offline): data/networks/<name>.bif(.gz) if present, else
        pgmpy's bundled copy. See ``EXAMPLE_NETWORKS``."""
        return _load_example(name.lower()).copy()

    def copy(self) -> BayesianNetwork:
        """An independent copy (factors are immutable and shared)."""
        return BayesianNetwork(self.parents, self.cpds, self.states)


@functools.lru_cache(maxsize=16)
def _load_example(name: str) -> BayesianNetwork:
    # the shipped copies (data/networks/, survive pgmpy 1.3) and a user's data folder
    folders = dict.fromkeys([data_dir() / "networks", ROOT / "data" / "networks"])
    local = [d / f"{name}{ext}" for d in folders for ext in (".bif", ".bif.gz")]
    for path in local:
        if path.exists():
            return read_bif(path)
    if name not in EXAMPLE_NETWORKS:
        raise ValueError(f"unknown example network {name!r}: choose one of "
                         f"{', '.join(EXAMPLE_NETWORKS)} (or put {name}.bif under "
                         f"{data_dir() / 'networks'})")
    try:
        from pgmpy.utils import get_example_model
    except ImportError as err:  # pragma: no cover - depends on the pgmpy version
        raise RuntimeError(f"network {name!r}: no local copy under {data_dir() / 'networks'} "
                           "and this pgmpy has no get_example_model (removed in 1.3; the "
                           "course pins pgmpy 1.1.2)") from err
    # get_example_model reads pgmpy's bundled .bif offline; it is deprecated (FutureWarning,
    # removed in pgmpy 1.3 whose replacement downloads), hence the pin and the silenced warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = get_example_model(name)
    return BayesianNetwork.from_pgmpy(model)


_BIF_VARIABLE = re.compile(
    r"variable\s+([^\s{]+)\s*\{[^}]*?type\s+discrete\s*\[\s*(\d+)\s*\]\s*\{([^}]*)\}", re.S)
_BIF_PROBABILITY = re.compile(
    r"probability\s*\(\s*([^|)\s]+)\s*(?:\|\s*([^)]*))?\)\s*\{([^}]*)\}", re.S)


def read_bif(source: str | Path) -> BayesianNetwork:
    """Read a discrete network in BIF format (a path to .bif / .bif.gz, or the text itself).

    Covers the BIF of the bnlearn repository: ``variable`` blocks with ``type discrete``,
    ``probability ( X | A, B )`` blocks with ``(a, b) p1, p2, ...;`` rows or a ``table``
    line for variables without parents. Faster than pgmpy's reader, and independent of it.
    """
    if isinstance(source, Path) or (isinstance(source, str) and "{" not in source):
        path = Path(source)
        raw = path.read_bytes()
        text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
    else:
        text = str(source)
    text = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)  # comments
    states: dict[str, list[str]] = {}
    for name, card, names in _BIF_VARIABLE.findall(text):
        states[name] = [t.strip() for t in names.split(",") if t.strip()]
        if len(states[name]) != int(card):
            raise ValueError(f"BIF: variable {name} declares {card} states but lists "
                             f"{states[name]}")
    parents: dict[str, tuple[str, ...]] = {}
    cpds: dict[str, Factor] = {}
    for child, pa, body in _BIF_PROBABILITY.findall(text):
        pa_t = tuple(t.strip() for t in pa.split(",") if t.strip())
        unknown = [u for u in (child, *pa_t) if u not in states]
        if unknown:
            raise ValueError(f"BIF: probability block of {child} uses undeclared {unknown}")
        shape = [len(states[u]) for u in (child, *pa_t)]
        values = np.full(shape, np.nan)
        for entry in (e.strip() for e in body.split(";")):
            if not entry:
                continue
            if entry.startswith("table"):
                if pa_t:
                    raise ValueError(f"BIF: 'table' rows for {child} with parents are not "
                                     "supported; use one '(parent states) p...;' row each")
                values[:] = [float(t) for t in entry[5:].replace(",", " ").split()]
                continue
            m = re.fullmatch(r"\(([^)]*)\)\s*(.*)", entry, re.S)
            if m is None:
                raise ValueError(f"BIF: cannot read the row {entry!r} of {child}")
            cfg = [t.strip() for t in m.group(1).split(",")]
            try:
                idx = tuple(states[u].index(c) for u, c in zip(pa_t, cfg))
            except ValueError as err:
                raise ValueError(f"BIF: unknown state in row {entry!r} of {child}") from err
            values[(slice(None), *idx)] = [float(t) for t in
                                           m.group(2).replace(",", " ").split()]
        if np.isnan(values).any():
            raise ValueError(f"BIF: the table of {child} misses some parent configurations")
        parents[child], cpds[child] = pa_t, Factor((child, *pa_t), shape, values)
    missing = [v for v in states if v not in cpds]
    if missing:
        raise ValueError(f"BIF: no probability block for {missing}")
    return BayesianNetwork({v: parents[v] for v in states}, cpds,
                           {v: states[v] for v in states})


# --------------------------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------------------------
def draw_network(bn: BayesianNetwork | Mapping[str, Sequence[str]], *, ax: Any = None,
                 pos: Mapping[str, tuple[float, float]] | None = None,
                 highlight: Iterable[str] = (), title: str | None = None,
                 node_size: int | None = None, font_size: int | None = None) -> Any:
    """Draw a DAG (a network or a {child: parents} mapping) layer by layer, parents on top.

    ``pos`` overrides the layout; ``highlight`` colours some nodes (e.g. evidence). Returns
    the matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    import networkx as nx

    parents = bn.parents if isinstance(bn, BayesianNetwork) else {v: tuple(p)
                                                                   for v, p in bn.items()}
    g = nx.DiGraph()
    g.add_nodes_from(_topological_order(parents))
    g.add_edges_from((p, v) for v, ps in parents.items() for p in ps)
    if pos is None:
        layers = list(nx.topological_generations(g))
        pos = {}
        for depth, layer in enumerate(layers):
            for i, v in enumerate(sorted(layer, key=list(g.nodes).index)):
                pos[v] = (i - (len(layer) - 1) / 2, -depth)
    n = g.number_of_nodes()
    if ax is None:
        width = max(4.0, min(14.0, 1.1 * max(sum(1 for _ in layer) for layer in
                                              nx.topological_generations(g))))
        _, ax = plt.subplots(figsize=(width, max(2.5, 0.9 * (1 - min(y for _, y in pos.values()))
                                                 + 0.6)))
    big = n > 12
    node_size = node_size or (700 if big else 1300)
    font_size = font_size or (6 if big else 11)
    lit = set(highlight)
    colours = ["#f4a261" if v in lit else "#a8dadc" for v in g.nodes]
    nx.draw_networkx_nodes(g, pos=pos, ax=ax, node_color=colours, node_size=node_size,
                           edgecolors="#1d3557")
    nx.draw_networkx_labels(g, pos=pos, ax=ax, font_size=font_size,
                            labels={v: (v if len(v) <= 10 else v[:9] + "…") for v in g.nodes})
    # edges that skip a layer are bent so that they do not hide behind the nodes they pass
    depth = {v: d for d, layer in enumerate(nx.topological_generations(g)) for v in layer}
    short = [(u, v) for u, v in g.edges if depth[v] - depth[u] <= 1]
    long = [(u, v) for u, v in g.edges if depth[v] - depth[u] > 1]
    for edges, style in [(short, "arc3"), (long, "arc3,rad=0.35")]:
        if edges:
            nx.draw_networkx_edges(g, pos=pos, ax=ax, edgelist=edges, node_size=node_size,
                                   arrowsize=12, connectionstyle=style)
    ax.margins(0.12)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax.figure
