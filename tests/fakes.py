"""Test stand-ins: a clock for code that takes ``clock`` and ``sleep`` callables (only ``sleep`` moves it),
and boto3 clients checked by botocore's Stubber."""

from __future__ import annotations

from contextlib import contextmanager


class FakeClock:
    """Call it for the time. ``slept`` lists every sleep; ``on_sleep(n)`` runs after the n-th."""

    def __init__(self, start: float = 0.0, on_sleep=lambda n: None) -> None:
        self.now, self.slept, self.on_sleep = start, [], on_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        self.on_sleep(len(self.slept))


class StubbedSession:
    """A boto3 session stand-in whose clients are botocore-Stubber-checked: ``with session as stubs`` activates
    every stub (queue responses on ``stubs[service]``) and deactivates them on the way out."""

    region_name = "us-east-1"

    def __init__(self, services) -> None:
        import boto3
        from botocore.stub import Stubber

        session = boto3.Session(region_name=self.region_name)
        self.clients = {name: session.client(name) for name in services}
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}

    def client(self, name: str, config=None):
        return self.clients[name]

    def __enter__(self):
        for stub in self.stubs.values():
            stub.activate()
        return self.stubs

    def __exit__(self, *exc) -> None:
        for stub in self.stubs.values():
            stub.deactivate()


@contextmanager
def stubbed_clients(services):
    """``(clients, stubs)`` for ``services``, the stubs active; on the way out every queued response must
    have been asked for."""
    session = StubbedSession(services)
    with session as stubs:
        yield session.clients, stubs
        for stub in stubs.values():
            stub.assert_no_pending_responses()
