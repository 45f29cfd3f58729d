"""Running the app: bind, hold the store, publish where it answers, serve until stopped."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from ccl_embed.errors import CCLEmbedError, require
from ccl_embed.store.record import Holding
from ccl_embed.serve.service import Service

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond this machine without an API key.

    Raises:
        CCLEmbedError: For a non-loopback host and no key.
    """
    if not is_loopback(host) and not api_key:
        raise CCLEmbedError(f"--host {host} accepts connections from other machines: give an API key too "
                            "(--api-key or CCL_EMBED_API_KEY), which every API call must then carry")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or one line that says what to change.

    Raises:
        CCLEmbedError: When the address is in use or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        hint = "; choose another --port" if e.errno in (98, 48) else ""
        raise CCLEmbedError(f"cannot listen on {host}:{port} ({e.strerror}){hint}") from e
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def run(service: Service, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, api_key: str | None = None,
        cors_origins: tuple[str, ...] = (), allowed_hosts: tuple[str, ...] = (),
        on_ready: Callable[[str], Any] | None = None, holding: Holding | None = None,
        stop: threading.Event | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then interrupt a running ingest (what it stored is kept),
    close the store and remove the record.

    Args:
        service: The loaded model and store (closed when this returns).
        host: The address to listen on (loopback unless an API key is given).
        port: The port (0: any free one).
        api_key: The key every API call must carry.
        cors_origins: Browser origins allowed to call the API.
        allowed_hosts: Names the server answers to besides this machine's own and ``host``
            (``Host`` is checked on every request).
        on_ready: Called with the URL once the server answers.
        holding: The claim on an embedded store, taken before the model was loaded (published once
            the server answers, released at the end).
        stop: Setting this event stops the server, as SIGTERM does (for a server run in a thread).

    Raises:
        CCLEmbedError: On a bad host or key, or an address in use.
    """
    uvicorn = require("uvicorn", "serve")
    from ccl_embed.serve.app import create_app

    check_exposure(host, api_key)
    with ExitStack() as stack:
        stack.callback(service.close)
        if holding is not None:
            stack.callback(holding.release)
        sock = stack.enter_context(bind(host, port))
        url = url_of(sock)
        token = secrets.token_urlsafe(32)  # this run's ingest token: in the record, which only the user reads
        wildcard = host in ("0.0.0.0", "::")  # every address: the machine's own names too
        names = tuple(h for h in (host, *allowed_hosts) if h not in ("0.0.0.0", "::")) + (
            (socket.gethostname(), socket.getfqdn()) if wildcard else ())
        app = create_app(service, api_key=api_key, cors_origins=cors_origins, hosts=names,
                         port=sock.getsockname()[1], ingest_token=token)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                               timeout_graceful_shutdown=10))

        def announce() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.02)
            if server.started:
                if holding is not None:
                    holding.publish(url, auth=api_key is not None, token=token)
                if on_ready is not None:
                    on_ready(url)
            if stop is not None:
                while not stop.wait(0.05) and not server.should_exit:
                    pass
                server.should_exit = True

        threading.Thread(target=announce, name="ccl-embed-announce", daemon=True).start()
        server.run(sockets=[sock])
