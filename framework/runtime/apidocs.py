"""The interactive API page: Swagger UI at ``/<prefix>/docs`` over the app's OpenAPI document.

Where it is on: wherever the host says it runs locally (``AZURE_FUNCTIONS_ENVIRONMENT=Development``,
which ``funnx start`` and ``func start`` set), unless ``FUNNX_DOCS_ENABLED=false``; anywhere else
(Azure) only with ``FUNNX_DOCS_ENABLED=true``. When off, it answers 404 with an empty body, exactly
like a route the app does not have. Read per request, so changing the setting needs no redeploy.

The page is anonymous and static: it holds no model information. Its script fetches
``openapi.json`` (behind a function key like the models it describes), passing on the key given as
``?code=`` in the page's address, and shows a key form when the document answers 401; Swagger UI's
Authorize button takes a key for the requests it sends.

Swagger UI's files come from the ``swagger-ui-bundle-v2`` package (a Python package of the
swagger-ui-dist files), never from a CDN: the page works offline. funnx installs it for
``funnx start``; the deployed runtime does not depend on it (an app that turns the page on in Azure
lists it in requirements.txt). It is imported only when the page is on and asked for.
"""

from __future__ import annotations

import gzip
import logging
import os
import threading
from dataclasses import dataclass
from html import escape

import azure.functions as func

from framework.errors import ConfigurationError

from . import settings
from .compression import choose_encoding
from .hostconfig import read_host_json, route_prefix
from .responses import answers_errors

log = logging.getLogger("funnx.runtime")

ENABLED_SETTING = "FUNNX_DOCS_ENABLED"
ASSET_DISTRIBUTION = "swagger-ui-bundle-v2"
ASSET_REQUIREMENT = f"{ASSET_DISTRIBUTION}==5.31.0"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
#: The files of the Swagger UI distribution the page uses, and their media types.
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
#: Swagger UI styles elements inline, so styles may be inline; scripts and requests are this app's own.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def enabled() -> bool:
    """Whether the page is served (see the module docstring)."""
    raw = settings.get(ENABLED_SETTING)
    if raw is None:
        return (os.environ.get("AZURE_FUNCTIONS_ENVIRONMENT") or "").lower() == "development"
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() not in _FALSE:
        log.warning("funnx: app setting %s=%r is not true or false; the API page stays off", ENABLED_SETTING, raw)
    return False


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes | None  # None where gzip would not make it smaller (the PNG)
    media_type: str


class _Bundle:
    """Swagger UI's files, read from the installed package once and kept with their gzip form."""

    def __init__(self) -> None:
        try:
            from swagger_ui_bundle import swagger_ui_path
        except ImportError:
            raise ConfigurationError(
                f"the API page needs the {ASSET_DISTRIBUTION} package: add '{ASSET_REQUIREMENT}' to "
                f"requirements.txt, or turn the page off ({ENABLED_SETTING}=false)"
            ) from None
        self.version = swagger_ui_path.name.removeprefix("swagger-ui-")
        self.assets: dict[str, _Asset] = {}
        for name, media_type in _ASSETS.items():
            body = (swagger_ui_path / name).read_bytes()
            packed = gzip.compress(body, compresslevel=9, mtime=0)  # ~60 ms for all, once per worker
            self.assets[name] = _Asset(body, packed if len(packed) < len(body) else None, media_type)


_bundle: _Bundle | None = None
_bundle_lock = threading.Lock()


def _load_bundle() -> _Bundle:
    global _bundle  # noqa: PLW0603 - read once per worker, on the first request for the page
    with _bundle_lock:
        if _bundle is None:
            _bundle = _Bundle()
        return _bundle


def _not_found() -> func.HttpResponse:
    return func.HttpResponse(status_code=404)  # the host's answer for a route that does not exist


