"""The baselines for bench/synth.py: a CDK app with one empty-ish stack.

`--labs-settings` uses the same App settings as app.new_app() (built-in schema
validation off); without it, the app is a default App() as `cdk init` writes it.
"""

import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Stack
from aws_cdk import aws_sns as sns

app = App(builtin_cloud_formation_validation=False) if "--labs-settings" in sys.argv else App()
stack = Stack(app, "EmptyBaseline")
sns.Topic(stack, "Topic")  # CloudFormation needs at least one resource
app.synth()
