"""The one factory for IAM roles: permissions in a customer-managed policy, never inline."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from constructs import Construct


def service_of_this_account(service: str, *, source_arn: str | None = None) -> iam.ServicePrincipal:
    """``service`` acting for this account only, against the confused deputy: ``aws:SourceAccount``
    and, where the service sets it, ``aws:SourceArn`` (IAM User Guide, "The confused deputy problem").
    Use it only for services that set the keys: a condition on a key the service never sends makes
    the role unassumable."""
    conditions: dict = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
    if source_arn is not None:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    return iam.ServicePrincipal(service, conditions=conditions)


class LabRole(Construct):
    """An IAM role whose permissions live in one customer-managed policy.

    Inline policies (what ``Role.add_to_policy`` makes) are flagged by NIST 800-53
    (IAMNoInlinePolicy); a managed policy can be reviewed and versioned on its own.
    Statements are added with ``add_to_principal_policy``, so a LabRole can be passed
    wherever the helpers in ``cdk_constructs.core.access`` expect a grantee.

    Attributes:
        role: the IAM role.
        policy: its customer-managed policy.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        assumed_by: iam.IPrincipal,
        description: str,
        max_session_duration: Duration | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.role = iam.Role(
            self, "Role", assumed_by=assumed_by, description=description,
            max_session_duration=max_session_duration,
        )
        self.policy = iam.ManagedPolicy(self, "Policy", description=f"Permissions of: {description}"[:1000])
        self.policy.attach_to_role(self.role)

    @property
    def role_arn(self) -> str:
        return self.role.role_arn

    @property
    def role_name(self) -> str:
        return self.role.role_name

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> None:
        self.policy.add_statements(statement)