@answers_errors
def endpoint(req: func.HttpRequest) -> func.HttpResponse:
    """``docs`` (the page), ``docs/<swagger-ui version>/<file>`` (its assets), ``docs/funnx-docs.js``."""
    if not enabled():
        return _not_found()
    path = (req.route_params.get("asset") or "").strip("/")
    if path == "":
        return _page(_load_bundle())
    if path == "funnx-docs.js":
        return _text(SCRIPT, "text/javascript")
    version, _, name = path.partition("/")
    bundle = _load_bundle()
    asset = bundle.assets.get(name) if version == bundle.version else None
    if asset is None:
        return _not_found()
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "Vary": "Accept-Encoding"}
    body = asset.body
    if asset.gzipped is not None and choose_encoding(req.headers.get("accept-encoding")) == "gzip":
        body, headers["Content-Encoding"] = asset.gzipped, "gzip"
    return func.HttpResponse(body, headers={**headers, "X-Content-Type-Options": "nosniff"}, mimetype=asset.media_type)


def _text(text: str, media_type: str) -> func.HttpResponse:
    headers = {**_SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return func.HttpResponse(text.encode("utf-8"), headers=headers, mimetype=media_type)


def _page(bundle: _Bundle) -> func.HttpResponse:
    prefix = route_prefix(read_host_json(settings.app_root()))
    base = f"/{prefix}/" if prefix else "/"
    assets = f"{base}docs/{bundle.version}"
    paths = {"assets": assets, "script": f"{base}docs/funnx-docs.js", "spec": f"{base}openapi.json"}
    html = PAGE.format(**{name: escape(value, quote=True) for name, value in paths.items()})
    return _text(html, "text/html")


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>funnx models</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<style>
  .funnx-bar {{ font-family: sans-serif; max-width: 1460px; margin: 0 auto; padding: 12px 20px; }}
  .funnx-bar input {{ width: 24em; padding: 4px; }}
  .funnx-bar .message {{ color: #a00; }}
</style>
</head>
<body data-spec="{spec}">
<div class="funnx-bar">
  <p class="message" id="funnx-message" hidden></p>
  <form id="funnx-key" method="get" hidden>
    <label>Function key: <input name="code" type="password" autocomplete="off" required></label>
    <button type="submit">Open</button>
  </form>
</div>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{script}"></script>
</body>
</html>
"""

#: Fetches the document (with the page's ?code= key as x-functions-key), then starts Swagger UI on it.
SCRIPT = """"use strict";
(function () {
  var HIGHLIGHT_BELOW_BYTES = 131072;
  var spec = document.body.dataset.spec;
  var key = new URLSearchParams(window.location.search).get("code");
  var message = document.getElementById("funnx-message");
  function say(text) {
    message.textContent = text;
    message.hidden = false;
  }
  fetch(spec, { headers: key ? { "x-functions-key": key } : {} })
    .then(function (response) {
      if (response.status === 401 || response.status === 403) {
        say((key ? "That key was refused. " : "This app's functions need a key. ") +
            "Give a host key (funnx keys; in Azure: App keys): it opens the document and every model.");
        document.getElementById("funnx-key").hidden = false;
        return null;
      }
      if (!response.ok) {
        return response.text().then(function (text) {
          say("GET " + spec + " answered " + response.status + ": " + text);
          return null;
        });
      }
      return response.text();
    })
    .then(function (text) {
      if (text === null) return;
      var ui = SwaggerUIBundle({
        spec: JSON.parse(text),
        dom_id: "#swagger-ui",
        deepLinking: true,
        displayRequestDuration: true,
        validatorUrl: null,
        // Highlighting costs ~0.2 ms per example value: an image model's example would take a minute.
        syntaxHighlight: { activated: text.length < HIGHLIGHT_BELOW_BYTES },
        onComplete: function () {
          if (key) ui.preauthorizeApiKey("functionKeyHeader", key);
        },
      });
    })
    .catch(function (error) {
      say("Could not load " + spec + ": " + error);
    });
})();
"""
