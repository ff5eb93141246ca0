"""Stack outputs exactly as the lab's contract declares them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput
from constructs import Construct

from catalog.base import LabContract, Output


def emit_outputs(scope: Construct, contract: LabContract, options: Any,
                 values: Mapping[Output, str]) -> dict[str, CfnOutput]:
    """One ``CfnOutput`` per output the contract declares for ``options``, nothing else.

    Raises ValueError when ``values`` misses a declared output or has one the contract does not
    declare for these options: the practice reads outputs by the contract's keys.
    """
    declared = contract.outputs_for(options)
    missing = [str(o) for o in declared if o not in values]
    extra = [str(o) for o in values if o not in declared]
    if missing or extra:
        raise ValueError(f"{contract.name}: outputs do not match its contract (missing {missing}, "
                         f"not declared {extra})")
    return {str(output): CfnOutput(scope, str(output), value=values[output]) for output in declared}
