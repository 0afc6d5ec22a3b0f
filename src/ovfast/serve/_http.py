"""The HTTP protocol `ovfast serve` runs uvicorn with: uvicorn's httptools protocol over a transport that
sends what one step of the event loop writes to a connection in one write(). uvicorn writes a response's
status line and headers on http.response.start and its body on http.response.body, each straight to the
socket: two send() calls and two TCP segments for every small answer, and the kernel's path for each is
a large part of what a small model's request costs the event loop."""

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:   # no httptools: uvicorn's own choice (h11) as it is
    HttpToolsProtocol = None


class JoinedWrites:
    """A transport whose writes wait for the end of the current step of the loop (call_soon), then go out
    joined, in order. close() and write_eof() send what waits first; abort() drops it, as the transport's
    own buffer is dropped. Everything else is the transport's."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport, loop):
        self._transport = transport
        self._loop = loop
        self._pending = None

    def write(self, data):
        if not data:
            return
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self._flush)
        else:
            self._pending.append(data)

    def writelines(self, chunks):
        for data in chunks:
            self.write(data)

    def _flush(self):
        pending, self._pending = self._pending, None
        if pending is not None and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def is_closing(self):
        return self._transport.is_closing()

    def get_write_buffer_size(self):
        waiting = sum(len(d) for d in self._pending) if self._pending is not None else 0
        return self._transport.get_write_buffer_size() + waiting

    def write_eof(self):
        self._flush()
        self._transport.write_eof()

    def close(self):
        self._flush()
        self._transport.close()

    def abort(self):
        self._pending = None
        self._transport.abort()

    def __getattr__(self, name):
        return getattr(self._transport, name)


if HttpToolsProtocol is not None:
    class Protocol(HttpToolsProtocol):
        """uvicorn's httptools protocol on a JoinedWrites transport (Config(http=Protocol))."""

        def connection_made(self, transport):
            super().connection_made(JoinedWrites(transport, self.loop))
else:
    Protocol = "auto"
