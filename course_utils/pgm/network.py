"""Bayesian networks: a DAG plus one CPD per variable, p(x) = prod_k p(x_k | x_{pi_k}) (lecture eq. 11.8).

Ancestral sampling, maximum likelihood by counting, the log-likelihood and pgmpy conversion. The
bundled example networks (asia, alarm, ...) are in :mod:`~course_utils.pgm.examples`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from course_utils.i18n import t
from course_utils.pgm.factor import MAX_JOINT_ENTRIES, Factor


# --------------------------------------------------------------------------------------------
# Bayesian network
# --------------------------------------------------------------------------------------------
def topological_order(parents: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
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


class StructureKey(tuple):
    """A tuple that computes its hash once: cache keys looked up on every query hash it cheaply."""

    def __hash__(self) -> int:
        h = self.__dict__.get("hash")
        if h is None:
            h = self.__dict__["hash"] = tuple.__hash__(self)
        return h


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
        order = topological_order(parents)

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
        self.card: dict[str, int] = {v: cardinality[v] for v in order}  # states per variable, as Factor.card
        self.states: dict[str, list[str]] = names
        self.cpds: dict[str, Factor] = canon
        self._structure_key = StructureKey((v, self.parents[v], self.card[v]) for v in order)

    @property
    def structure_key(self) -> StructureKey:
        """(variable, parents, cardinality) per variable: what inference plans are cached on."""
        return self._structure_key

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
        return sum((self.card[v] - 1) * math.prod(self.card[p]
                                                         for p in self.parents[v])
                   for v in self.variables)

    def __repr__(self) -> str:
        return t("pgm.network", n=len(self.variables), edges=len(self.edges), free=self.n_free_parameters())

    # ---- the joint -----------------------------------------------------------------------
    def joint(self) -> Factor:
        """p(x) = prod_k p(x_k | x_pi_k) as one table over ``variables`` (small networks only)."""
        size = math.prod(self.card.values())
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
        card = np.array([self.card[v] for v in self.variables])
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
        """``example_network(name)`` under its old name, kept for course_utils/exercises (not edited here).

        The catalogue lives in :mod:`~course_utils.pgm.examples`; this method is the one import of
        it from this module. Delete it once nothing calls ``BayesianNetwork.example``.
        """
        from course_utils.pgm.examples import example_network  # the old name: see the docstring

        return example_network(name)

    def copy(self) -> BayesianNetwork:
        """An independent copy (factors are immutable and shared)."""
        return BayesianNetwork(self.parents, self.cpds, self.states)

