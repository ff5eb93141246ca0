"""The calls a lab's permissions must allow (or refuse), as data: who makes each, the IAM action, the
resource, the request's condition keys, and the AWS documentation page it comes from.
``labs permissions LAB`` evaluates them against the synthesized template (labs/permissions/proof.py).

Who makes a call (``Call.who``):
- ``CALLER``: the person running the practice, an administrator of the sandbox account: only the
  template's resource, key and trust policies can refuse them;
- a lab role, by the shell pattern of its logical id (``AnalystRole*``), looked up in the lab's
  template and then in the janitor's (its sweep role);
- a service principal (``glue.amazonaws.com``): the service assuming a role
  (``sts:AssumeRole`` on the role, judged by the role's trust policy) or acting on a resource
  whose policy names it.

A resource is text in which ``${Pattern.Arn}`` (or ``${Pattern}``, what Ref returns) names one
resource of the template by the shell pattern of its logical id, ``${AWS::Region}`` and the other
pseudo parameters are the example account's, and ``<OutputKey>`` is a stack output; condition key
values (``context``) are written the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CALLER = "caller"
# The documentation pages most calls come from.
SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"
PASS_ROLE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html"
CONFUSED_DEPUTY = "https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"
S3_KMS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
LOGS_KMS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
SCHEDULER_ROLE = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role"
LAMBDA_ROLE = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html"
SAGEMAKER_ROLES = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"
GLUE_CRAWLER = "https://docs.aws.amazon.com/glue/latest/dg/crawler-prereqs.html"
GLUE_JOB_ROLE = "https://docs.aws.amazon.com/glue/latest/dg/create-an-iam-role.html"
ATHENA_OUTPUT = "https://repost.aws/knowledge-center/athena-output-bucket-error"
ATHENA_TABLES = "https://docs.aws.amazon.com/athena/latest/ug/access.html"
LAKE_FORMATION_ATHENA = "https://docs.aws.amazon.com/lake-formation/latest/dg/access-control-underlying-data.html"


@dataclass(frozen=True)
class Call:
    """One call: ``who`` does ``action`` on ``resource`` (see the module docstring).

    Attributes:
        source: the AWS documentation page that says the call is made (or, for a practice call, the
            dry run that prints it).
        context: condition keys the request carries (``aws:SourceAccount``, ``s3:prefix``, tags).
        refused: empty when the call must be allowed; otherwise why it must be refused.
        when: for a variant's own calls: takes the lab's options, says whether they apply.
        present: a logical-id pattern; the call applies only when the template has such a resource
            (the expiry, which the production profile leaves out).
        purpose: what the call is for, in a few words.
        group: the calls of one refused request share it: the request is refused when any of them is.
    """

    who: str
    action: str
    resource: str
    source: str
    context: Mapping[str, str] = field(default_factory=dict)
    refused: str = ""
    when: Callable[[Any], bool] | None = None
    present: str = ""
    purpose: str = ""
    group: str = ""

    def applies_to(self, options: Any) -> bool:
        return self.when is None or bool(self.when(options))


def assumed(role: str, service: str, source: str, *, present: str = "", when: Callable[[Any], bool] | None = None,
            source_arn: str = "") -> Call:
    """``service`` assuming ``role``, as the service does: with the account (and, where the service sets
    it, the ARN of what it acts for) as the confused-deputy condition keys."""
    context = {"aws:SourceAccount": "${AWS::AccountId}", **({"aws:SourceArn": source_arn} if source_arn else {})}
    return Call(service, "sts:AssumeRole", f"${{{role}.Arn}}", source, context, present=present, when=when,
                purpose=f"{service} assumes the role")


def acting_as(role: str, source: str, calls: Iterable[tuple], *, present: str = "",
              when: Callable[[Any], bool] | None = None, purpose: str = "") -> tuple[Call, ...]:
    """The calls a service makes with ``role``: each ``(action, resource)`` or ``(action, resource, context)``."""
    return tuple(Call(role, item[0], item[1], source, item[2] if len(item) > 2 else {}, present=present, when=when,
                      purpose=purpose) for item in calls)


def refused(who: str, action: str, resource: str, why: str, source: str = SAR, *,
            context: Mapping[str, str] | None = None, when: Callable[[Any], bool] | None = None,
            present: str = "") -> Call:
    """A call that the lab's policies must refuse, and why."""
    return Call(who, action, resource, source, context or {}, refused=why, when=when, present=present)


def arn(service: str, resource: str) -> str:
    """A regional ARN of the example account, written as a call's resource is (``${AWS::Region}`` ...)."""
    return f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"


def via(service: str) -> dict[str, str]:
    """The condition key a service sets when it calls KMS for a caller (``kms:ViaService``)."""
    return {"kms:ViaService": f"{service}.${{AWS::Region}}.amazonaws.com"}
