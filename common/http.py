"""A tiny HTTP/1.1 server for monitoring: Prometheus ``/metrics`` and ``/health``.

Enough HTTP for scrapers and load balancers (GET, one request per connection), and no
web framework to install on every node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("joblet.http")

Handler = Callable[[], Awaitable[tuple[int, str, bytes]]]


class HTTPEndpoint:
    """Serves GET on a few paths of one TCP address; anything else is 404 or 405."""

    def __init__(self, address: str, port: int, routes: dict[str, Handler]) -> None:
        self.address = address
        self.port = port
        self.routes = routes
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.address, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            method, target, *_ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            if method != "GET":
                status, kind, body = 405, "text/plain", b"only GET\n"
            elif (handler := self.routes.get(target.split("?", 1)[0])) is None:
                status, kind, body = 404, "text/plain", b"not found\n"
            else:
                status, kind, body = await handler()
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass
        except Exception:
            log.exception("HTTP endpoint %s:%s failed", self.address, self.port)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
