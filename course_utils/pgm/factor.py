"""Discrete factors as values: phi(x_1, ..., x_n) over named variables.

Every operation (product, marginalize, reduce, normalize, ...) returns a new factor; nothing is
modified in place (pgmpy's algebra, minus its ``inplace`` flag). States are integer indices
``0 .. card-1``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

#: joint() refuses tables larger than this (4M float64 entries = 32 MiB).
MAX_JOINT_ENTRIES = 2**22

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

    @classmethod
    def _wrap(cls, variables: tuple[str, ...], cardinality: tuple[int, ...], values: np.ndarray) -> Factor:
        """A factor around a new float array that nothing else holds (inference results): no checks, no copy."""
        f = object.__new__(cls)
        values.setflags(write=False)
        object.__setattr__(f, "variables", variables)
        object.__setattr__(f, "cardinality", cardinality)
        object.__setattr__(f, "values", values)
        return f

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


