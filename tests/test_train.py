"""fit(): training, history, checkpoints, resuming an interrupted run to the same result, no hidden state."""

import warnings

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


def ckpt_key(model, opt, data, name="run", **config):
    return checkpoints.key("test", name, config=config, modules={"m": model}, optimizers={"o": opt}, data=data)


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

    model, opt, step, data = make_problem()
    ckpt = ckpt_key(model, opt, data)

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
    assert hist.resumed_from == 2  # the interrupted third epoch was not saved (its callback did not finish)
    assert torch.equal(model2.weight, ref_model.weight) and torch.equal(model2.bias, ref_model.bias)
    assert hist.epochs["loss"] == ref_hist.epochs["loss"]


def test_finished_run_is_loaded_not_retrained(tmp_path, capsys):
    model, opt, step, data = make_problem()
    ckpt = ckpt_key(model, opt, data)
    train.fit(step, data, epochs=2, batch_size=32, modules={"m": model}, optimizers={"o": opt}, checkpoint=ckpt,
              progress=False)
    calls = []
    model2, opt2, step2, _ = make_problem()
    hist = train.fit(lambda b: calls.append(1) or {}, data, epochs=2, batch_size=32, modules={"m": model2},
                     optimizers={"o": opt2}, checkpoint=ckpt, progress=False)
    assert not calls and hist.resumed_from == 2 and torch.equal(model2.weight, model.weight)
    assert "" == capsys.readouterr().out  # progress=False: silent


