"""SageMaker facts more than one lab needs, CDK-free: the one home of each (the image accounts per
region live beside it in ``catalog/sagemaker_images.py``; the service's log groups in
``lambdas/shared/lab_names.py``, which the Lambda handlers share)."""

from __future__ import annotations

import re

# An instance type as SageMaker names it (ml.<family>.<size>), matched whole with fullmatch:
# ml.m5.large, ml.g5.12xlarge, ml.p4d.24xlarge, ml.c5.metal.
INSTANCE_TYPE = re.compile(r"ml\.[a-z0-9-]+\.([0-9]*x?large|metal)")
