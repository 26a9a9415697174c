"""Benchmark: one training step of 07 (VAE), 11 (DDPM), 12 (conditional DDPM) and 14 (video DDPM) at the
``cpu`` profile's sizes, with 1, 2 and all of this machine's threads.

    python tools/bench_training.py [--steps 8] [--repeats 3] [--threads 1,2,4]

Each model is built as its notebook builds it (the same config, the same step: forward, loss,
backward, optimizer step) and fed random batches of its shape. Per thread count: 2 warm-up steps,
then the best of --repeats timings of --steps steps (the machine may be shared: the least
disturbed run counts), as seconds per step. Each thread count runs in a process of its own
(torch's thread pool is set once per process). The machine's load average is written beside the
numbers: on busy cores, more threads are slower. Writes build/artifacts/bench_training/metrics-cpu.json
(flat keys ``<nb>.threads_<n>.s_per_step``) and prints a Markdown table with the speed-up over one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NOTEBOOKS = ("07_vae", "11_diffusion", "12_guided_diffusion", "14_text_to_video")


def _vae_step():
    import torch
    import torch.nn.functional as F

    from course_utils.neural.autoencoders import VAE

    model = VAE(784, 400, 20, activation="relu")  # 07's cpu config: 784-400-20, batches of 100
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(100, 784)

    def step():
        xb = torch.bernoulli(x)
        mu, logvar = model.encode(xb)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        rec = F.binary_cross_entropy_with_logits(model.decode(z), xb, reduction="sum") / len(xb)
        kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp())).sum() / len(xb)
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _ddpm_step(conditional: bool):
    import torch

    from course_utils.diffusion import ddpm, guidance

    config = guidance.conditional_config("fashion_mnist", "cpu") if conditional else ddpm.mnist_config("cpu")
    model = ddpm.build(config)
    train_step = ddpm.train_step(model, 60_000)
    x0 = torch.rand(config.batch_size, 1, 28, 28) * 2 - 1
    y = torch.randint(0, 10, (config.batch_size,))
    batch = (x0, y) if conditional else (x0,)
    return lambda: train_step(batch)


def _video_step():
    import torch

    from course_utils import profile
    from course_utils.diffusion import EMA, NoiseSchedule, video
    from course_utils.diffusion.video import VideoDDPMConfig, VideoUNetConfig

    mc = VideoDDPMConfig(VideoUNetConfig(channels=(16, 32), emb_dim=64, temporal_attention=False), epochs=3,
                         batch_size=32, lr=3e-3)  # 14's cpu config
    with profile.seeded(mc.seed):
        net = video.VideoUNet(mc.net)
    ema = EMA(net, mc.ema_decay)
    opt = torch.optim.AdamW(net.parameters(), lr=mc.lr)
    S = NoiseSchedule.linear(mc.T, mc.beta_1, mc.beta_T)
    x0 = torch.rand(mc.batch_size, 1, 8, 16, 16) * 2 - 1
    tokens = video.tokenize([video.prompt(d % 10, d % 4) for d in range(mc.batch_size)])

    def step():
        t = torch.randint(1, S.T + 1, (x0.shape[0],))
        eps = torch.randn_like(x0)
        loss = ((eps - net(S.q_sample(x0, t, noise=eps), t, tokens)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), mc.grad_clip)
        opt.step()
        ema.update(net)

    return step


BUILDERS = {"07_vae": _vae_step, "11_diffusion": lambda: _ddpm_step(False),
            "12_guided_diffusion": lambda: _ddpm_step(True), "14_text_to_video": _video_step}


def _measure(notebook: str, threads: int, steps: int, repeats: int) -> float:
    """Seconds per training step of ``notebook`` with ``threads`` torch threads (run in this process)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    step = BUILDERS[notebook]()
    for _ in range(2):
        step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="", help="thread counts to try (default: 1, 2 and all cores)")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # notebook, threads: measure in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_measure(args.one[0], int(args.one[1]), args.steps, args.repeats)))
        return 0
    cores = os.cpu_count() or 1
    counts = sorted({int(c) for c in args.threads.split(",") if c} or {1, min(2, cores), cores})
    load_before = os.getloadavg()[0]
    metrics: dict[str, float | str] = {"cores": cores, "load_average_at_start": round(load_before, 2)}
    rows = []
    for nb in NOTEBOOKS:
        seconds = {}
        for n in counts:
            done = subprocess.run([sys.executable, __file__, "--one", nb, str(n), "--steps", str(args.steps),
                                   "--repeats", str(args.repeats)], capture_output=True, text=True, timeout=1800,
                                  env={**os.environ, "OMP_NUM_THREADS": str(n)})
            if done.returncode:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            seconds[n] = float(done.stdout.strip().splitlines()[-1])
            metrics[f"{nb}.threads_{n}.s_per_step"] = round(seconds[n], 5)
        rows.append((nb, seconds))
        print(f"{nb}: " + ", ".join(f"{n} thread(s) {s * 1000:.1f} ms" for n, s in seconds.items()), flush=True)
    metrics["load_average_at_end"] = round(os.getloadavg()[0], 2)
    head = "| notebook | " + " | ".join(f"{n} thread(s): ms/step (speed-up)" for n in counts) + " |"
    lines = [head, "|---" * (len(counts) + 1) + "|"]
    for nb, seconds in rows:
        cells = [f"{seconds[n] * 1000:.1f} ({seconds[counts[0]] / seconds[n]:.2f}×)" for n in counts]
        lines.append(f"| {nb} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    end = metrics["load_average_at_end"]
    print(f"{cores} cores; load average {load_before:.1f} at the start, {end:.1f} at the end")
    from course_utils.paths import atomic_write, build_dir

    atomic_write(build_dir() / "artifacts" / "bench_training" / "metrics-cpu.json",
                 json.dumps({**metrics, "profile": "cpu"}, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
