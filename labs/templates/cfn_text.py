"""CloudFormation template values read as text and as references. CDK-free, pure.

``render(value)``
    One renderer for the intrinsic functions: ``Ref X`` -> ``<X>``, ``Fn::GetAtt X.Arn`` ->
    ``<X.Arn>``, ``Fn::Join`` joined, ``Fn::Sub`` its template text, ``Fn::Select`` as
    ``list[index]``, ``Fn::GetAZs`` as ``<AZs>``, lists joined with ``", "``. Anything else is
    given to ``unknown`` (JSON by default; ``nothing`` when only written-out text should count).
    ``labs inspect`` shows values with it; ``labs diagram`` matches ARNs written out in it.

``references(value)``
    Every logical id or parameter a value names through ``Ref``, ``Fn::GetAtt`` or a
    ``${X}`` / ``${X.Attr}`` variable of ``Fn::Sub``, with the property keys leading to it.

``strings(value)``
    Every literal string that is a whole property value, with the property keys leading to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

INTRINSICS = {"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::If", "Fn::Split",
              "Fn::Base64", "Fn::FindInMap", "Fn::ImportValue", "Fn::GetAZs", "Fn::Cidr", "Fn::Equals",
              "Fn::Not", "Fn::And", "Fn::Or", "Fn::ToJsonString", "Fn::Length"}
# ${Name} or ${Name.Attribute} in an Fn::Sub template; ${!Literal} is no variable.
SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def as_list(value: Any) -> list:
    """``value`` itself when it is a list, else a list of it."""
    return value if isinstance(value, list) else [value]


def as_json(value: Any) -> str:
    """A value no intrinsic renders, as compact JSON with sorted keys."""
    return json.dumps(value, sort_keys=True)


def nothing(value: Any) -> str:
    """An ``unknown`` for ``render`` that drops what it cannot render."""
    return ""


def render(value: Any, unknown: Callable[[Any], str] = as_json) -> str:
    """A CloudFormation value as readable text (see the module docstring)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{'.'.join(argument) if isinstance(argument, list) else argument}>"
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            return str(argument[0]).join(render(part, unknown) for part in as_list(argument[1]))
        if function == "Fn::Sub":
            return render(argument[0] if isinstance(argument, list) else argument, unknown)
        if function == "Fn::Select" and isinstance(argument, list) and len(argument) == 2:
            return f"{render(argument[1], unknown)}[{argument[0]}]"
        if function == "Fn::GetAZs":
            return "<AZs>"
    if isinstance(value, list):
        return ", ".join(render(inner, unknown) for inner in value)
    return unknown(value)


def references(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every logical id (or parameter) ``value`` names, with the property keys leading to it.

    Pseudo parameters (``AWS::Region``) and parameters are yielded too: callers keep the
    names that are resources.
    """
    if isinstance(value, dict):
        if len(value) == 1:
            (function, argument), = value.items()
            if function == "Ref" and isinstance(argument, str):
                yield argument, path
                return
            if function == "Fn::GetAtt":
                target = argument[0] if isinstance(argument, list) else str(argument).split(".", 1)[0]
                if isinstance(target, str):
                    yield target, path
                return
            if function == "Fn::Sub":
                text, variables = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
                variables = variables if isinstance(variables, dict) else {}
                if isinstance(text, str):
                    for match in SUB_VARIABLE.finditer(text):
                        name = match.group(1).split(".", 1)[0]
                        if name not in variables:
                            yield name, path
                for inner in variables.values():
                    yield from references(inner, path)
                return
        for key, inner in value.items():
            yield from references(inner, path if key in INTRINSICS else (*path, key))
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner, path)


def strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every literal string in ``value`` that is a whole property value, with its keys (no Tags)."""
    if isinstance(value, str):
        if path:
            yield value, path
    elif isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in INTRINSICS:
            return
        for key, inner in value.items():
            if key != "Tags":
                yield from strings(inner, (*path, key))
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner, path)