def test_truncated_checkpoint_is_warned_kept_aside_and_retrained():
    model, opt, step, data = make_problem()
    ckpt = ckpt_key(model, opt, data)
    train.fit(step, data, epochs=2, batch_size=32, modules={"m": model}, optimizers={"o": opt}, checkpoint=ckpt,
              progress=False)
    ckpt.path.write_bytes(ckpt.path.read_bytes()[: ckpt.path.stat().st_size // 2])  # a crash mid-copy
    model2, opt2, step2, _ = make_problem()
    with pytest.warns(checkpoints.CheckpointWarning, match="unreadable"):
        hist = train.fit(step2, data, epochs=2, batch_size=32, modules={"m": model2}, optimizers={"o": opt2},
                         checkpoint=ckpt, progress=False)
    assert hist.resumed_from == 0 and len(hist.epochs["loss"]) == 2
    assert checkpoints.load(ckpt) is not None  # rewritten whole
    assert ckpt.path.with_name(ckpt.path.stem + ".unused-1.pt").exists()  # the damaged file is kept


def test_a_checkpoint_that_fails_half_way_loads_nothing_and_is_kept():
    """D's shapes changed but G's did not: G must not keep the checkpoint's weights."""
    torch.manual_seed(0)
    G, D = nn.Linear(3, 3), nn.Linear(3, 1)
    opt = torch.optim.SGD([*G.parameters(), *D.parameters()], lr=0.1)
    ckpt = checkpoints.key("test", "gan", config={"v": 1})  # the same key for both (e.g. typed by hand)
    x = torch.randn(8, 3)
    train.fit(lambda b: {}, x, epochs=1, batch_size=4, modules={"G": G, "D": D}, optimizers={"o": opt},
              checkpoint=ckpt, progress=False)
    G2, D2 = nn.Linear(3, 3), nn.Linear(3, 2)
    fresh_G = G2.weight.detach().clone()
    opt2 = torch.optim.SGD([*G2.parameters(), *D2.parameters()], lr=0.1)
    with pytest.warns(checkpoints.CheckpointWarning, match="does not match"):
        hist = train.fit(lambda b: {}, x, epochs=1, batch_size=4, modules={"G": G2, "D": D2},
                         optimizers={"o": opt2}, checkpoint=ckpt, progress=False)
    assert hist.resumed_from == 0
    assert torch.equal(G2.weight, fresh_G) and not torch.equal(G2.weight, G.weight)
    assert ckpt.path.with_name(ckpt.path.stem + ".unused-1.pt").exists()


def test_fit_leaves_the_global_rng_alone_and_models_in_eval_mode():
    model, opt, step, data = make_problem()
    torch.manual_seed(123)
    expected = torch.randn(3)
    torch.manual_seed(123)
    train.fit(step, data, epochs=2, batch_size=16, modules={"m": model}, optimizers={"o": opt}, progress=False)
    assert torch.equal(torch.randn(3), expected)
    assert not model.training


def test_a_loaded_run_continues_like_a_trained_one():
    """After fit, the caller's random numbers do not depend on whether the run was trained or loaded."""
    model, opt, step, data = make_problem()
    ckpt = ckpt_key(model, opt, data)
    torch.manual_seed(7)
    train.fit(step, data, epochs=2, batch_size=16, modules={"m": model}, optimizers={"o": opt},
              checkpoint=ckpt, progress=False)
    after_training = torch.randn(4)
    model2, opt2, step2, _ = make_problem()
    torch.manual_seed(7)
    train.fit(step2, data, epochs=2, batch_size=16, modules={"m": model2}, optimizers={"o": opt2},
              checkpoint=ckpt, progress=False)
    assert torch.equal(torch.randn(4), after_training)


def test_rng_state_is_saved_after_the_epoch_callback():
    """A callback that draws random numbers must not break exact resume."""
    def draw(epoch, history):
        torch.randn(10)

    ref_model, ref_opt, ref_step, data = make_problem()
    train.fit(ref_step, data, epochs=4, batch_size=16, modules={"m": ref_model}, optimizers={"o": ref_opt},
              progress=False, on_epoch_end=draw)
    model, opt, step, _ = make_problem()
    ckpt = ckpt_key(model, opt, data, name="cb")

    def draw_then_stop(epoch, history):
        draw(epoch, history)
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train.fit(step, data, epochs=4, batch_size=16, modules={"m": model}, optimizers={"o": opt},
                  checkpoint=ckpt, progress=False, on_epoch_end=draw_then_stop)
    model2, opt2, step2, _ = make_problem()
    train.fit(step2, data, epochs=4, batch_size=16, modules={"m": model2}, optimizers={"o": opt2},
              checkpoint=ckpt, progress=False, on_epoch_end=draw)
    assert torch.equal(model2.weight, ref_model.weight)


def test_progress_false_prints_nothing(capsys):
    model, opt, step, data = make_problem()
    ckpt = ckpt_key(model, opt, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):  # trained, then loaded
            train.fit(step, data, epochs=1, batch_size=16, modules={"m": model}, optimizers={"o": opt},
                      checkpoint=ckpt, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_max_steps_caps_training_and_caches_nothing(monkeypatch):
    monkeypatch.setenv("COURSE_MAX_STEPS", "3")
    model, opt, step, data = make_problem()
    ckpt = ckpt_key(model, opt, data)
    hist = train.fit(step, data, epochs=5, batch_size=16, modules={"m": model}, optimizers={"o": opt},
                     checkpoint=ckpt, progress=False)
    assert len(hist.steps["loss"]) == 3 and hist.capped
    assert not ckpt.path.exists()


def test_checkpoint_must_be_a_key(tmp_path):
    model, opt, step, data = make_problem()
    with pytest.raises(TypeError, match="checkpoints.Key"):
        train.fit(step, data, epochs=1, batch_size=16, modules={"m": model}, optimizers={"o": opt},
                  checkpoint=tmp_path / "x.pt")


def test_bad_arguments():
    model, opt, step, data = make_problem()
    with pytest.raises(ValueError, match="same first dimension"):
        train.fit(step, (data[0], data[1][:3]), epochs=1, batch_size=8, modules={}, optimizers={})
    with pytest.raises(ValueError, match="batch_size"):
        train.fit(step, data, epochs=1, batch_size=0, modules={}, optimizers={})


def test_one_progress_bar_per_run_not_per_epoch(monkeypatch):
    """A widget per epoch floods a notebook kernel's output channel (nbval then loses its 'idle')."""
    import tqdm.auto

    made = []
    real = tqdm.auto.tqdm

    def counting(*args, **kwargs):
        made.append(kwargs.get("total"))
        return real(*args, **kwargs)

    monkeypatch.setattr(tqdm.auto, "tqdm", counting)
    model, opt, step, data = make_problem()
    train.fit(step, data, epochs=30, batch_size=16, modules={"m": model}, optimizers={"o": opt}, progress=False)
    assert made == [30 * 4]
