"""Every call a practice sends in its tests (moto, Stubber) must be a request its dry run prints: the
dry run is what `labs permissions` proves, so a new practice call cannot skip the proof."""

from __future__ import annotations

import functools
import traceback

import pytest

from catalog import LABS

PRACTICE_TESTS = {f"test_{name.replace('-', '_')}_practice.py": name for name in LABS}


@functools.cache
def dry_run_requests(lab: str) -> frozenset[tuple[str, str]]:
    """(service, operation) of every request ``labs practice LAB --dry-run`` prints."""
    from labs.permissions.calls import dry_run_lines
    from labs.practice.common.dry_run import printed_calls

    return frozenset((r.service, r.operation) for r in printed_calls(dry_run_lines(LABS[lab], "us-east-1")))


def unproven(lab: str, sent: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The calls among ``sent`` that the lab's dry run does not print, so its proof does not cover."""
    return sorted(sent - dry_run_requests(lab))


def _from_the_practice() -> bool:
    return any("/labs/practice/" in frame.filename or frame.filename.endswith("/labs/aws.py")
               for frame in traceback.extract_stack(limit=80))


@pytest.fixture(autouse=True)
def practice_calls_are_proven(request, monkeypatch):
    lab = PRACTICE_TESTS.get(request.path.name)
    if lab is None:
        yield
        return
    import botocore.client

    sent: set[tuple[str, str]] = set()
    send = botocore.client.BaseClient._make_api_call

    def recording(client, operation, params):
        if _from_the_practice():
            sent.add((client.meta.service_model.service_name, operation))
        return send(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    yield
    missing = unproven(lab, sent)
    assert not missing, (f"the {lab} practice sends {missing}, which its dry run does not print, so "
                         "`labs permissions` does not prove them: print them in its dry run")
