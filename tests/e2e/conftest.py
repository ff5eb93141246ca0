"""The end-to-end test's local AWS, one per module (see local_aws.py)."""

from __future__ import annotations

import pytest

from tests.e2e.local_aws import LocalAws, local_aws


@pytest.fixture(scope="module")
def moto_aws(tmp_path_factory) -> LocalAws:
    with local_aws(tmp_path_factory.mktemp("local-aws")) as aws:
        yield aws
