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
