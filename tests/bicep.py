"""Read a Bicep template the way a deployment would: parsed by pycep (checkov's Bicep parser), with
just enough evaluation to say what values the app would receive.

Expressions are evaluated against stand-ins for what Azure returns at deployment (``DEPLOYED``:
endpoints, ids, the identity's client id), parameter defaults (or overrides), and variables. pycep
keeps string literals as their source text and marks identifiers with ``BicepElement``, so literals
are decoded here (escapes, ``${...}`` interpolation) and identifiers resolved. Anything outside
that small subset raises, so a template change the tests cannot read fails loudly. The Azure facts
a funnx template is held to sit here too.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser
from pycep.models import BicepElement

#: What the deployment would return for the expressions the app settings and properties use.
DEPLOYED = {
    "storage.id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stchurn",
    "storage.properties.primaryEndpoints.blob": "https://stchurn.blob.core.windows.net/",
    "storage.properties.primaryEndpoints.queue": "https://stchurn.queue.core.windows.net/",
    "storage.properties.primaryEndpoints.table": "https://stchurn.table.core.windows.net/",
    "identity.id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
    "identity.properties.clientId": "00000000-0000-0000-0000-0000000000c1",
    "identity.properties.principalId": "00000000-0000-0000-0000-0000000000b1",
    "insights.id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/components/appi",
    "insights.properties.ConnectionString": "InstrumentationKey=k;IngestionEndpoint=https://in.example/",
    "plan.id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/serverfarms/plan",
    "logs.id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/log",
}

# Facts from Microsoft's docs and Flex Consumption samples (reference: azure-functions.md 6, 7, 9).
#: Azure built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
#: Resource types at the API versions Microsoft's Flex Consumption quickstart
#: (azure-quickstart-templates function-app-flex-managed-identities) deploys with.
API_VERSIONS = {
    "identity": "Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31",
    "storage": "Microsoft.Storage/storageAccounts@2023-05-01",
    "blobService": "Microsoft.Storage/storageAccounts/blobServices@2023-05-01",
    "deploymentContainer": "Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01",
    "modelsContainer": "Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01",
    "storageRoleAssignments": "Microsoft.Authorization/roleAssignments@2022-04-01",
    "logs": "Microsoft.OperationalInsights/workspaces@2023-09-01",
    "insights": "Microsoft.Insights/components@2020-02-02",
    "insightsRoleAssignment": "Microsoft.Authorization/roleAssignments@2022-04-01",
    "plan": "Microsoft.Web/serverfarms@2024-04-01",
    "app": "Microsoft.Web/sites@2024-04-01",
}
#: App settings Flex Consumption ignores or refuses (MS migration guide, `az functionapp flex-migration`).
NOT_ON_FLEX = {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_WORKER_RUNTIME_VERSION", "FUNCTIONS_EXTENSION_VERSION",
               "FUNCTIONS_WORKER_PROCESS_COUNT", "FUNCTIONS_MAX_HTTP_CONCURRENCY",
               "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED", "SCM_DO_BUILD_DURING_DEPLOYMENT", "ENABLE_ORYX_BUILD",
               "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT", "WEBSITE_TIME_ZONE", "TZ",
               "WEBSITE_NODE_DEFAULT_VERSION"}  # fmt: skip
#: Site properties Flex refuses ("site configuration properties ... for Flex Consumption sites is invalid").
SITE_CONFIG_NOT_ON_FLEX = {"ftpsState", "use32BitWorkerProcess", "preWarmedInstanceCount", "netFrameworkVersion",
                           "functionsRuntimeScaleMonitoringEnabled", "linuxFxVersion", "alwaysOn",
                           "functionAppScaleLimit", "javaVersion", "powerShellVersion", "windowsFxVersion"}  # fmt: skip

_STRING_PART = re.compile(
    r"\\u\{(?P<code>[0-9A-Fa-f]+)\}|\\(?P<escaped>.)|\$\{(?P<expr>[^}]*)\}|(?P<text>[^\\$]+|\$)", re.S
)
_ESCAPED = {"n": "\n", "r": "\r", "t": "\t"}


@cache
def _parser() -> BicepParser:
    return BicepParser()


def parse(text: str) -> dict[str, Any]:
    """The pycep tree of ``text``; raises when the text is not Bicep."""
    return dict(_parser().parse(text=text))


def decode_string(raw: str, interpolate: Any = None) -> str:
    """The value of a Bicep string literal from its source text (``raw``, without the quotes)."""
    out = []
    for part in _STRING_PART.finditer(raw):
        if part["code"]:
            out.append(chr(int(part["code"], 16)))
        elif part["escaped"] is not None:
            out.append(_ESCAPED.get(part["escaped"], part["escaped"]))
        elif part["expr"] is not None:
            if interpolate is None:
                raise ValueError(f"unexpected interpolation ${{{part['expr']}}} in {raw!r}")
            out.append(str(interpolate(part["expr"].strip())))
        else:
            out.append(part["text"])
    return "".join(out)


def path(node: Any) -> str:
    """``a.b.c`` for a property accessor node (pycep nests them to the right)."""
    if isinstance(node, str):
        return str(node)
    operator = node["operator"]
    if operator["type"] != "property_accessor":
        raise ValueError(f"not a property access: {node}")
    return f"{path(operator['operands']['operand_1'])}.{path(operator['operands']['operand_2'])}"


class Template:
    """A parsed ``main.bicep`` and its parameters, with the expressions the tests need evaluated."""

    def __init__(self, file: Path, **overrides: Any) -> None:
        self.tree = parse(file.read_text())
        self.parameters: dict[str, Any] = self.tree["parameters"]
        self.variables: dict[str, Any] = self.tree["variables"]
        self.resources: dict[str, Any] = self.tree["resources"]
        self.overrides = overrides

    def decorators(self, param: str) -> dict[str, Any]:
        return {d["type"]: d["argument"] for d in self.parameters[param]["decorators"]}

    def config(self, symbol: str) -> dict[str, Any]:
        """A resource's body (the per-item body for a loop)."""
        config: dict[str, Any] = self.resources[symbol]["config"]
        return config["config"] if "loop_type" in config else config

    def app_settings(self) -> dict[str, Any]:
        """The function app's settings, evaluated."""
        entries = self.config("app")["properties"]["siteConfig"]["appSettings"]
        names = [self.value(entry["name"]) for entry in entries]
        assert len(names) == len(set(names)), f"app settings set twice: {names}"
        return {name: self.value(entry["value"]) for name, entry in zip(names, entries, strict=True)}

    def string(self, raw: str) -> str:
        """A string literal's value from its source text (object keys come as such text, quotes included)."""
        return decode_string(raw.removeprefix("'").removesuffix("'"), lambda expr: self._reference(expr, {}))

    def value(self, node: Any, **loop: Any) -> Any:
        """The value ``node`` takes at deployment (``loop``: the loop variables in scope)."""
        if isinstance(node, BicepElement):  # an identifier (a literal is a plain str)
            return self._identifier(str(node), loop)
        if isinstance(node, str):
            return decode_string(node, lambda expr: self._reference(expr, loop))
        if isinstance(node, list):
            return [self.value(item, **loop) for item in node]
        if isinstance(node, dict):
            return self._expression(node, loop)
        return node  # None, bool, int

    def _expression(self, node: dict[str, Any], loop: dict[str, Any]) -> Any:
        if "operator" in node:
            return self._operation(node["operator"], loop)
        if "function" in node:
            return self._call(node["function"]["type"], list(node["function"]["parameters"].values()), loop)
        return {key: self.value(item, **loop) for key, item in node.items()}  # an object

    def _operation(self, operator: dict[str, Any], loop: dict[str, Any]) -> Any:
        if operator["type"] == "property_accessor":
            return self._reference(path({"operator": operator}), loop)
        if operator["type"] == "divide":
            left, right = (self.value(operand, **loop) for operand in operator["operands"].values())
            return left // right
        raise ValueError(f"operator outside what the tests evaluate: {operator}")

    def _call(self, function: str, args: list[Any], loop: dict[str, Any]) -> Any:
        values = [self.value(arg, **loop) for arg in args if arg is not None]
        if function == "max":
            return max(values)
        if function == "string":
            return str(values[0])
        if function == "subscription_resource_id":  # (resource type, name)
            return "/subscriptions/s/providers/{}/{}".format(*values)
        raise ValueError(f"function outside what the tests evaluate: {function}")

    def _identifier(self, name: str, loop: dict[str, Any]) -> Any:
        if name in loop:
            return loop[name]
        if name in self.overrides:
            return self.overrides[name]
        if name in self.parameters:
            return self.value(self.parameters[name]["default"])
        if name in self.variables:
            return self.value(self.variables[name]["value"])
        raise KeyError(f"{name} is neither a parameter nor a variable")

    def _reference(self, expression: str, loop: dict[str, Any]) -> Any:
        if expression in DEPLOYED:
            return DEPLOYED[expression]
        head, _, rest = expression.partition(".")
        value = self._identifier(head, loop)
        for key in rest.split(".") if rest else []:
            value = value[key]
        return value
