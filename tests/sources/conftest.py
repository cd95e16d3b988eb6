"""Tests here may connect to 127.0.0.1 only: any other connect fails the test loudly. The
push endpoint's `endpoint` fixture is tests/sources/inbound.py's."""

from __future__ import annotations

import socket

import pytest

from tests.sources.inbound import endpoint  # noqa: F401  (the push endpoint fixture)

LOOPBACK = ("127.0.0.1", "::ffff:127.0.0.1")


class ForeignConnect(AssertionError):
    pass


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    attempts: list[tuple] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: tuple) -> None:
        attempts.append(address)
        if not (isinstance(address, tuple) and address[0] in LOOPBACK):
            raise ForeignConnect(f"a test tried to connect to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts
