"""Inference in graphical models (lecture: 基于概率图的推断), one import for the notebooks.

- :mod:`course_utils.inference_exact`: variable elimination, belief propagation, junction tree;
- :mod:`course_utils.inference_approx`: ancestral, rejection, likelihood-weighting and Gibbs
  sampling.
"""

from course_utils.inference_approx import (
    Estimate,
    forward_sample,
    gibbs_sampling,
    likelihood_weighting,
    rejection_sampling,
)
from course_utils.inference_exact import (
    HEURISTICS,
    BPResult,
    JunctionTree,
    belief_propagation,
    elimination_cost,
    elimination_order,
    evidence_indices,
    greedy_order,
    renormalized,
    sum_product,
    variable_elimination,
    ve_plan,
)

__all__ = [
    "Estimate", "forward_sample", "gibbs_sampling", "likelihood_weighting", "rejection_sampling",
    "HEURISTICS", "BPResult", "JunctionTree", "belief_propagation", "elimination_cost",
    "elimination_order", "evidence_indices", "greedy_order", "renormalized", "sum_product",
    "variable_elimination", "ve_plan",
]
