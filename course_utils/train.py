"""A small fit loop: in-memory batches, progress bar, loss history, checkpoint and resume.

The notebook writes the algorithm (``step``: forward, loss, backward, optimizer step) and
``fit`` does the plumbing around it. With a ``checkpoint`` path, state is saved at the end of
every epoch; a later call resumes after the last finished epoch (a finished run is just loaded)
and, because the shuffling and the torch RNG state are restored, ends with exactly the same
weights as an uninterrupted run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checkpoints
from . import profile as _profile

Batch = tuple[torch.Tensor, ...]


@dataclass
class History:
    """Per-step values and per-epoch means of what ``step`` returned, plus timing."""

    steps: dict[str, list[float]] = field(default_factory=dict)
    epochs: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0  # training time, summed over resumed runs
    resumed_from: int = 0  # epochs that were loaded from a checkpoint rather than trained now

    def last(self, key: str) -> float:
        """The last per-epoch mean of ``key``."""
        return self.epochs[key][-1]

    @property
    def n_epochs(self) -> int:
        return max((len(v) for v in self.epochs.values()), default=0)

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "epochs": self.epochs, "seconds": self.seconds}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> History:
        return cls({k: list(v) for k, v in state["steps"].items()},
                   {k: list(v) for k, v in state["epochs"].items()}, float(state["seconds"]))


def _as_tuple(data: torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]) -> Batch:
    data = (data,) if isinstance(data, torch.Tensor) else tuple(data)
    if not data or any(t.shape[0] != data[0].shape[0] for t in data):
        raise ValueError("data must be a tensor or a tuple of tensors with the same first dimension")
    return data


def fit(step: Callable[[Batch], Mapping[str, float]],
        data: torch.Tensor | tuple[torch.Tensor, ...],
        *, epochs: int, batch_size: int,
        modules: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
        checkpoint: str | Path | None = None, config: Mapping[str, Any] | None = None,
        seed: int = 0, desc: str = "train", device: torch.device | None = None,
        progress: bool = True, drop_last: bool = True,
        on_epoch_end: Callable[[int, History], None] | None = None) -> History:
    """Run ``epochs`` epochs of ``step(batch)`` over shuffled mini-batches of ``data``.

    ``step`` receives a tuple of tensors on ``device`` and returns a dict of floats.
    Returns the ``History``. With ``checkpoint``, resumes from / saves to that file.
    """
    from tqdm.auto import tqdm

    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    data = _as_tuple(data)
    device = device or _profile.device()
    n = data[0].shape[0]
    n_batches = n // batch_size if drop_last and n >= batch_size else -(-n // batch_size)
    history = History()
    start_epoch = 0

    if checkpoint is not None:
        state = checkpoints.load(checkpoint, expect_config=config)
        if state is not None:
            try:
                for name, module in modules.items():
                    module.load_state_dict(state["modules"][name])
                for name, opt in optimizers.items():
                    opt.load_state_dict(state["optimizers"][name])
                history = History.from_state(state["history"])
                start_epoch = int(state["epoch"])
                torch.set_rng_state(state["torch_rng"])
                if torch.cuda.is_available() and state.get("cuda_rng"):
                    torch.cuda.set_rng_state_all(state["cuda_rng"])
            except (KeyError, RuntimeError, ValueError) as err:
                print(f"[checkpoint] {checkpoint} does not match these models ({err}); retraining")
                history, start_epoch = History(), 0
            else:
                history.resumed_from = start_epoch
                what = "finished run" if start_epoch >= epochs else f"epoch {start_epoch}/{epochs}"
                print(f"[checkpoint] loaded {what} from {checkpoint}")

    for module in modules.values():
        module.to(device).train()
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        # shuffle with a generator seeded by (seed, epoch): a resumed run sees the same batches
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        sums: dict[str, float] = {}
        bar = tqdm(range(n_batches), desc=f"{desc} {epoch + 1}/{epochs}", disable=not progress,
                   leave=False, mininterval=0.5)
        for b in bar:
            idx = order[b * batch_size:(b + 1) * batch_size]
            batch = tuple(t[idx].to(device, non_blocking=True) for t in data)
            out = step(batch)
            for key, value in out.items():
                value = float(value)
                history.steps.setdefault(key, []).append(value)
                sums[key] = sums.get(key, 0.0) + value
            if out:
                bar.set_postfix({k: f"{float(v):.3g}" for k, v in out.items()}, refresh=False)
        bar.close()
        for key, total in sums.items():
            history.epochs.setdefault(key, []).append(total / max(n_batches, 1))
        history.seconds += time.perf_counter() - t0
        if checkpoint is not None:
            checkpoints.save(checkpoint, {
                "modules": {k: m.state_dict() for k, m in modules.items()},
                "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                "history": history.state_dict(), "epoch": epoch + 1,
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            }, config=config)
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
    if progress and epochs > start_epoch:
        summary = ", ".join(f"{k} {v[-1]:.4g}" for k, v in history.epochs.items())
        print(f"{desc}: {epochs - start_epoch} epoch(s) in {history.seconds:.1f} s; last epoch: {summary}")
    return history
