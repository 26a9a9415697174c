"""The junction tree algorithm (联合树算法): all marginals of a network by two message passes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from course_utils.pgm.elimination import Heuristic, evidence_indices, greedy_order
from course_utils.pgm.factor import Factor
from course_utils.pgm.network import BayesianNetwork
from course_utils.pgm.tables import Scope, einsum_tables, reduce_table, run_einsum, subscripts


class JunctionTree:
    """Clique tree of a Bayesian network (or of any list of factors), calibrated by two passes.

    Build: moralise (each CPD's scope becomes a clique of the graph) → triangulate by a
    greedy elimination order → maximal cliques → maximum-weight spanning tree on separator
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
        self.order = greedy_order(scopes, self.card, self.variables, heuristic)
        self.cliques = self._cliques(scopes, self.order)
        self.edges = self._spanning_tree(self.cliques)
        # assign every factor to the smallest clique that contains its scope; ψ_C = Π assigned
        potentials = [(c, np.ones([self.card[v] for v in c])) for c in self.cliques]
        for f in factors:
            k = min((i for i, c in enumerate(self.cliques) if set(f.variables) <= set(c)),
                    key=lambda i: len(self.cliques[i]))
            c = self.cliques[k]
            potentials[k] = (c, einsum_tables([potentials[k], (f.variables, f.values)], c))
        self.potentials = tuple(p for _, p in potentials)
        self._schedule = self._make_schedule()
        self.home = {v: min((i for i, c in enumerate(self.cliques) if v in c),
                            key=lambda i: self.potentials[i].size) for v in self.variables}
        self._compiled: dict[tuple[str, ...], tuple] = {}

    @property
    def treewidth(self) -> int:
        """Largest clique size minus one (for this triangulation)."""
        return max(len(c) for c in self.cliques) - 1

    @staticmethod
    def _cliques(scopes: Sequence[Scope], order: Sequence[str]) -> tuple[Scope, ...]:
        adj: dict[str, set[str]] = {}
        for s in scopes:  # moral graph: parents of a common child are married by the CPD scope
            for v in s:
                adj.setdefault(v, set()).update(u for u in s if u != v)
        found: list[frozenset] = []
        for v in order:  # elimination = triangulation; {v} ∪ nbrs(v) is a clique
            nb = adj.pop(v)
            c = frozenset(nb | {v})
            if not any(c <= d for d in found):
                found.append(c)
            for a in nb:
                adj[a].discard(v)
                adj[a].update(nb - {a})
        rank = {v: i for i, v in enumerate(order)}
        return tuple(tuple(sorted(c, key=rank.__getitem__)) for c in found)

    @staticmethod
    def _spanning_tree(cliques: Sequence[Scope]) -> tuple[tuple[int, int], ...]:
        n = len(cliques)
        cand = sorted(((len(set(cliques[i]) & set(cliques[j])), i, j)
                       for i in range(n) for j in range(i + 1, n)), reverse=True)
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
        seen, bfs, parent = {0}, [0], {0: -1}
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
        scope = [tuple(v for v in c if v not in obs) for c in self.cliques]
        reducers = [tuple((i, v) for i, v in enumerate(c) if v in obs) for c in self.cliques]
        bfs, parent, children = self._schedule

        def sep(i: int, j: int) -> Scope:  # one ordering for both directions of an edge
            a, b = min(i, j), max(i, j)
            return tuple(v for v in scope[a] if v in scope[b])

        # upward: partial_i = ψ_i Π_{children c} δ_{c→i};  δ_{i→parent} = Σ_{C_i \ S} partial_i
        up = []
        for i in reversed(bfs):
            ch = children[i]
            partial = subscripts([scope[i], *[sep(c, i) for c in ch]], scope[i])
            msg = subscripts([scope[i]], sep(i, parent[i])) if parent[i] >= 0 else None
            up.append((i, ch, partial, msg))
        # downward (Hugin): β_j = partial_j · δ_{i→j},  δ_{i→j} = Σ_{C_i \ S} β_i / δ_{j→i}
        down = []
        for j in bfs[1:]:
            i = parent[j]
            msg = subscripts([scope[i], sep(i, j)], sep(i, j))
            belief = subscripts([scope[j], sep(i, j)], scope[j])
            down.append((i, j, msg, belief))
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
        for i, ch, pspec, msg in up:
            partial[i] = run_einsum([psi[i], *[to_parent[c] for c in ch]], pspec) if ch else psi[i]
            m = partial[i].sum() if msg is None else run_einsum([partial[i]], msg)
            s = float(m.sum())
            if not s > 0:
                raise ValueError(f"the evidence {evidence} has probability zero")
            log_z += math.log(s)
            if msg is not None:
                to_parent[i] = m / s
        belief = partial
        for i, j, mspec, bspec in down:
            inv = np.divide(1.0, to_parent[j], out=np.zeros_like(to_parent[j]),
                            where=to_parent[j] > 0)
            m = run_einsum([belief[i], inv], mspec)
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
            out[v] = Factor((v,), (card,), b)
        return out


