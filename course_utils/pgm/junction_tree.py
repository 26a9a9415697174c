"""The junction tree algorithm (联合树算法): all marginals of a network by two message passes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from course_utils.pgm.factor import Factor
from course_utils.pgm.network import BayesianNetwork
from course_utils.pgm.ordering import Heuristic, greedy_elimination
from course_utils.pgm.queries import evidence_indices
from course_utils.pgm.tables import Scope, reduce_table, run_einsum, subscripts_for


class JunctionTree:
    """Clique tree of a Bayesian network (or of any list of factors), calibrated by two passes.

    Build: moralise (each CPD's scope becomes a clique of the graph) → triangulate by a
    greedy elimination order (each variable with its neighbours when eliminated is a clique of
    the triangulated graph) → maximal cliques → maximum-weight spanning tree on separator
    sizes (running intersection property). Query: reduce the clique potentials by the
    evidence, pass messages leaves→root then root→leaves (2·(#cliques−1) einsums), and read
    each marginal from the smallest clique that holds the variable.
    """

    def __init__(self, model: BayesianNetwork | Sequence[Factor],
                 heuristic: Heuristic = "min_fill") -> None:
        factors = list(model.cpds.values()) if hasattr(model, "cpds") else list(model)
        self.states = getattr(model, "states", None)
        self.card = {v: c for f in factors for v, c in zip(f.variables, f.cardinality)}
        self.variables = tuple(self.card)
        scopes = [f.variables for f in factors]
        eliminated = greedy_elimination(scopes, self.card, self.variables, heuristic)
        self.order = tuple(v for v, _ in eliminated)
        self.cliques = self._cliques(eliminated)
        self.edges = self._spanning_tree(self.cliques)
        # assign every factor to the smallest clique that contains its scope; ψ_C = Π assigned
        holding: dict[str, list[int]] = {v: [] for v in self.variables}  # the cliques that hold v
        for i, c in enumerate(self.cliques):
            for v in c:
                holding[v].append(i)
        sets = [frozenset(c) for c in self.cliques]
        assigned: list[list[tuple[Scope, np.ndarray]]] = [[] for _ in self.cliques]
        for f in factors:
            candidates = holding[f.variables[0]] if f.variables else range(len(sets))
            k = min((i for i in candidates if sets[i].issuperset(f.variables)), key=lambda i: len(sets[i]))
            assigned[k].append((f.variables, f.values))
        potentials = []
        for c, tables in zip(self.cliques, assigned):
            psi = np.ones([self.card[v] for v in c])
            for scope, values in tables:  # each factor, axes in the clique's order, broadcast over C
                aligned = np.transpose(values, sorted(range(len(scope)), key=lambda a: c.index(scope[a])))
                psi *= aligned.reshape([self.card[v] if v in scope else 1 for v in c])
            potentials.append(psi)
        self.potentials = tuple(potentials)
        self._schedule = self._make_schedule()
        # where each marginal is read: the smallest clique that holds the variable
        self.home = {v: min(holding[v], key=lambda i: self.potentials[i].size) for v in self.variables}
        self._compiled: dict[tuple[str, ...], tuple] = {}

    @property
    def treewidth(self) -> int:
        """Largest clique size minus one (for this triangulation)."""
        return max(len(c) for c in self.cliques) - 1

    @staticmethod
    def _cliques(eliminated: Sequence[tuple[str, set[str]]]) -> tuple[Scope, ...]:
        """The maximal cliques of the triangulated graph: {v} ∪ its neighbours when eliminated."""
        found: list[frozenset] = []
        for v, nb in eliminated:
            c = frozenset(nb | {v})
            if not any(c <= d for d in found):
                found.append(c)
        rank = {v: i for i, (v, _) in enumerate(eliminated)}
        return tuple(tuple(sorted(c, key=rank.__getitem__)) for c in found)

    @staticmethod
    def _spanning_tree(cliques: Sequence[Scope]) -> tuple[tuple[int, int], ...]:
        n = len(cliques)
        sets = [frozenset(c) for c in cliques]
        cand = sorted(((len(sets[i] & sets[j]), i, j) for i in range(n) for j in range(i + 1, n)), reverse=True)
        root = list(range(n))

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        edges = []
        for _, i, j in cand:  # Kruskal, heaviest separators first
            a, b = find(i), find(j)
            if a != b:
                root[a] = b
                edges.append((i, j))
        return tuple(edges)

    def _make_schedule(self) -> tuple[tuple[int, ...], dict[int, int], dict[int, list[int]]]:
        nbrs: dict[int, list[int]] = {i: [] for i in range(len(self.cliques))}
        for i, j in self.edges:
            nbrs[i].append(j)
            nbrs[j].append(i)
        # root at the largest clique: it then sends messages but receives one product only, and
        # its belief is the upward product itself (fewest passes over the biggest table)
        root = max(range(len(self.cliques)), key=lambda i: self.potentials[i].size)
        seen, bfs, parent = {root}, [root], {root: -1}
        for i in bfs:
            for j in nbrs[i]:
                if j not in seen:
                    seen.add(j)
                    parent[j] = i
                    bfs.append(j)
        children = {i: [j for j in nbrs[i] if parent.get(j) == i] for i in bfs}
        return tuple(bfs), parent, children

    def _compile(self, observed: tuple[str, ...]) -> tuple:
        """Einsum subscripts of the two passes for this set of observed variables."""
        obs = set(observed)
        scope = [c if obs.isdisjoint(c) else tuple(v for v in c if v not in obs) for c in self.cliques]
        reducers = [() if obs.isdisjoint(c) else tuple((i, v) for i, v in enumerate(c) if v in obs)
                    for c in self.cliques]
        bfs, parent, children = self._schedule
        spec = subscripts_for(self.variables)
        # the separator of each edge (j, parent j), in the parent's order: a message δ_{j→i} then
        # multiplies into clique i by broadcasting, reshaped with size-1 axes for the rest of C_i
        sep = {j: tuple(v for v in scope[parent[j]] if v in scope[j]) for j in bfs[1:]}
        card = self.card

        # upward: partial_i = ψ_i Π_{children c} δ_{c→i};  δ_{i→parent} = Σ_{C_i \ S} partial_i
        up = []
        for i in reversed(bfs):
            shapes = [tuple(card[v] if v in sep[c] else 1 for v in scope[i]) for c in children[i]]
            msg = spec([scope[i]], sep[i]) if parent[i] >= 0 else None
            up.append((i, tuple(zip(children[i], shapes)), msg))
        # downward (Hugin): β_j = partial_j · δ_{i→j},  δ_{i→j} = (Σ_{C_i \ S} β_i) / δ_{j→i}
        # (dividing on the separator, after the sum, is the same and touches far fewer entries)
        down = []
        for j in bfs[1:]:
            i = parent[j]
            down.append((i, j, spec([scope[i]], sep[j]), spec([scope[j], sep[j]], scope[j])))
        readout = {}
        for v in self.variables:
            if v not in obs:
                i = self.home[v]
                readout[v] = (i, tuple(a for a, u in enumerate(scope[i]) if u != v))
        return reducers, up, down, readout

    def _evidence(self, evidence: Mapping[str, int | str] | None) -> dict[str, int]:
        return evidence_indices(self, evidence)

    def calibrate(self, evidence: Mapping[str, int | str] | None = None,
                  ) -> tuple[list[np.ndarray], float, dict]:
        """Clique beliefs β_i ∝ p(C_i, e) (evidence variables reduced away) and log Z(e)."""
        ev = self._evidence(evidence)
        key = tuple(sorted(ev))
        if key not in self._compiled:
            self._compiled[key] = self._compile(key)
        reducers, up, down, readout = self._compiled[key]
        psi = [reduce_table(p, r, ev) for p, r in zip(self.potentials, reducers)]
        partial: list = [None] * len(psi)
        to_parent: dict[int, np.ndarray] = {}
        log_z = 0.0
        for i, incoming, msg in up:
            p = np.array(psi[i]) if incoming else psi[i]  # a copy (an array even with 0 dimensions)
            for c, shape in incoming:  # ψ_i · δ_{c→i}, broadcast over C_i
                p *= to_parent[c].reshape(shape)
            partial[i] = p
            m = p.sum() if msg is None else run_einsum([p], msg)
            s = float(m.sum())
            if not s > 0:
                raise ValueError(f"the evidence {evidence} has probability zero")
            log_z += math.log(s)
            if msg is not None:
                to_parent[i] = m / s
        belief = partial
        for i, j, mspec, bspec in down:
            up_msg = to_parent[j]
            # where δ_{j→i} = 0, Σ β_i = 0 too (β_i holds δ_{j→i}): divide by 1 there, 0/0 = 0
            m = run_einsum([belief[i]], mspec) / (up_msg + (up_msg == 0))
            belief[j] = run_einsum([partial[j], m / m.sum()], bspec)
        return belief, log_z, {"readout": readout, "evidence": ev}

    def log_partition(self, evidence: Mapping[str, int | str] | None = None) -> float:
        """log Z(e) = log Σ_x Π φ(x, e); for a Bayesian network, log p(e)."""
        return self.calibrate(evidence)[1]

    def marginals(self, evidence: Mapping[str, int | str] | None = None) -> dict[str, Factor]:
        """p(x_v | evidence) for every variable v (observed ones one-hot), one calibration."""
        belief, _, info = self.calibrate(evidence)
        ev, readout = info["evidence"], info["readout"]
        out: dict[str, Factor] = {}
        for v in self.variables:
            card = self.card[v]
            if v in ev:
                b = np.zeros(card)
                b[ev[v]] = 1.0
            else:
                i, axes = readout[v]
                b = belief[i].sum(axis=axes) if axes else belief[i]
                b = b / b.sum()
            out[v] = Factor._wrap((v,), (card,), b)
        return out


