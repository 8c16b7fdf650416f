"""The test harness itself: real nats-server processes, probed with plain sockets only."""

from __future__ import annotations

import os
import socket

import pytest

from harness import HarnessError, NatsCluster, NatsServer, free_ports, read_info


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_single_server_sends_info_with_jetstream(nats_server: NatsServer) -> None:
    assert nats_server.url == f"nats://127.0.0.1:{nats_server.port}"
    with socket.create_connection(("127.0.0.1", nats_server.port), timeout=5) as sock:
        sock.settimeout(5)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            assert chunk, "server closed the connection before INFO"
            data += chunk
    assert data.startswith(b"INFO {")
    info = read_info(nats_server.port)
    assert info["jetstream"] is True
    assert info["port"] == nats_server.port
    assert nats_server.store_dir.is_dir()
    assert nats_server.config_path.read_text().startswith("listen: 127.0.0.1:")


def test_nats_url_fixture(nats_url: str, nats_server: NatsServer) -> None:
    assert nats_url == nats_server.url


def test_stop_reaps_process_and_is_idempotent(server_factory) -> None:
    srv = server_factory()
    pid = srv.pid
    assert pid is not None and _pid_exists(pid)
    srv.stop()
    assert not srv.running
    assert not _pid_exists(pid), "stop() must wait on the process (no zombie left)"
    srv.stop()  # idempotent
    srv.kill()  # also a no-op once stopped


def test_kill_then_restart_same_port_and_store(server_factory) -> None:
    srv = server_factory()
    port, store, pid = srv.port, srv.store_dir, srv.pid
    srv.kill()
    assert srv.returncode is not None and srv.returncode < 0
    assert not _pid_exists(pid)
    srv.restart()
    assert srv.running and srv.pid != pid
    assert (srv.port, srv.store_dir) == (port, store)
    assert read_info(port)["jetstream"] is True


def test_factory_extra_config_and_no_jetstream(server_factory) -> None:
    srv = server_factory("max_payload: 2MB", jetstream=False)
    info = read_info(srv.port)
    assert not info.get("jetstream", False)
    assert info["max_payload"] == 2 * 1024 * 1024


def test_startup_failure_reports_log_tail() -> None:
    srv = NatsServer("this is { not a valid config")
    try:
        with pytest.raises(HarnessError, match="exited") as excinfo:
            srv.start()
        assert "last 40 log lines" in str(excinfo.value)
        assert not srv.running
    finally:
        srv.close()


def test_free_ports_are_distinct() -> None:
    ports = free_ports(20)
    assert len(set(ports)) == 20


def test_cluster_three_nodes_answer_info(nats_cluster: NatsCluster) -> None:
    assert len(nats_cluster.servers) == 3
    assert len(nats_cluster.urls) == 3
    names = set()
    for srv in nats_cluster.servers:
        assert srv.running
        info = read_info(srv.port)
        assert info["jetstream"] is True
        assert info.get("cluster") == "C"
        names.add(info["server_name"])
    assert names == {"n1", "n2", "n3"}
    assert nats_cluster.meta_leader() in names
