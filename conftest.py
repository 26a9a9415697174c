"""nbval settings for the notebooks: wait up to 60 s (nbval's fixed default is 5 s) for a cell's
output messages after its reply. (At the repository root, so that pytest loads it for notebooks/*.ipynb.)

On a machine whose cores are busy (two notebooks at a time on two cores, plus anything else)
the last messages of a long training cell can arrive later than 5 s, and nbval then fails the
cell although it ran. The wait only matters when messages are late: it costs nothing otherwise.
"""

import nbval.plugin

OUTPUT_TIMEOUT_S = 60
_init = nbval.plugin.IPyNbCell.__init__


def _init_with_patient_output(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.output_timeout = OUTPUT_TIMEOUT_S


nbval.plugin.IPyNbCell.__init__ = _init_with_patient_output
