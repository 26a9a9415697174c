"""Tables as (scope, ndarray) pairs: the einsum kernels that every exact-inference algorithm uses.

Each product-and-sum-out is one ``np.einsum`` call, so there is no Python loop over table
entries; the subscripts of a call depend only on the scopes, so callers compute them once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain

import numpy as np

Scope = tuple[str, ...]


def einsum_tables(operands: Sequence[tuple[Scope, np.ndarray]], out: Scope) -> np.ndarray:
    """Π operands, summed onto ``out``: one einsum call (at most 52 variables per call)."""
    return np.einsum(subscripts([s for s, _ in operands], out), *[a for _, a in operands])


LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def subscripts(operands: Sequence[Scope], out: Scope) -> str:
    """Einsum subscripts like ``"ab,bc->ac"`` for these scopes (letters assigned in order)."""
    names = dict.fromkeys(chain(*operands, out))  # each variable once, in order of appearance
    if len(names) > len(LETTERS):
        raise ValueError(f"one einsum call can hold {len(LETTERS)} variables, these scopes have {len(names)}")
    letter = dict(zip(names, LETTERS)).__getitem__
    return ",".join(["".join(map(letter, scope)) for scope in operands]) + "->" + "".join(map(letter, out))


def subscripts_for(variables: Iterable[str]) -> Callable[[Sequence[Scope], Scope], str]:
    """``subscripts`` for scopes over these variables, with one fixed letter per variable.

    Faster when a caller builds many subscripts (a plan, a junction tree's schedule): no letters
    are assigned per call. More than 52 variables: letters per call (``subscripts`` itself).
    """
    names = list(dict.fromkeys(variables))
    if len(names) > len(LETTERS):
        return subscripts
    letter = dict(zip(names, LETTERS)).__getitem__

    def spec(operands: Sequence[Scope], out: Scope) -> str:
        return ",".join(["".join(map(letter, scope)) for scope in operands]) + "->" + "".join(map(letter, out))

    return spec


def run_einsum(arrays: Sequence[np.ndarray], spec: str) -> np.ndarray:
    """Run precomputed einsum subscripts ``spec`` on ``arrays``."""
    return np.einsum(spec, *arrays)


def reduce_table(values: np.ndarray, reducer: tuple, evidence: Mapping[str, int]) -> np.ndarray:
    """Index ``values`` by the evidence: ``reducer`` lists (axis, variable) pairs to fix."""
    if not reducer:
        return values
    index: list = [slice(None)] * values.ndim
    for i, u in reducer:
        index[i] = evidence[u]
    return values[tuple(index)]
