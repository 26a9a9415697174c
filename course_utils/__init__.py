"""course_utils: the plumbing of the generative-models course.

Each submodule has one topic (profile, data, train, checkpoints, plotting, artifacts, ...).
Nothing here touches the network or prints at import time.
"""

__version__ = "0.1.0"
