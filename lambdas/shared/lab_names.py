"""Names every part of the labs agrees on: Lambda handlers (this file is staged beside them),
constructs, lab contracts and the command line. No imports, so any of them can load it."""

STACK_PREFIX = "mlref-"
JANITOR_STACK_NAME = "mlref-janitor"
# StackSets name each member stack StackSet-<stack set name>-<id>; a classroom's StackSets are
# mlref-<lab> and mlref-janitor-<lab>.
STACKSET_STACK_PREFIX = "StackSet-"
CLASSROOM_COPY_PREFIX = STACKSET_STACK_PREFIX + STACK_PREFIX
# IAM resource patterns (after "arn:<partition>:cloudformation:<region>:<account>:") of every stack
# ``lab_of_stack`` may name a lab for: a learner's own, and a classroom's copies.
LAB_STACK_RESOURCES = (f"stack/{STACK_PREFIX}*/*", f"stack/{CLASSROOM_COPY_PREFIX}*/*")

LAB_TAG = "lab"
PROFILE_TAG = "profile"
OWNER_TAG = "owner"
EXPIRES_TAG = "expires-at"
SWEPT_PROFILE = "sandbox"  # the only profile whose leftovers are ever deleted

# Log groups that services create at run time, outside any stack.
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"
ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"  # + the endpoint's name
# Endpoints a lab's jobs make untagged, by lab: SageMaker Clarify's shadow endpoint, named from the analysis
# config's endpoint_name_prefix. The sweep deletes one only when every model it hosts is tagged for the lab.
SHADOW_ENDPOINT_PREFIXES = {"model-development": "mlref-md-clarify"}


def expiry_retry_schedule(stack_name: str) -> str:
    """The one-time EventBridge Scheduler schedule (group ``default``) by which a lab's expiry tries
    again when it could not delete the stack (``lambdas/lab_expiry``); it deletes itself once run."""
    return f"{stack_name}-expiry-retry"


def deployed_name(endpoint_name: str, version: int) -> str:
    """The model and endpoint config that serve version ``version`` of a model package on
    ``endpoint_name`` (the ml-pipeline approval function makes them; its practice waits for them)."""
    return f"{endpoint_name}-v{version}"


def deployed_version(endpoint_name: str, name: str) -> int | None:
    """N when ``name`` is ``deployed_name(endpoint_name, N)``, else None."""
    prefix = deployed_name(endpoint_name, 0)[:-1]
    suffix = name[len(prefix):]
    return int(suffix) if name.startswith(prefix) and suffix.isdigit() else None


# -- the lab's stacks ----------------------------------------------------------------------------
# A lab's stacks in an account and region: its own ``mlref-<lab>`` (``labs deploy``) and any copy a
# classroom put there (``StackSet-mlref-<lab>-<UUID>``, the same template, tags and resource names).
# Tags cannot tell them apart, so nothing tagged for a lab is deleted while any of them exists.


def lab_stack_name(lab: str) -> str:
    """The stack ``labs deploy`` makes for ``lab``."""
    return STACK_PREFIX + lab


def _is_uuid(text: str) -> bool:
    parts = text.split("-")
    return [len(part) for part in parts] == [8, 4, 4, 4, 12] and all(c in "0123456789abcdef" for c in "".join(parts))


def classroom_copy_set(stack_name: str) -> str | None:
    """The StackSet whose member ``stack_name`` is (``StackSet-<set>-<UUID>``), None for any other stack."""
    body = stack_name[len(STACKSET_STACK_PREFIX):]
    if not stack_name.startswith(STACKSET_STACK_PREFIX) or len(body) < 38 or body[-37] != "-":
        return None
    return body[:-37] if _is_uuid(body[-36:]) else None


def lab_of_stack(stack_name: str) -> str | None:
    """The lab whose stack ``stack_name`` is: ``mlref-<lab>``, or a classroom's copy
    ``StackSet-mlref-<lab>-<UUID>``. None for the janitor (``mlref-janitor``, and its classroom
    copies from the StackSet ``mlref-janitor-<lab>``) and for every stack that is not a lab's."""
    name = classroom_copy_set(stack_name) or stack_name
    if not name.startswith(STACK_PREFIX) or name == JANITOR_STACK_NAME:
        return None
    if name != stack_name and name.startswith(JANITOR_STACK_NAME + "-"):
        return None
    return name[len(STACK_PREFIX):] or None


def is_classroom_copy(stack_name: str) -> bool:
    """Whether ``stack_name`` is a classroom's copy of a lab (a StackSet member)."""
    return classroom_copy_set(stack_name) is not None and lab_of_stack(stack_name) is not None
