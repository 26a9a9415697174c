"""Layered drawing of a DAG (parents above children) with matplotlib."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from course_utils.pgm.network import BayesianNetwork, topological_order


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
    g.add_nodes_from(topological_order(parents))
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
