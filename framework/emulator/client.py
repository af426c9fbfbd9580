"""An in-process client for a Functions app: the dispatch core of the server, without sockets.

What ``chalice.test.Client`` is for Chalice: tests call routes by URL and get what the server
would send. Requests from several threads at once are fine (they share one event loop thread).

    with TestClient("path/to/app") as client:
        reply = client.post("/api/iris", json={"data": [[5.1, 3.5]]})
        assert reply.status_code == 200, reply.json()
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from .dispatch import RawRequest
from .host import EmulatorHost


class ClientResponse:
    def __init__(self, status_code: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_code = status_code
        self.headers = {name.lower(): value for name, value in headers}  # a repeated header: its last value
        self.header_list = headers  # every header line as sent, in order (e.g. several set-cookie)
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def __repr__(self) -> str:
        return f"<ClientResponse {self.status_code} {self.body[:80]!r}>"


class TestClient:
    __test__ = False  # a helper, not a pytest test class

    def __init__(
        self,
        app_dir: str | Path | None = None,
        *,
        settings: Mapping[str, str] | None = None,
        functions: Sequence[str] | None = None,
        host: EmulatorHost | None = None,
    ) -> None:
        """Load the app in ``app_dir``, or reuse a loaded ``host`` (e.g. one a server is serving)."""
        if host is None:
            if app_dir is None:
                raise TypeError("TestClient needs an app folder or a host")
            host = EmulatorHost(Path(app_dir), settings=settings, functions=functions)
            self._owns_host = True
        else:
            self._owns_host = False
        self.host = host
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="funnx-testclient", daemon=True)
        self._thread.start()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> ClientResponse:
        """``headers`` is a mapping or a list of (name, value) pairs, which may repeat a name."""
        header_list = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        if json is not None:
            body = jsonlib.dumps(json).encode("utf-8")
            if not any(k.lower() == "content-type" for k, _ in header_list):
                header_list.append(("content-type", "application/json"))
        else:
            body = data.encode("utf-8") if isinstance(data, str) else (data or b"")
        parts = urlsplit(path)
        query = "&".join(q for q in (quote(parts.query, safe="=&%+/?:@!$'()*,;"), urlencode(params or {})) if q)
        raw = RawRequest(
            method=method.upper(),
            path=quote(parts.path, safe="/%:@!$&'()*+,;="),  # encoded, as an HTTP client sends it
            query_string=query.encode("latin-1"),
            headers=header_list,
            body=body,
        )
        future = asyncio.run_coroutine_threadsafe(self.host.dispatcher.handle(raw), self._loop)
        response = future.result()
        return ClientResponse(response.status, response.headers, response.body)

    def get(self, path: str, **kwargs: Any) -> ClientResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ClientResponse:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        if self._owns_host:
            self.host.close()

    def __enter__(self) -> TestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
