"""The account-level janitor stack: one per account and region, shared by every lab.

Why the sweep lives here and not in the lab stacks: a lab's leftovers exist only
after its stack is gone (FSx, Redshift and VPC deletion takes many minutes), and
a function inside the stack being deleted is deleted with it. This stack owns
no data: a rule, a function, its log group, a dead-letter queue, and the KMS key
of that log group, the one thing that bills while idle ($1 per month).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from cdk_constructs.acknowledge import acknowledge, acknowledge_iam5
from cdk_constructs.janitor import LabJanitor
from cdk_constructs.profile import apply_profile
from cdk_constructs.settings import LabSettings
from lambdas.shared.lab_names import JANITOR_STACK_NAME, TRAINING_LOG_GROUP

STACK_NAME = JANITOR_STACK_NAME


class JanitorStack(Stack):
    """Sweeps each mlref lab after CloudFormation reports its stack deleted.

    Attributes:
        janitor: the LabJanitor (rule, sweep function, dead-letter queue, log-group key).
        settings: the settings it was built with.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, **kwargs) -> None:
        super().__init__(
            scope, id_,
            description="mlref-labs janitor: sweeps what deleted lab stacks leave behind (idle: one KMS key)",
            **kwargs,
        )
        self.settings = settings
        apply_profile(self, settings)
        self.janitor = LabJanitor(self, "Janitor", settings=settings)
        CfnOutput(self, "SweepFunctionName", value=self.janitor.function.function.function_name,
                  description="Invoke with a stack-status event to sweep a lab by hand")
        CfnOutput(self, "DeadLetterQueueUrl", value=self.janitor.dead_letter_queue.queue_url,
                  description="Stack events whose sweep could not run")
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        policy = self.janitor.function.role.policy
        acknowledge_iam5(policy, ["Resource::*"],
                         "List*/Describe* calls and tag:GetResources have no resource type; the sweep must "
                         "list every log group, bucket, job, group and interface to find those tagged for a lab")
        acknowledge_iam5(policy, ["Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*"],
                         "log groups created at run time by services have unknown names; tags are read on any "
                         "group and DeleteLogGroup is allowed only on groups tagged lab=* and profile=sandbox")
        training = f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{TRAINING_LOG_GROUP}"
        acknowledge_iam5(policy, [f"Resource::{training}:*", f"Resource::{training}:log-stream:*"],
                         "SageMaker writes every training job's streams into this one service-named group; the "
                         "sweep deletes only the streams of jobs tagged for the lab")
        acknowledge_iam5(policy, ["Resource::arn:<AWS::Partition>:s3:::mlref-*", "Resource::arn:<AWS::Partition>:s3:::mlref-*/*"],
                         "S3 has no tag condition for DeleteBucket or DeleteObjectVersion; limited to the labs' "
                         "bucket names (stack mlref-*) and the sweep checks lab and profile tags first")
        acknowledge_iam5(policy, [
            "Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*",
            "Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:feature-group/*",
        ], "jobs and feature groups are named at practice time; reads are unconditioned so tags can be "
           "checked, DeleteFeatureGroup requires tags lab=* and profile=sandbox")
        acknowledge_iam5(policy, [
            "Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:database/*",
            "Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:database/mlref_*",
            "Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/mlref_*/*",
        ], "GetDatabases lists every database to read its tags; deletes are limited to the labs' mlref_* "
           "databases and their tables (Feature Store offline tables have generated names)")
        acknowledge_iam5(policy, ["Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*"],
                         "interfaces that SageMaker and FSx leave detached carry no tags to condition on; the sweep "
                         "deletes only available interfaces in a security group tagged for the lab")
        acknowledge_iam5(policy, ["Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*"],
                         "DescribeKey only, to skip tagged keys already pending deletion when verifying a lab")
        if not self.settings.is_sandbox:
            function = self.janitor.function.function
            acknowledge(function, "NIST.800.53.R5-LambdaConcurrency",
                        "one invocation per deleted lab stack; reserving concurrency fails in new accounts "
                        "whose limit is 10")
            acknowledge(function, "NIST.800.53.R5-LambdaInsideVPC",
                        "calls only AWS APIs and reaches no VPC resource; a VPC would need NAT or many interface "
                        "endpoints, which bill while idle")
