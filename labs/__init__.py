"""The labs command line: ``python -m labs`` (or ``labs`` once installed)."""

import os

# jsii (behind aws-cdk-lib) prints a Node end-of-life banner on every start; the labs
# pin their toolchain, so the banner is noise here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
