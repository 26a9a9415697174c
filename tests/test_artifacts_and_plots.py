import json

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from course_utils import artifacts, bench, plotting  # noqa: E402
from course_utils.train import History  # noqa: E402


def test_samples_and_metrics_layout(isolated_dirs):
    images = torch.rand(4, 1, 8, 8)
    # nothing is returned, so a notebook cell ending with a save shows no build-machine path
    assert artifacts.save_samples("08_gan", images, torch.arange(4)) is None
    path = artifacts.artifact_dir("08_gan") / "samples.pt"
    saved = torch.load(path, weights_only=True)
    assert path == isolated_dirs / "build" / "artifacts" / "08_gan" / "samples.pt"
    assert torch.equal(saved["images"], images) and saved["labels"].tolist() == [0, 1, 2, 3]
    assert saved["profile"] == "smoke" and "dataset" not in saved
    artifacts.save_samples("12_guided", images, torch.arange(4), dataset="fashion_mnist")
    saved = torch.load(isolated_dirs / "build" / "artifacts" / "12_guided" / "samples.pt", weights_only=True)
    assert saved["dataset"] == "fashion_mnist" and saved["labels"].tolist() == [0, 1, 2, 3]
    clips = torch.rand(3, 1, 8, 16, 16)  # video clips N×C×F×H×W (notebook 14)
    artifacts.save_samples("14_video", clips, torch.arange(3), dataset="mnist")
    saved = torch.load(isolated_dirs / "build" / "artifacts" / "14_video" / "samples.pt", weights_only=True)
    assert torch.equal(saved["images"], clips) and saved["labels"].tolist() == [0, 1, 2]
    assert artifacts.save_metrics("08_gan", {"fid": torch.tensor(1.5), "modes": 7}) is None
    artifacts.save_metrics("08_gan", {"acc": 0.9})
    metrics = json.loads((path.parent / "metrics.json").read_text())
    assert metrics == {"fid": 1.5, "modes": 7, "acc": 0.9, "profile": "smoke"}


def test_metrics_are_kept_per_profile(monkeypatch):
    artifacts.save_metrics("07_vae", {"nll": 101.0})
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    artifacts.save_metrics("07_vae", {"nll": 95.0, "epochs": 60})
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    artifacts.save_metrics("07_vae", {"epochs": 1})
    assert artifacts.load_metrics("07_vae") == {"nll": 101.0, "epochs": 1, "profile": "smoke"}
    assert artifacts.load_metrics("07_vae", "cpu") == {"nll": 95.0, "epochs": 60, "profile": "cpu"}
    table = bench.gather()
    assert table.index("| 07_vae | smoke | nll | 101 |") < table.index("| 07_vae | cpu | nll | 95 |")


def test_samples_outside_unit_range_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        artifacts.save_samples("x", torch.full((1, 1, 2, 2), -1.0))
    with pytest.raises(ValueError, match="N×C×H×W"):
        artifacts.save_samples("x", torch.rand(2, 2))
    with pytest.raises(ValueError, match="N×C×F×H×W"):
        artifacts.save_samples("x", torch.rand(1, 1, 2, 2, 2, 2))


def test_bench_gathers_every_metrics_file(isolated_dirs):
    assert "No metrics yet" in bench.gather()
    artifacts.save_metrics("07_vae", {"iwae_nll_nats": 95.123456})
    artifacts.save_metrics("bench_inference", {"alarm.speedup": 12.0})
    table = bench.gather()
    assert "| 07_vae | smoke | iwae_nll_nats | 95.12 |" in table
    assert "| bench_inference | smoke | alarm.speedup | 12 |" in table


def test_make_grid_places_images():
    images = torch.zeros(5, 1, 2, 2)
    images[4] = 1.0
    grid = plotting.make_grid(images, nrow=2, pad=1)
    assert grid.shape == (3 * 3 + 1, 2 * 3 + 1, 1)
    assert grid[7:9, 1:3, 0].min() == 1.0  # image 4 is row 2, column 0
    assert grid[1:3, 1:3, 0].max() == 0.0


def test_figures_have_labels(isolated_dirs):
    hist = History(steps={"loss": [3.0, 2.0, 1.0]}, epochs={"loss": [2.0]})
    fig = plotting.plot_history(hist, title="t")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "training step" and ax.get_title() == "t"
    assert plotting.savefig(fig, "00_overview", "loss") is None
    path = isolated_dirs / "build" / "artifacts" / "00_overview" / "loss.png"
    assert path.exists() and path.stat().st_size > 1000
    fig2 = plotting.image_grid(torch.rand(6, 1, 4, 4), nrow=3, row_labels=["a", "b"])
    assert [t.get_text() for t in fig2.axes[0].get_yticklabels()] == ["a", "b"]


def test_graphical_model_modules_do_not_import_torch():
    """Notebooks 02-04 use no torch: importing what they use must not load it (~650 MB)."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from course_utils import artifacts, bench, paths, plotting, profile, quality, exercises\n"
            "import course_utils.pgm\n"
            "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
            "assert not loaded, loaded[:5]\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-800:]


def test_make_grid_takes_numpy_and_torch_alike():
    x = np.random.default_rng(0).random((3, 1, 4, 5))
    a, b = plotting.make_grid(x, nrow=2), plotting.make_grid(torch.from_numpy(x), nrow=2)
    assert a.shape == b.shape == (2 * 5 + 1, 2 * 6 + 1, 1) and np.allclose(a, b)
    assert np.allclose(a[1:5, 1:6, 0], x[0, 0]) and np.allclose(a[6:10, 1:6, 0], x[2, 0])
    assert np.allclose(plotting.make_grid(x[:, 0], nrow=3)[1:5, 7:12, 0], x[1, 0])  # N×H×W


def test_a_damaged_metrics_file_is_named_and_rewritten(isolated_dirs):
    artifacts.save_metrics("07_vae", {"nll": 101.0})
    path = artifacts.artifact_dir("07_vae") / "metrics-smoke.json"
    path.write_text("")  # what a full disk left behind (write_text truncates first)
    with pytest.warns(artifacts.DamagedArtifactWarning, match=f"{path} is damaged"):
        table = bench.gather()
    assert f"damaged file: {path}" in table
    with pytest.warns(artifacts.DamagedArtifactWarning, match="rewritten"):
        artifacts.save_metrics("07_vae", {"epochs": 2})
    assert json.loads(path.read_text()) == {"epochs": 2, "profile": "smoke"}
    assert not [p for p in path.parent.iterdir() if p.suffix == ".tmp"]
