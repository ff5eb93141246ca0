"""Each lab's one home: its contract, CDK-free.

A contract (``catalog/<lab>.py``) holds the lab's name, stack name, what it shows, its
exam domains, its options and their parser, its stack outputs, its cost, its practice flags
and its preflight checks. ``app.py``, the stacks, the ``labs`` command and the practice steps
all read it from here. Adding a lab adds one line to ``_MODULES``.
"""

from __future__ import annotations

import importlib

from catalog.base import ConfigError, LabContract, UnknownLab
from lambdas.shared.lab_names import JANITOR_STACK_NAME

_MODULES = (
    "data_lake",
    "clickstream",
    "fsx_training",
    "feature_store",
    "endpoint",
    "ml_pipeline",
    "batch_etl",
    "inference",
    "model_development",
    "mlops",
)

LABS: dict[str, LabContract] = {
    contract.name: contract
    for contract in (importlib.import_module(f"catalog.{module}").CONTRACT for module in _MODULES)
}

# The width of a column of lab names (the janitor's row included) in the command's tables.
NAME_WIDTH = max(len(name) for name in (*LABS, "janitor"))

__all__ = ["JANITOR_STACK_NAME", "LABS", "NAME_WIDTH", "ConfigError", "LabContract", "UnknownLab", "contract"]


def contract(name: str) -> LabContract:
    """The lab called ``name``; an UnknownLab naming the choices otherwise (its message is one line)."""
    if name in LABS:
        return LABS[name]
    if name in {"janitor", JANITOR_STACK_NAME}:
        raise UnknownLab(f"{name} is not a lab but the account janitor that sweeps them: deploy it once per account "
                       f"and region with `labs janitor deploy`")
    raise UnknownLab(f"unknown lab {name!r}; choose from: {', '.join(LABS)}")
