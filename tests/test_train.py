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


def test_a_diverging_run_stops_naming_the_epoch_and_caches_nothing_of_it():
    model, opt, step, data = make_problem()
    ckpt = ckpt_key(model, opt, data, name="diverge")
    calls = []

    def exploding(batch):
        calls.append(1)
        out = step(batch)
        return {"loss": float("nan")} if len(calls) > 2 else out  # the third step of epoch 2 (2 steps/epoch)

    with pytest.raises(train.TrainingDiverged, match=r"diverged at epoch 2/3, step 1: loss = nan.*kept at"):
        train.fit(exploding, data, epochs=3, batch_size=32, modules={"m": model}, optimizers={"o": opt},
                  checkpoint=ckpt, progress=False)
    state = checkpoints.load(ckpt)
    assert state["epoch"] == 1  # the first epoch's checkpoint, nothing of the diverged one
    # a NaN that reaches the weights while the reported loss is finite is caught at the epoch's end
    model2, opt2, _, _ = make_problem()

    def poisoned(batch):
        with torch.no_grad():
            model2.weight[0, 0] = float("inf")
        return {"loss": 1.0}

    ckpt2 = ckpt_key(model2, opt2, data, name="poisoned")
    with pytest.raises(train.TrainingDiverged, match=r"epoch 1/2: parameter m.weight holds NaN or infinite"):
        train.fit(poisoned, data, epochs=2, batch_size=32, modules={"m": model2}, optimizers={"o": opt2},
                  checkpoint=ckpt2, progress=False)
    assert checkpoints.load(ckpt2) is None


def test_changing_the_training_images_retrains():
    """The key covers the tensors' content: binarising the images (same name, source, size) retrains."""
    from course_utils import data as datamod

    images = datamod.load("digits", "train", n=64, verbose=False)
    model, opt, step, _ = make_problem()
    x = images.images.flatten(1)[:, :3]
    y = x.sum(1, keepdim=True)

    def fit_on(image_set):
        m, o, s, _ = make_problem()
        k = checkpoints.key("test", "digits", modules={"m": m}, optimizers={"o": o}, data=image_set)
        return train.fit(s, (x, y), epochs=1, batch_size=32, modules={"m": m}, optimizers={"o": o}, checkpoint=k,
                         progress=False)

    assert fit_on(images).resumed_from == 0
    assert fit_on(images).resumed_from == 1  # control: the same data loads the trained model
    binary = datamod.ImageSet((images.images > 0.5).float(), images.labels, images.name, images.split,
                              images.source, images.classes, seed=images.seed)
    assert fit_on(binary).resumed_from == 0  # other content: trained anew
    other_seed = datamod.load("digits", "train", n=64, seed=1, verbose=False)
    assert other_seed.seed == 1 and images.seed == 0
    assert fit_on(other_seed).resumed_from == 0


def test_a_full_disk_while_training_is_warned_and_training_goes_on(monkeypatch):
    from course_utils import paths

    model, opt, step, data = make_problem()
    ckpt = ckpt_key(model, opt, data, name="full")

    def full(*args, **kwargs):
        raise paths.DiskFullError(28, f"disk full: could not write {ckpt.path}")

    monkeypatch.setattr(paths, "atomic_write", full)
    with pytest.warns(checkpoints.CheckpointWarning, match="disk full.*training goes on without saving"):
        hist = train.fit(step, data, epochs=3, batch_size=32, modules={"m": model}, optimizers={"o": opt},
                         checkpoint=ckpt, progress=False)
    assert len(hist.epochs["loss"]) == 3
