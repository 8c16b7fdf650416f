"""Shared fixtures: real nats-server processes on loopback (see ``harness.py``).

All fixtures are synchronous (they only manage processes), so they work unchanged from async tests
under pytest-asyncio's auto mode.

- ``nats_server``     function scope: a started single JetStream server, closed afterwards.
- ``nats_url``        function scope: ``nats_server.url``.
- ``server_factory``  function scope: ``server_factory(config="", jetstream=True, **kw) -> NatsServer``
                      (started); every server it made is closed at teardown.
- ``module_server``   module scope: one started single JetStream server for a whole module.
- ``interop_server``  session scope: the one server of the interop peer matrix.
- ``nats_cluster``    module scope: a started 3-node JetStream cluster with a meta leader.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

import pytest

import objstore

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:  # `import harness` works whatever pytest's import mode
    sys.path.insert(0, _HERE)

from harness import NatsCluster, NatsServer  # noqa: E402

ServerFactory = Callable[..., NatsServer]


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    srv = NatsServer()
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def module_server() -> Iterator[NatsServer]:
    """One server for a whole test module (override ``nats_url`` with it where isolation per
    test is not needed)."""
    srv = NatsServer()
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
def server_factory() -> Iterator[ServerFactory]:
    created: list[NatsServer] = []

    def make(config: str = "", jetstream: bool = True, **kwargs: Any) -> NatsServer:
        srv = NatsServer(config, jetstream=jetstream, **kwargs)
        created.append(srv)
        return srv.start()

    try:
        yield make
    finally:
        for srv in created:
            srv.terminate()
        for srv in created:
            srv.close()


@pytest.fixture(scope="session")
def interop_server() -> Iterator[NatsServer]:
    """The one server the interop peer matrix (tests/test_interop_peers*.py) runs on."""
    srv = NatsServer()
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def nats_cluster() -> Iterator[NatsCluster]:
    cluster = NatsCluster(3)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


# Object-store fixtures shared by the objstore test files (files that define their own ``nc`` or
# ``js`` fixtures override these).
@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[objstore.Client]:
    conn = await objstore.connect(nats_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def js(nc: objstore.Client) -> objstore.JetStreamContext:
    return nc.jetstream()


@pytest.fixture
async def store(js: objstore.JetStreamContext) -> objstore.ObjectStore:
    return await js.create_object_store(bucket="b")
