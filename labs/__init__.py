"""The labs command line: ``python -m labs`` (or ``labs`` once installed)."""

import os

from catalog.toolchain import QUIET_TOOLCHAIN

# A practice that loads the SageMaker SDK may load jsii too: the pinned toolchain, quiet.
for _name, _value in QUIET_TOOLCHAIN.items():
    os.environ.setdefault(_name, _value)
