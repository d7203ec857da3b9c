"""Lazy package attributes: a PEP 562 module `__getattr__` that imports a name's module on first use.

A package lists its lazy public names with the module defining each, and the submodules it used to
import as a side effect; a process then pays only for what it uses (a summary-only run never
imports pandas). A name, once imported, is stored in the package's namespace, so it is looked up
once.
"""

from __future__ import annotations

import importlib


def lazy_getattr(package: str, lazy: dict[str, str], submodules: set[str], namespace: dict):
    """The `__getattr__` of `package`: `lazy` maps a name to its module (absolute, or relative to the
    package), `submodules` are imported as attributes, `namespace` is the package's globals()."""

    def __getattr__(name: str):
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")  # the import sets the attribute
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value  # looked up once
        return value

    return __getattr__
