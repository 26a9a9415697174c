"""A small fit loop: in-memory batches, progress bar, loss history, checkpoint and resume.

The notebook writes the algorithm (``step``: forward, loss, backward, optimizer step) and
``fit`` does the plumbing around it. With a ``checkpoint`` key (``checkpoints.key``), state is
saved at the end of every epoch; a later call resumes after the last finished epoch (a finished
run is just loaded) and, because the shuffling and the torch RNG state are restored, ends with
exactly the same weights as an uninterrupted run.

No hidden state: training draws its random numbers from torch's global generator *inside*
``torch.random.fork_rng``, seeded by ``seed`` (or restored from the checkpoint), so the caller's
generator is the same after ``fit`` as before it, whether the run was trained or loaded. Every
module is returned in eval mode. ``COURSE_MAX_STEPS`` (``profile.max_steps``) caps the number of
optimisation steps: a capped run is a dry run, and neither loads nor writes checkpoints.

A run that diverges (a NaN or infinite value returned by ``step``, or in a parameter at the end of
an epoch) stops with ``TrainingDiverged``, naming the epoch, the step and the value; the diverged
model is never cached. A checkpoint that cannot be written because the disk is full is warned
about once and training goes on (the model is kept in memory, just not cached).
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import checkpoints, paths
from . import profile as _profile

Batch = tuple[torch.Tensor, ...]


@dataclass
class History:
    """Per-step values and per-epoch means of what ``step`` returned, plus timing."""

    steps: dict[str, list[float]] = field(default_factory=dict)
    epochs: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0  # training time, summed over resumed runs
    resumed_from: int = 0  # epochs that were loaded from a checkpoint rather than trained now
    capped: bool = False  # stopped early by COURSE_MAX_STEPS (a dry run)

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


class TrainingDiverged(FloatingPointError):
    """Training produced a NaN or infinite value: stopped, nothing cached."""


def _diverged(what: str, epoch: int, epochs: int, step: int | None,
              checkpoint: checkpoints.Key | None) -> TrainingDiverged:
    where = f"epoch {epoch + 1}/{epochs}" + (f", step {step + 1}" if step is not None else "")
    kept = (f"nothing of this epoch was cached (an earlier epoch's checkpoint, if any, is kept at {checkpoint.path})"
            if checkpoint is not None else "nothing was cached")
    return TrainingDiverged(f"training diverged at {where}: {what}. Stopped; {kept}. Lower the learning rate "
                            "(or check the data for NaN values) and run the cell again.")


def _as_tuple(data: torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]) -> Batch:
    data = (data,) if isinstance(data, torch.Tensor) else tuple(data)
    if not data or any(t.shape[0] != data[0].shape[0] for t in data):
        raise ValueError("data must be a tensor or a tuple of tensors with the same first dimension")
    return data


def fit(step: Callable[[Batch], Mapping[str, float]],
        data: torch.Tensor | tuple[torch.Tensor, ...],
        *, epochs: int, batch_size: int,
        modules: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
        checkpoint: checkpoints.Key | None = None,
        seed: int = 0, desc: str = "train", device: torch.device | None = None,
        progress: bool = True, drop_last: bool = True,
        on_epoch_end: Callable[[int, History], None] | None = None,
        max_steps: int | None = None) -> History:
    """Run ``epochs`` epochs of ``step(batch)`` over shuffled mini-batches of ``data``.

    ``step`` receives a tuple of tensors on ``device`` and returns a dict of floats. Returns the
    ``History``; the modules are left on ``device`` in eval mode. With ``checkpoint`` (a
    ``checkpoints.Key``), resumes from / saves to its file. ``max_steps`` (default:
    ``profile.max_steps()``, from COURSE_MAX_STEPS) stops after that many steps. With
    ``progress=False`` nothing is printed.
    """
    from tqdm.auto import tqdm

    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    if checkpoint is not None and not isinstance(checkpoint, checkpoints.Key):
        raise TypeError("checkpoint must be a checkpoints.Key (checkpoints.key(notebook, name, config=..., "
                        f"modules=..., data=...)), got {type(checkpoint).__name__}")
    data = _as_tuple(data)
    device = device or _profile.device()
    max_steps = _profile.max_steps() if max_steps is None else max_steps
    if max_steps is not None:
        checkpoint = None  # a capped run is a dry run: nothing cached, nothing loaded
    n = data[0].shape[0]
    n_batches = n // batch_size if drop_last and n >= batch_size else -(-n // batch_size)
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        history, start_epoch = _resume(checkpoint, modules, optimizers, epochs, progress)
        for module in modules.values():
            module.to(device).train()
        steps_done = 0
        # one bar for the whole run (not one per epoch): a notebook's progress widget sends a few
        # messages per bar, and hundreds of short epochs would flood the kernel's output channel
        total = (epochs - start_epoch) * n_batches
        if max_steps is not None:
            total = min(total, max_steps)
        bar = tqdm(total=total, desc=desc, disable=not progress or total == 0, leave=False, mininterval=0.5)
        for epoch in range(start_epoch, epochs):
            t0 = time.perf_counter()
            # shuffle with a generator seeded by (seed, epoch): a resumed run sees the same batches
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
            sums: dict[str, float] = {}
            counts = 0
            bar.set_description(f"{desc} {epoch + 1}/{epochs}", refresh=False)
            for b in range(n_batches):
                if max_steps is not None and steps_done >= max_steps:
                    history.capped = True
                    break
                idx = order[b * batch_size:(b + 1) * batch_size]
                batch = tuple(t[idx].to(device, non_blocking=True) for t in data)
                out = step(batch)
                steps_done += 1
                counts += 1
                for k, value in out.items():
                    value = float(value)
                    if not math.isfinite(value):
                        bar.close()
                        raise _diverged(f"{k} = {value}", epoch, epochs, b, checkpoint)
                    history.steps.setdefault(k, []).append(value)
                    sums[k] = sums.get(k, 0.0) + value
                if out:
                    bar.set_postfix({k: f"{float(v):.3g}" for k, v in out.items()}, refresh=False)
                bar.update(1)
            for k, value_sum in sums.items():
                history.epochs.setdefault(k, []).append(value_sum / max(counts, 1))
            history.seconds += time.perf_counter() - t0
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
            if history.capped:
                break
            for name, module in modules.items():
                bad = next((k for k, p in module.state_dict().items()
                            if p.is_floating_point() and not bool(torch.isfinite(p).all())), None)
                if bad is not None:
                    bar.close()
                    raise _diverged(f"parameter {name}.{bad} holds NaN or infinite values", epoch, epochs, None,
                                    checkpoint)
            if checkpoint is not None:  # after the callbacks: their random draws are part of the state
                checkpoint = _save(checkpoint, {
                    "modules": {k: m.state_dict() for k, m in modules.items()},
                    "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                    "history": history.state_dict(), "epoch": epoch + 1,
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if cuda else [],
                })
        bar.close()
    for module in modules.values():
        module.eval()
    if progress and epochs > start_epoch:
        summary = ", ".join(f"{k} {v[-1]:.4g}" for k, v in history.epochs.items())
        capped = f" (capped at {max_steps} steps by COURSE_MAX_STEPS)" if history.capped else ""
        print(f"{desc}: {epochs - start_epoch} epoch(s) in {history.seconds:.1f} s{capped}; last epoch: {summary}")
    return history


def _save(checkpoint: checkpoints.Key, state: dict[str, Any]) -> checkpoints.Key | None:
    """Save an epoch's state; on a full disk warn and go on without checkpoints (returns None)."""
    try:
        checkpoints.save(checkpoint, state)
    except paths.DiskFullError as err:
        warnings.warn(f"{err}; training goes on without saving checkpoints (the trained model stays in memory)",
                      checkpoints.CheckpointWarning, stacklevel=3)
        return None
    return checkpoint


