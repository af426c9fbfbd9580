"""Build hook: ship ./templates inside the installed package as framework/_templates.

Only for regular wheels. An editable install reads the templates from the checkout; copying them
into site-packages would create a ``framework`` folder there that hides the checkout's package.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class TemplatesHook(BuildHookInterface):  # type: ignore[misc]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "standard":
            build_data["force_include"]["templates"] = "framework/_templates"
