"""CORS as ``func start --cors`` / ``Host.CORS`` configure it: listed origins (or ``*``), any method
and header, credentials when asked. Preflight requests are answered before routing, like the host's
middleware; other responses get the allow headers when their Origin is allowed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CorsPolicy:
    origins: tuple[str, ...]
    credentials: bool = False

    @classmethod
    def parse(cls, origins: str | None, credentials: bool = False) -> CorsPolicy | None:
        """From a comma-separated origin list (as in local.settings.json ``Host.CORS``); None when empty."""
        listed = tuple(o.strip().rstrip("/") for o in (origins or "").split(",") if o.strip())
        return cls(listed, credentials) if listed else None

    def allowed_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for ``origin``, or None if it is not allowed."""
        if not origin:
            return None
        if "*" in self.origins:
            return origin if self.credentials else "*"
        return origin if origin.rstrip("/").lower() in {o.lower() for o in self.origins} else None

    def headers(self, origin: str | None) -> list[tuple[str, str]]:
        allowed = self.allowed_origin(origin)
        if allowed is None:
            return []
        headers = [("access-control-allow-origin", allowed), ("vary", "Origin")]
        if self.credentials:
            headers.append(("access-control-allow-credentials", "true"))
        return headers

    def preflight(self, method: str, headers: dict[str, str]) -> list[tuple[str, str]] | None:
        """Response headers for a preflight request (204), or None if this is not one."""
        requested = headers.get("access-control-request-method")
        if method != "OPTIONS" or not requested or "origin" not in headers:
            return None
        allowed = self.headers(headers["origin"])
        if not allowed:
            return []  # a preflight from an origin that is not allowed: 204 without allow headers
        allowed.append(("access-control-allow-methods", requested.upper()))
        if headers.get("access-control-request-headers"):
            allowed.append(("access-control-allow-headers", headers["access-control-request-headers"]))
        return allowed
