"""A query's arguments, checked: the queried variables and the evidence as state indices.

Every inference routine (variable elimination, the junction tree, the samplers) reads its
arguments through these, so an unknown, repeated or observed query variable, or an evidence state
that is neither a state name nor a valid index, is the same clear error everywhere.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np


class HasStates(Protocol):
    """What evidence is read against: a network or a junction tree (``states`` None: no state names)."""

    card: Mapping[str, int]
    states: Mapping[str, Sequence[str]] | None


def evidence_indices(bn: HasStates, evidence: Mapping[str, int | str] | None) -> dict[str, int]:
    """Evidence as state indices: ``{"smoke": "yes"}`` → ``{"smoke": 0}`` (ints pass through).

    A state is a state name or an integer index, nothing else: ``True`` or ``1.7`` would pass
    ``int(s)`` and silently mean another state (as in ``Factor.reduce``, a TypeError).
    ``bn`` is anything with ``card`` and ``states`` (None when it has no state names).
    """
    out: dict[str, int] = {}
    for v, s in (evidence or {}).items():
        if v not in bn.card:
            raise ValueError(f"unknown evidence variable {v!r}: valid variables are {', '.join(bn.card)}")
        names = bn.states[v] if bn.states else None
        valid = (f"one of {', '.join(map(repr, names))} or an index 0..{bn.card[v] - 1}" if names
                 else f"an index 0..{bn.card[v] - 1}")
        if isinstance(s, str):
            if names is None or s not in names:
                has = f"states {', '.join(map(repr, names))}" if names else "no state names"
                raise ValueError(f"{v!r} has {has}, not {s!r}: give {valid}")
            s = names.index(s)
        elif isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"evidence for {v!r} must be a state name or an integer index ({valid}), "
                            f"got {s!r} of type {type(s).__name__}")
        if not 0 <= s < bn.card[v]:
            raise ValueError(f"state index {s} out of range for {v!r} ({bn.card[v]} states): give {valid}")
        out[v] = int(s)
    return out


def as_names(variables: str | Iterable[str]) -> tuple[str, ...]:
    """A variable name or a collection of names as a tuple (a string is one name, not its letters)."""
    return (variables,) if isinstance(variables, str) else tuple(variables)


def check_variables(names: Sequence[str], known: Collection[str], what: str) -> None:
    """ValueError for names that are repeated or not among ``known`` (listing the valid ones)."""
    unknown = [v for v in names if v not in known]
    if unknown:
        raise ValueError(f"{what}: unknown variable(s) {unknown}; valid variables are {', '.join(known)}")
    if len(set(names)) != len(names):
        repeated = sorted({v for v in names if names.count(v) > 1})
        raise ValueError(f"{what}: repeated variable(s) {repeated}; name each variable once")


def check_query(bn: HasStates, variables: Sequence[str], observed: Collection[str]) -> None:
    """A query is a non-empty list of distinct variables of ``bn``, none of them observed."""
    if not variables:
        raise ValueError(f"the query needs a non-empty list of variables; valid variables are {', '.join(bn.card)}")
    check_variables(variables, bn.card, "query")
    both = [v for v in variables if v in observed]
    if both:
        raise ValueError(f"variables {both} are both queried and observed: drop them from the query "
                         "(an observed variable's posterior is its observed state)")
