"""Keep the course offline: hub libraries in offline mode, and a guard that refuses remote sockets.

Only loopback (127.0.0.0/8, ::1, "localhost") and Unix sockets are allowed once the guard is on,
so a notebook or test that tries to reach the internet fails at once with a clear message.
"""
import ipaddress
import os
import socket
from contextlib import contextmanager

HUB_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}

_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex


class NetworkBlockedError(ConnectionRefusedError):
    """Raised when code tries to open a connection to anything but this machine."""


def set_hub_offline() -> None:
    """Tell Hugging Face libraries (diffusers, transformers, hub) never to download."""
    os.environ.update(HUB_OFFLINE_ENV)


def is_local_address(address) -> bool:
    """True for Unix sockets, loopback IPs and the name "localhost"; False for anything else."""
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: never resolved, never allowed
        return False


def _refuse_remote(address) -> None:
    if not is_local_address(address):
        raise NetworkBlockedError(
            f"network access to {address!r} is blocked: the course runs offline "
            "(only 127.0.0.1, ::1, localhost and Unix sockets are allowed)"
        )


def _guarded_connect(sock, address):
    _refuse_remote(address)
    return _original_connect(sock, address)


def _guarded_connect_ex(sock, address):
    _refuse_remote(address)
    return _original_connect_ex(sock, address)


def block_network() -> None:
    """Refuse every socket connection that does not stay on this machine."""
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex


def allow_network() -> None:
    """Lift the guard (used only by the explicit, opt-in download helpers)."""
    socket.socket.connect = _original_connect
    socket.socket.connect_ex = _original_connect_ex


def network_blocked() -> bool:
    """True while the guard is on."""
    return socket.socket.connect is _guarded_connect


@contextmanager
def network_allowed():
    """Temporarily lift the guard; it is restored afterwards if it was on."""
    was_blocked = network_blocked()
    allow_network()
    try:
        yield
    finally:
        if was_blocked:
            block_network()
