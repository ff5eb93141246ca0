"""Stand-ins the tests share: a clock for code that takes ``clock`` and ``sleep`` callables (only ``sleep``
moves it), and a session whose clients are checked by botocore's Stubber."""

from __future__ import annotations


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
    """A boto3 session as a practice uses it, with one Stubber-checked client per name in ``services``;
    ``with session as stubs`` activates them (``stubs[service]``) and deactivates them after."""

    region_name = "us-east-1"
    services: tuple[str, ...] = ()

    def __init__(self) -> None:
        import boto3
        from botocore.stub import Stubber

        session = boto3.Session(region_name=self.region_name)
        self.clients = {name: session.client(name) for name in self.services}
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
