"""course_utils: the plumbing of the generative-models course.

Each submodule has one topic (profile, data, train, checkpoints, plotting, artifacts, ...).
Nothing here touches the network or prints at import time.
"""

__version__ = "0.1.0"

import os as _os

# On Apple GPUs (COURSE_DEVICE=mps), operations the MPS backend lacks run on the CPU instead of
# failing. torch reads this when it is imported, so it is set here, before a notebook's models.
_os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
