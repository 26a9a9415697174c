"""Diffusion models (扩散生成): the noise schedule, the ε-networks, the 2-D toy, the MNIST DDPM, and
what guided, text-to-image and text-to-video diffusion add.

- :mod:`~course_utils.diffusion.schedule`: ``NoiseSchedule`` (β, α, ᾱ, posterior, DDIM step, respacing);
- :mod:`~course_utils.diffusion.unet`: ``UNet`` and ``MLPEpsModel`` (``eps_model(x_t, t, y=None)``), ``EMA``;
- :mod:`~course_utils.diffusion.toy`: a Gaussian mixture whose noised marginals are known exactly;
- :mod:`~course_utils.diffusion.toy_guidance`: exact answers on that toy for notebook 13 (its denoiser,
  the tilted and the conditional mixture, per-row Gaussian x_0 and ε);
- :mod:`~course_utils.diffusion.ddpm`: one DDPM config, builder and checkpoint key for images and
  clips; the MNIST DDPM shared by the diffusion notebooks.
- :mod:`~course_utils.diffusion.guidance`: the class-conditional DDPM's config and the noisy classifier
  (notebook 12);
- :mod:`~course_utils.diffusion.sampling`: the respaced ancestral sampler with a guidance hook;
- :mod:`~course_utils.diffusion.harness`: many samples in batches from seeded noise, in [0, 1], timed;
- :mod:`~course_utils.diffusion.clip`: a small CLIP, its captions and tokenizer (notebook 13);
- :mod:`~course_utils.diffusion.video`: moving-digit clips and the space-time UNet (notebook 14).

The algorithms of the slides (training, sampling, DDIM) are written in the notebooks.
"""

from course_utils.diffusion.schedule import NoiseSchedule, per_example
from course_utils.diffusion.toy import GaussianMixture, toy_mixture
from course_utils.diffusion.unet import EMA, MLPEpsModel, UNet, UNetConfig, timestep_embedding

__all__ = ["EMA", "GaussianMixture", "MLPEpsModel", "NoiseSchedule", "UNet", "UNetConfig", "per_example",
           "timestep_embedding", "toy_mixture"]
