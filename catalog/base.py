"""What every lab contract is made of. No aws-cdk-lib here: the command line, the practice
steps and the app all import these modules, and the command line must start without the CDK.
"""

from __future__ import annotations

import difflib
import enum
import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from catalog.exam import Domain, ExamDomains, Exercise, domains_of
from catalog.prices import LabCost
from lambdas.shared.lab_names import lab_of_stack


class ConfigError(ValueError):
    """A context value that cannot be used; the message says how to fix it, in one line."""


class UnknownLab(LookupError):
    """A name that is not a lab's; the message names the choices, in one line."""


class Profile(str, enum.Enum):  # noqa: UP042 - StrEnum would change what str() and f-strings print
    """How durable a lab is.

    ``sandbox`` (the default) makes every resource destroyable and lets the lab
    expire; ``production`` retains stateful resources and turns on durable options.
    """

    SANDBOX = "sandbox"
    PRODUCTION = "production"


PROFILE_NAMES = tuple(profile.value for profile in Profile)


# -- stack outputs -------------------------------------------------------------------------

class Output(str):
    """One stack output: its key (the string itself), what it holds, and when the stack has it.

    The stack emits a ``CfnOutput`` named by the key; the practice reads ``outputs[OUTPUT]``.
    ``when`` takes the lab's options and says whether this variant has the output (default: always).
    """

    description: str
    when: Callable[[Any], bool] | None

    def __new__(cls, key: str, description: str, *, when: Callable[[Any], bool] | None = None) -> Output:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,254}", key):
            raise ValueError(f"{key!r} cannot be a CloudFormation output name")
        output = super().__new__(cls, key)
        output.description, output.when = description, when
        return output

    def applies_to(self, options: Any) -> bool:
        return self.when is None or bool(self.when(options))


# -- context -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContextKey:
    """A ``-c key=value`` the app accepts: its name, default and allowed values, for docs and checks."""

    name: str
    default: str
    allowed: str


