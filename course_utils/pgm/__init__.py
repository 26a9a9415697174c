"""Probabilistic graphical models (lecture part 1: 概率图模型 and 基于概率图的推断).

One module per topic:

- :mod:`~course_utils.pgm.factor`: discrete factors as values (product, marginalize, reduce, ...);
- :mod:`~course_utils.pgm.network`: Bayesian networks (sampling, learning by counting, pgmpy conversion);
- :mod:`~course_utils.pgm.bif`: a reader of the BIF format;
- :mod:`~course_utils.pgm.examples`: the bundled example networks (asia, alarm, ...), offline;
- :mod:`~course_utils.pgm.drawing`: a layered drawing of a DAG;
- :mod:`~course_utils.pgm.queries`: a query's variables and evidence, checked;
- :mod:`~course_utils.pgm.ordering`: elimination orders (greedy heuristics) and their cost;
- :mod:`~course_utils.pgm.elimination`: variable elimination (cached plans) and sum-product;
- :mod:`~course_utils.pgm.propagation`: belief propagation (exact on trees, loopy on cycles);
- :mod:`~course_utils.pgm.junction_tree`: all marginals by the junction tree algorithm;
- :mod:`~course_utils.pgm.sampling`: ancestral, rejection, likelihood-weighting and Gibbs sampling.

The names below are the package's public interface: ``from course_utils.pgm import Factor``.
"""

from course_utils.pgm.bif import read_bif
from course_utils.pgm.drawing import draw_network
from course_utils.pgm.elimination import (
    clear_plan_cache,
    renormalized,
    sum_product,
    variable_elimination,
    ve_plan,
)
from course_utils.pgm.examples import EXAMPLE_NETWORKS, example_network
from course_utils.pgm.factor import MAX_JOINT_ENTRIES, Factor
from course_utils.pgm.junction_tree import JunctionTree
from course_utils.pgm.network import BayesianNetwork
from course_utils.pgm.ordering import HEURISTICS, elimination_cost, elimination_order, greedy_order
from course_utils.pgm.propagation import BPResult, belief_propagation
from course_utils.pgm.queries import evidence_indices
from course_utils.pgm.sampling import (
    Estimate,
    forward_sample,
    gibbs_sampling,
    likelihood_weighting,
    rejection_sampling,
)

__all__ = [
    "Factor", "MAX_JOINT_ENTRIES", "BayesianNetwork", "EXAMPLE_NETWORKS", "example_network", "read_bif",
    "draw_network",
    "HEURISTICS", "clear_plan_cache", "elimination_cost", "elimination_order", "evidence_indices", "greedy_order",
    "renormalized", "sum_product", "variable_elimination", "ve_plan", "BPResult",
    "belief_propagation", "JunctionTree", "Estimate", "forward_sample", "gibbs_sampling",
    "likelihood_weighting", "rejection_sampling",
]