def _resume(checkpoint: checkpoints.Key | None, modules: Mapping[str, nn.Module],
            optimizers: Mapping[str, torch.optim.Optimizer], epochs: int,
            progress: bool) -> tuple[History, int]:
    """Load a checkpoint into the modules and optimizers, all or nothing; sets the RNG state."""
    if checkpoint is None:
        return History(), 0
    found = checkpoints.find(checkpoint)
    if found is None:
        return History(), 0
    state, source = found
    backup = ({k: copy.deepcopy(m.state_dict()) for k, m in modules.items()},
              {k: copy.deepcopy(o.state_dict()) for k, o in optimizers.items()})
    try:
        if set(state["modules"]) != set(modules) or set(state["optimizers"]) != set(optimizers):
            raise KeyError(f"it holds modules {sorted(state['modules'])} and optimizers "
                           f"{sorted(state['optimizers'])}")
        for name, module in modules.items():
            module.load_state_dict(state["modules"][name])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        history = History.from_state(state["history"])
        start_epoch = int(state["epoch"])
        torch.set_rng_state(state["torch_rng"])
        if torch.cuda.is_available() and state.get("cuda_rng"):
            torch.cuda.set_rng_state_all(state["cuda_rng"])
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        for name, module in modules.items():  # all or nothing: undo what was loaded
            module.load_state_dict(backup[0][name])
        for name, opt in optimizers.items():
            opt.load_state_dict(backup[1][name])
        checkpoints.discard(checkpoint, source, f"does not match these models ({str(err)[:160]})")
        return History(), 0
    history.resumed_from = start_epoch
    if progress:
        what = "finished run" if start_epoch >= epochs else f"epoch {start_epoch}/{epochs}"
        print(f"[checkpoint] loaded {what} from {source}")
    return history, start_epoch