def choice(context: Mapping[str, object], key: str, allowed: Iterable[str], default: str) -> str:
    """The value of ``key``, lower-cased, if it is one of ``allowed``; else a one-line ConfigError."""
    allowed = list(allowed)
    value = str(context.get(key) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not allowed; use one of: {', '.join(allowed)} (e.g. -c {key}={default})")
    return value


def listed(value: object) -> tuple[str, ...]:
    """A comma-separated string (or a JSON list) as a tuple of stripped, non-empty items."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def is_zone_of(zone: str, region: str) -> bool:
    """Whether ``zone`` is an Availability Zone name of ``region`` (``us-east-1a``), matched whole."""
    return re.fullmatch(rf"{re.escape(region)}[a-z]", zone) is not None


def nearest(name: str, known: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


# -- practice flags ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Flag:
    """A command-line flag of one lab's practice step (``--dry-run`` is every lab's).

    ``name`` is the keyword argument the practice class takes (``customers`` -> ``--customers``).
    ``kind`` is int, float, str or bool (a switch); ``negatable`` adds ``--no-<name>``.
    ``choices`` limits the values; ``positional`` makes it an optional word after the lab
    (``labs practice inference rollout``); ``spelled`` is the option when the keyword cannot be
    (``broken`` spelled ``--break``, a Python keyword).
    """

    name: str
    help: str
    kind: type = str
    default: Any = None
    metavar: str | None = None
    negatable: bool = False
    choices: tuple[str, ...] = ()
    positional: bool = False
    spelled: str = ""

    @property
    def option(self) -> str:
        return self.spelled or "--" + self.name.replace("_", "-")


# The one confirmation switch of the practices that start billable work (fsx-training, inference).
YES = Flag("yes", "start the jobs without asking (needed without a terminal)", bool, False)


# -- the contract ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    """A named way to deploy the lab other than its defaults: the ``-c`` values that make it.
    The gates run on every variant (as ``<profile>-<name>``), and the documentation prices each.

    Attributes:
        name: a short name (``efs``), unique across labs.
        context: the lab's ``-c`` values for it.
        note: what it is, in a few words (for the documentation).
    """

    name: str
    context: Mapping[str, str]
    note: str = ""

def _resolve(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class LabContract:
    """Everything the library knows about a lab before anything is synthesized.

    Attributes:
        name: the lab's name on the command line (``feature-store``).
        stack_name: its CloudFormation stack name.
        demonstrates: one line on what it shows.
        exams: its MLS-C01 domain (its MLA-C01 domains are its exercises', ``mla_domains``).
        options_type: the frozen dataclass of its options (every field has a default).
        context_keys: the ``-c`` keys it reads.
        parse: builds the options from a context mapping and the region; raises ConfigError.
        outputs: every stack output it may have (``Output.when`` says for which options).
        cost: the options' idle cost per hour and cost per practice run, from the price table.
        stack: ``module:Class`` of its CDK stack (imported only by the app).
        practice: ``module:Class`` of its practice step (imported only to run it).
        practice_flags: the practice step's own flags.
        preflight: ``module:function`` of the checks ``labs deploy`` runs against the account before
            deploying, called as ``function(session, options, out)``; it raises to stop.
        variants: named non-default ways to deploy it (gated and priced like the defaults).
        exercises: its practice steps in the order the practice runs them, each with the MLA-C01 task
            statements and the guide's bullets it exercises (catalog/exam.py).
        calls: what AWS does with the lab's roles and what must be refused (catalog/calls.py),
            each citing its documentation; ``labs permissions`` proves them with the practice's own.
        class_refusal: why given options, fine for the lab on its own, cannot be a classroom's (a
            StackSet copy in every student account); None when they can (catalog/classroom.py asks).
    """

    name: str
    stack_name: str
    demonstrates: str
    exams: ExamDomains
    options_type: type
    parse: Callable[[Mapping[str, object], str], Any]
    outputs: tuple[Output, ...]
    cost: Callable[[Any], LabCost]
    stack: str
    practice: str
    context_keys: tuple[ContextKey, ...] = ()
    practice_flags: tuple[Flag, ...] = ()
    preflight: str = ""
    variants: tuple[Variant, ...] = ()
    exercises: tuple[Exercise, ...] = ()
    calls: tuple[Any, ...] = ()
    class_refusal: Callable[[Any], str | None] = lambda _options: None

    def default_options(self) -> Any:
        return self.options_type()

    @property
    def mla_domains(self) -> tuple[Domain, ...]:
        """The MLA-C01 domains its practice steps exercise (from ``exercises``: one fact)."""
        return domains_of(self.exercises)

    @property
    def mla_short(self) -> str:
        """``D1, D4``"""
        return ", ".join(domain.short for domain in self.mla_domains)

    def owns_stack(self, stack_name: str) -> bool:
        """Whether ``stack_name`` is one of the lab's stacks in an account: its own ``stack_name``, or a
        classroom's copy ``StackSet-<stack_name>-<UUID>`` (``lambdas/shared/lab_names.lab_of_stack``, which
        the sweep's guard, the janitor's rule and IAM policy read too). While one exists, nothing tagged
        for the lab is swept there."""
        return lab_of_stack(stack_name) == self.name

    def outputs_for(self, options: Any) -> tuple[Output, ...]:
        """The outputs the stack built with ``options`` has."""
        return tuple(output for output in self.outputs if output.applies_to(options))

    def variant_options(self, variant: Variant, region: str = "us-east-1") -> Any:
        return self.parse(dict(variant.context), region)

    def stack_class(self) -> type:
        return _resolve(self.stack)

    def practice_class(self) -> type:
        return _resolve(self.practice)

    def preflight_function(self) -> Callable[[Any, Any, Callable[[str], None]], None] | None:
        return _resolve(self.preflight) if self.preflight else None
