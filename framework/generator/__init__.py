"""Validate inputs, plan files, render templates, write all files or none.

The only part of funnx that imports jinja2. Entry points: :func:`plan_init` and :func:`plan_new`
build the files; :func:`write_files` writes them atomically.
"""

from framework.errors import GeneratorError

from .plans import plan_init, plan_new
from .validate import NewFunction, validate_new
from .writer import PlannedFile, write_files

__all__ = ["GeneratorError", "NewFunction", "PlannedFile", "plan_init", "plan_new", "validate_new", "write_files"]
