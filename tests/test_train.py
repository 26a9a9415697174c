"""fit(): training, history, checkpoints, and resuming an interrupted run to the same result."""

import pytest
import torch
from torch import nn

from course_utils import checkpoints, train


def make_problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(64, 1, generator=g)
    torch.manual_seed(seed)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)

    def step(batch):
        xb, yb = batch
        # noise from the global RNG, so resuming must restore the RNG state to match
        loss = ((model(xb + 0.01 * torch.randn_like(xb)) - yb) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    return model, opt, step, (x, y)


def test_fit_lowers_the_loss_and_records_history():
    model, opt, step, data = make_problem()
    hist = train.fit(step, data, epochs=5, batch_size=16, modules={"m": model}, optimizers={"o": opt},
                     progress=False)
    assert len(hist.steps["loss"]) == 5 * 4 and len(hist.epochs["loss"]) == 5
    assert hist.epochs["loss"][-1] < 0.2 * hist.epochs["loss"][0]
    assert hist.n_epochs == 5 and hist.last("loss") == hist.epochs["loss"][-1]


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    ref_model, ref_opt, ref_step, data = make_problem()
    ref_hist = train.fit(ref_step, data, epochs=6, batch_size=16, modules={"m": ref_model},
                         optimizers={"o": ref_opt}, progress=False)

    ckpt = tmp_path / "run.pt"
    model, opt, step, data = make_problem()

    def stop_after_third(epoch, history):
        if epoch == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        train.fit(step, data, epochs=6, batch_size=16, modules={"m": model}, optimizers={"o": opt},
                  checkpoint=ckpt, progress=False, on_epoch_end=stop_after_third)
    torch.randn(100)  # the world moves on between the two sessions

    model2, opt2, step2, data = make_problem(seed=0)
    with torch.no_grad():
        model2.weight.fill_(9.0)  # a fresh model: everything must come from the checkpoint
    hist = train.fit(step2, data, epochs=6, batch_size=16, modules={"m": model2}, optimizers={"o": opt2},
                     checkpoint=ckpt, progress=False)
    assert hist.resumed_from == 3
    assert torch.equal(model2.weight, ref_model.weight) and torch.equal(model2.bias, ref_model.bias)
    assert hist.epochs["loss"] == ref_hist.epochs["loss"]


def test_finished_run_is_loaded_not_retrained(tmp_path, capsys):
    ckpt = tmp_path / "done.pt"
    model, opt, step, data = make_problem()
    train.fit(step, data, epochs=2, batch_size=32, modules={"m": model}, optimizers={"o": opt}, checkpoint=ckpt,
              progress=False)
    calls = []
    model2, opt2, step2, _ = make_problem()
    hist = train.fit(lambda b: calls.append(1) or {}, data, epochs=2, batch_size=32, modules={"m": model2},
                     optimizers={"o": opt2}, checkpoint=ckpt, progress=False)
    assert not calls and hist.resumed_from == 2 and torch.equal(model2.weight, model.weight)
    assert "loaded finished run" in capsys.readouterr().out


def test_truncated_checkpoint_is_reported_and_retrained(tmp_path, capsys):
    ckpt = tmp_path / "bad.pt"
    model, opt, step, data = make_problem()
    train.fit(step, data, epochs=2, batch_size=32, modules={"m": model}, optimizers={"o": opt}, checkpoint=ckpt,
              progress=False)
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])  # a crash mid-copy
    model2, opt2, step2, _ = make_problem()
    hist = train.fit(step2, data, epochs=2, batch_size=32, modules={"m": model2}, optimizers={"o": opt2},
                     checkpoint=ckpt, progress=False)
    assert "unreadable" in capsys.readouterr().out and hist.resumed_from == 0
    assert len(hist.epochs["loss"]) == 2 and checkpoints.load(ckpt) is not None  # rewritten whole


def test_stale_checkpoint_for_another_config_is_retrained(tmp_path, capsys):
    ckpt = tmp_path / "cfg.pt"
    model, opt, step, data = make_problem()
    train.fit(step, data, epochs=1, batch_size=32, modules={"m": model}, optimizers={"o": opt}, checkpoint=ckpt,
              config={"lr": 0.05}, progress=False)
    model2, opt2, step2, _ = make_problem()
    hist = train.fit(step2, data, epochs=1, batch_size=32, modules={"m": model2}, optimizers={"o": opt2},
                     checkpoint=ckpt, config={"lr": 0.5}, progress=False)
    assert "another config" in capsys.readouterr().out and hist.resumed_from == 0


def test_checkpoint_of_another_architecture_is_retrained(tmp_path, capsys):
    ckpt = tmp_path / "arch.pt"
    model, opt, step, data = make_problem()
    train.fit(step, data, epochs=1, batch_size=32, modules={"m": model}, optimizers={"o": opt}, checkpoint=ckpt,
              progress=False)
    other = nn.Linear(3, 2)
    hist = train.fit(lambda b: {}, data, epochs=1, batch_size=32, modules={"m": other},
                     optimizers={"o": torch.optim.SGD(other.parameters(), lr=0.1)}, checkpoint=ckpt, progress=False)
    assert "does not match" in capsys.readouterr().out and hist.resumed_from == 0


def test_bad_arguments():
    model, opt, step, data = make_problem()
    with pytest.raises(ValueError, match="same first dimension"):
        train.fit(step, (data[0], data[1][:3]), epochs=1, batch_size=8, modules={}, optimizers={})
    with pytest.raises(ValueError, match="batch_size"):
        train.fit(step, data, epochs=1, batch_size=0, modules={}, optimizers={})
