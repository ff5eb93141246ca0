"""The baseline for bench/synth.py: a CDK app with one empty-ish stack."""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Stack  # noqa: E402
from aws_cdk import aws_sns as sns  # noqa: E402

app = App(builtin_cloud_formation_validation=False)  # the same App settings as app.new_app()
stack = Stack(app, "EmptyBaseline")
sns.Topic(stack, "Topic")  # CloudFormation needs at least one resource
app.synth()
