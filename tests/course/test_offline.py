"""The offline guard: remote connections fail at once with a clear message; loopback still works."""
import socket

import pytest

from helpers.course.offline import NetworkBlockedError, is_local_address, network_allowed, network_blocked


@pytest.mark.parametrize("address", [("127.0.0.1", 80), ("127.5.6.7", 1), ("::1", 80, 0, 0), ("localhost", 8888), "/tmp/sock"])
def test_local_addresses_allowed(address):
    assert is_local_address(address)


@pytest.mark.parametrize("address", [("1.1.1.1", 443), ("10.0.0.1", 80), ("huggingface.co", 443), ("2001:db8::1", 80, 0, 0)])
def test_remote_addresses_refused(address):
    assert not is_local_address(address)


def test_guard_is_on_during_tests():
    assert network_blocked()


def test_remote_connect_raises_naming_the_address():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkBlockedError, match="203.0.113.9"):
            sock.connect(("203.0.113.9", 443))


def test_remote_connect_ex_raises_too():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkBlockedError):
            sock.connect_ex(("203.0.113.9", 443))


def test_loopback_connection_works():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5) as client:
            peer, _ = server.accept()
            client.sendall(b"ok")
            assert peer.recv(2) == b"ok"
            peer.close()


def test_network_allowed_restores_guard():
    with network_allowed():
        assert not network_blocked()
    assert network_blocked()
