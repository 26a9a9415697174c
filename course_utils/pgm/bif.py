"""A small reader of the BIF format (the bnlearn repository's networks), independent of pgmpy."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from course_utils.pgm.factor import Factor
from course_utils.pgm.network import BayesianNetwork

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
        try:
            text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
        except (UnicodeDecodeError, OSError, EOFError) as err:
            raise ValueError(f"BIF: {path} is not a BIF text file ({type(err).__name__}: {err})") from err
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
                row = [float(t) for t in entry[5:].replace(",", " ").split()]
                if len(row) != shape[0]:
                    raise ValueError(f"BIF: the table of {child} has {len(row)} value(s); "
                                     f"{child} has {shape[0]} states")
                values[:] = row
                continue
            m = re.fullmatch(r"\(([^)]*)\)\s*(.*)", entry, re.S)
            if m is None:
                raise ValueError(f"BIF: cannot read the row {entry!r} of {child}")
            cfg = [t.strip() for t in m.group(1).split(",")]
            try:
                idx = tuple(states[u].index(c) for u, c in zip(pa_t, cfg))
            except ValueError as err:
                raise ValueError(f"BIF: unknown state in row {entry!r} of {child}") from err
            row = [float(t) for t in m.group(2).replace(",", " ").split()]
            if len(row) != shape[0]:
                raise ValueError(f"BIF: the row {entry!r} of {child} has {len(row)} value(s); {child} has "
                                 f"{shape[0]} states")
            values[(slice(None), *idx)] = row
        if np.isnan(values).any():
            raise ValueError(f"BIF: the table of {child} misses some parent configurations")
        parents[child], cpds[child] = pa_t, Factor((child, *pa_t), shape, values)
    missing = [v for v in states if v not in cpds]
    if missing:
        raise ValueError(f"BIF: no probability block for {missing}")
    return BayesianNetwork({v: parents[v] for v in states}, cpds,
                           {v: states[v] for v in states})


