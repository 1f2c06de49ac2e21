"""Which addresses count as this machine: the service's one network rule, shared by ``serve`` and the app."""
from __future__ import annotations

import ipaddress

__all__ = ["is_loopback", "host_name"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(value: bytes | str) -> str:
    """The host of a ``Host`` header or an ``Origin`` URL, lower case, without scheme and port."""
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip().lower()
    text = text.split("://", 1)[-1]
    if text.startswith("["):  # [::1]:8765
        return text[1:text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text
