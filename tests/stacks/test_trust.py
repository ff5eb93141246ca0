"""Service roles trust their service for this account only (issue 24): every service principal the labs
let assume a role carries ``aws:SourceAccount``, and ``aws:SourceArn`` where the service sets it, except
the services AWS documents no such key for (a condition on a key never sent makes a role unassumable)."""

from __future__ import annotations

import pytest

from tests.conftest import resources_of

# Services whose role trust takes no confused-deputy key here, and why.
WITHOUT_SOURCE_KEYS = {
    "lambda.amazonaws.com": "Lambda documents no aws:SourceAccount for the execution role it assumes",
    "redshift.amazonaws.com": "Redshift documents no aws:SourceAccount for roles attached to a namespace",
    "redshift-serverless.amazonaws.com": "Redshift Serverless documents no aws:SourceAccount for its roles",
    "codepipeline.amazonaws.com": "CodePipeline's service-role trust policy (pipelines-create-service-role-cli) has "
                                  "no condition key",
    "cloudtrail.amazonaws.com": "CloudTrail's CloudWatch Logs role has no condition key in its guide; adding one "
                                "was reported to stop delivery (prowler-cloud/prowler#4714)",
}
# Services that set aws:SourceArn too, and the ARN their roles are held to (after the partition).
SOURCE_ARNS = {
    "vpc-flow-logs.amazonaws.com": ":ec2:",          # the flow log: vpc-flow-log/*
    "lakeformation.amazonaws.com": ":lakeformation:",  # lakeformation:<region>:<account>:*
    "codebuild.amazonaws.com": ":codebuild:",        # the build project: project/<name>
}


def service_statements(template: dict):
    for name, role in resources_of(template, "AWS::IAM::Role").items():
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            services = statement.get("Principal", {}).get("Service", [])
            for service in services if isinstance(services, list) else [services]:
                yield name, service, statement.get("Condition", {})


@pytest.mark.parametrize("profile", ["sandbox", "production"])
def test_every_service_role_is_held_to_this_account(synthesized, profile):
    missing = [(lab, role, service) for lab, template in synthesized[profile].templates.items()
               for role, service, condition in service_statements(template)
               if service not in WITHOUT_SOURCE_KEYS
               and condition.get("StringEquals", {}).get("aws:SourceAccount") != {"Ref": "AWS::AccountId"}]
    assert missing == []


def test_services_that_set_the_source_arn_are_held_to_it(sandbox):
    found = {service: condition for template in sandbox.templates.values()
             for _, service, condition in service_statements(template) if service in SOURCE_ARNS}
    assert set(found) == set(SOURCE_ARNS)
    for service, condition in found.items():
        parts = condition["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
        assert SOURCE_ARNS[service] in "".join(p for p in parts if isinstance(p, str)), service
