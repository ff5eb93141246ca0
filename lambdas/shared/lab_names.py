"""Names every part of the labs agrees on: Lambda handlers (this file is staged beside them),
constructs, lab contracts and the command line. No imports, so any of them can load it."""

STACK_PREFIX = "mlref-"
JANITOR_STACK_NAME = "mlref-janitor"
# StackSets name each member stack StackSet-<stack set name>-<id>; a classroom's StackSets are
# mlref-<lab> and mlref-janitor-<lab>.
STACKSET_STACK_PREFIX = "StackSet-"

LAB_TAG = "lab"
PROFILE_TAG = "profile"
OWNER_TAG = "owner"
EXPIRES_TAG = "expires-at"
SWEPT_PROFILE = "sandbox"  # the only profile whose leftovers are ever deleted

# Log groups that services create at run time, outside any stack.
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"  # + the endpoint's name


def deployed_name(endpoint_name: str, version: int) -> str:
    """The model and endpoint config that serve version ``version`` of a model package on
    ``endpoint_name`` (the ml-pipeline approval function makes them; its practice waits for them)."""
    return f"{endpoint_name}-v{version}"


def deployed_version(endpoint_name: str, name: str) -> int | None:
    """N when ``name`` is ``deployed_name(endpoint_name, N)``, else None."""
    prefix = deployed_name(endpoint_name, 0)[:-1]
    suffix = name[len(prefix):]
    return int(suffix) if name.startswith(prefix) and suffix.isdigit() else None
