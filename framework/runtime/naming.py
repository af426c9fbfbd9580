"""Every name derived from a model's name, and the naming rules, in one place.

The generator writes these names into code and settings, the runtime reads settings by them, the
emulator and the CLI look functions up by them: they only work while every producer and consumer
derives them the same way, so all of them call these functions. Dependency-free: the deployed
runtime, the generator and the emulator all import it.
"""

from __future__ import annotations

import re

#: Model (and function) names: a letter, then letters, digits, '-' or '_' (at most 63).
MODEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
#: Blob container names (Azure's rule).
CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
#: App setting names the runtime reads (also valid as environment variables).
SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: The functions funnx registers for the whole app (their names are taken).
BUILT_IN_FUNCTIONS = ("funnx_v2", "funnx_openapi", "funnx_docs", "funnx_warmup")


def setting_key(model: str) -> str:
    """The model's part of setting names: upper-cased, other characters as '_' (``my-model`` → ``MY_MODEL``)."""
    return re.sub(r"[^A-Za-z0-9]", "_", model).upper()


def model_setting(model: str, option: str) -> str:
    """``FUNNX_<MODEL>_<OPTION>``: the app setting overriding ``option`` for ``model``."""
    return f"FUNNX_{setting_key(model)}_{option.upper()}"


def sas_setting(model: str) -> str:
    """Where `funnx new` keeps the SAS token of an https model URL."""
    return f"{setting_key(model)}_SAS"


def module_name(model: str) -> str:
    """The generated module's name in functions_app/ (``my-model`` → ``my_model``)."""
    return model.lower().replace("-", "_")


def predict_function(model: str) -> str:
    return model


def metadata_function(model: str) -> str:
    return f"{model}_metadata"


def oip_function(model: str) -> str:
    return f"{model}_v2"


def function_names(model: str) -> tuple[str, str, str]:
    """The three functions a generated module defines: predict, metadata, Open Inference Protocol."""
    return predict_function(model), metadata_function(model), oip_function(model)


def oip_route(model: str) -> str:
    """The model's Open Inference Protocol routes under the route prefix (a catch-all)."""
    return f"v2/models/{model}/{{*rest}}"
