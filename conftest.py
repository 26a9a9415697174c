"""nbval settings for the notebooks (at the repository root, so that pytest loads it for notebooks/*.ipynb).

1. Wait up to 60 s (nbval's fixed default is 5 s) for a cell's output messages after its reply.

On a machine whose cores are busy (two notebooks at a time on two cores, plus anything else)
the last messages of a long training cell can arrive later than 5 s, and nbval then fails the
cell although it ran. The wait only matters when messages are late: it costs nothing otherwise.
"""

import nbval.kernel
import nbval.plugin

OUTPUT_TIMEOUT_S = 60
_init = nbval.plugin.IPyNbCell.__init__


def _init_with_patient_output(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.output_timeout = OUTPUT_TIMEOUT_S


nbval.plugin.IPyNbCell.__init__ = _init_with_patient_output


# 2. The wait for a cell's reply polls in one-second slices up to the cell timeout (--nbval-cell-timeout),
# as tools/nbtools.py's patient client does: one long get_shell_msg sometimes never wakes on a loaded
# machine although the kernel has replied (jupyter/nbclient#312), and nbval then waited the whole timeout.
_get_message = nbval.kernel.RunningKernel.get_message


def _sliced_get_message(self, stream, timeout=None):
    if stream != "shell":
        return _get_message(self, stream, timeout=timeout)
    from queue import Empty
    from time import monotonic

    deadline = None if timeout is None else monotonic() + timeout
    while True:
        left = 1.0 if deadline is None else max(0.0, min(1.0, deadline - monotonic()))
        try:
            return _get_message(self, stream, timeout=left)
        except Empty:
            if deadline is not None and monotonic() >= deadline:
                raise


nbval.kernel.RunningKernel.get_message = _sliced_get_message
