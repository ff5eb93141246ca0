"""The calls every lab shares: its expiry (sandbox profile), the account janitor's sweep of what the
lab leaves, and VPC flow logs. One line per call: a new sweep call is one more line in the list of
``janitor_calls``."""

from __future__ import annotations

from catalog.base import LabContract
from catalog.calls import LAMBDA_ROLE, SAR, SCHEDULER_ROLE, Call, acting_as, arn, assumed, refused
from lambdas.shared.lab_names import (
    ENDPOINT_LOG_GROUP_PREFIX,
    LAB_TAG,
    PROCESSING_LOG_GROUP,
    PROFILE_TAG,
    SHADOW_ENDPOINT_PREFIXES,
    SWEPT_PROFILE,
    TRANSFORM_LOG_GROUP,
    expiry_retry_schedule,
)

EXPIRY = "ExpiryExpireFunction*"
EXPIRY_ROLE = "ExpiryExpireExecutionRole*"
CFN_EXECUTION_ROLE = ("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
                      "cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}")
DELETE_STACK = "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html"
SCHEDULE_GROUP = arn("scheduler", "schedule-group/default")
JANITOR = "JanitorSweepExecutionRole*"
LAB_KEY = "*Key????????"  # each lab's one KMS key (DataLakeKeyBE531ED9 ...)
EXPIRY_RETRY = "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html"
RETRY_SCHEDULE = arn("scheduler", f"schedule/default/{expiry_retry_schedule('${AWS::StackName}')}")
SWEEP = "lambdas/lab_sweep (the janitor's sweep), per the service authorization reference"


def expiry_calls() -> tuple[Call, ...]:
    """EventBridge Scheduler invokes the expiry function once, which deletes its own stack."""
    return (
        assumed("ExpiryInvokerRole*", "scheduler.amazonaws.com", SCHEDULER_ROLE, present=EXPIRY,
                source_arn=SCHEDULE_GROUP),
        *acting_as("ExpiryInvokerRole*", SCHEDULER_ROLE, [("lambda:InvokeFunction", "${ExpiryExpireFunction*.Arn}")],
                   present=EXPIRY, purpose="the schedule invokes the expiry"),
        assumed(EXPIRY_ROLE, "lambda.amazonaws.com", LAMBDA_ROLE, present=EXPIRY),
        *acting_as(EXPIRY_ROLE, DELETE_STACK, [
            ("cloudformation:DescribeStacks", "${AWS::StackId}"),
            ("cloudformation:DeleteStack", "${AWS::StackId}"),
            ("iam:PassRole", CFN_EXECUTION_ROLE, {"iam:PassedToService": "cloudformation.amazonaws.com"}),
        ], present=EXPIRY, purpose="the expiry deletes its stack"),
        # An expiry that cannot delete now leaves one retry schedule, named after its stack
        # (lambdas/lab_expiry), which invokes the function with the same invoker role.
        *acting_as(EXPIRY_ROLE, EXPIRY_RETRY, [
            ("scheduler:CreateSchedule", RETRY_SCHEDULE),
            ("scheduler:UpdateSchedule", RETRY_SCHEDULE),
            ("iam:PassRole", "${ExpiryInvokerRole*.Arn}", {"iam:PassedToService": "scheduler.amazonaws.com"}),
        ], present=EXPIRY, purpose="the expiry leaves a retry"),
        *acting_as(EXPIRY_ROLE, LAMBDA_ROLE, [("logs:CreateLogStream", "${ExpiryExpireLogGroup*.Arn}"),
                                              ("logs:PutLogEvents", "${ExpiryExpireLogGroup*.Arn}")],
                   present=EXPIRY, purpose="the expiry's own log group"),
        refused(EXPIRY_ROLE, "cloudformation:DeleteStack",
                arn("cloudformation", "stack/mlref-other/0000"),
                "the expiry deletes its own stack and no other", DELETE_STACK, present=EXPIRY),
    )


def _tags(lab: str) -> dict[str, str]:
    return {f"aws:ResourceTag/{LAB_TAG}": lab, f"aws:ResourceTag/{PROFILE_TAG}": SWEPT_PROFILE}


def janitor_calls(lab: LabContract) -> tuple[Call, ...]:
    """The sweep's calls on what a deleted lab stack leaves (a log group, a bucket and its objects, a
    key), tagged for the lab in the sandbox profile; and what it must not touch."""
    log_group = arn("logs", f"log-group:/aws/lambda/{lab.stack_name}-x")
    bucket = f"arn:${{AWS::Partition}}:s3:::{lab.stack_name}-examplebucket"
    pipeline = arn("codepipeline", lab.stack_name)
    in_account = {"s3:ResourceAccount": "${AWS::AccountId}"}
    tagged = _tags(lab.name)
    transform = f"{lab.stack_name}-x"
    transform_job = arn("sagemaker", f"transform-job/{transform}")
    tuning_job = arn("sagemaker", "hyper-parameter-tuning-job/mlref-x")
    processing_job = arn("sagemaker", f"processing-job/{lab.stack_name}-x")
    return (
        *acting_as(JANITOR, SWEEP, [
            ("cloudformation:DescribeStacks", "${AWS::StackId}"),
            ("cloudformation:ListStackResources", "${AWS::StackId}"),
            # The ownership proof (lambdas/lab_sweep/ownership.py): which stacks live, which holds a resource.
            ("cloudformation:ListStacks", "*"),
            ("cloudformation:DescribeStackResources", "*"),
            ("logs:ListTagsForResource", log_group),
            ("logs:DeleteLogGroup", log_group, tagged),
            ("s3:ListAllMyBuckets", "*"),
            ("s3:GetBucketTagging", bucket, in_account),
            ("s3:GetBucketLocation", bucket, in_account),
            ("s3:ListBucketVersions", bucket, in_account),
            ("s3:DeleteObjectVersion", f"{bucket}/any/object", in_account),
            ("s3:DeleteBucket", bucket, in_account),
            ("kms:DescribeKey", f"${{{LAB_KEY}.Arn}}"),
            ("tag:GetResources", "*"),
            # Batch transform jobs a practice started (inference): stopped if running, their log streams deleted.
            ("sagemaker:ListTransformJobs", "*"),
            ("sagemaker:ListTags", transform_job),
            ("sagemaker:DescribeTransformJob", transform_job),
            ("sagemaker:StopTransformJob", transform_job, tagged),
            ("logs:DeleteLogStream", arn("logs", f"log-group:{TRANSFORM_LOG_GROUP}:log-stream:{transform}/i-0")),
            # Tuning and processing jobs (model-development): stopped if running; a processing job's streams go.
            ("sagemaker:ListHyperParameterTuningJobs", "*"),
            ("sagemaker:ListTags", tuning_job),
            ("sagemaker:StopHyperParameterTuningJob", tuning_job, tagged),
            ("sagemaker:ListProcessingJobs", "*"),
            ("sagemaker:ListTags", processing_job),
            ("sagemaker:DescribeProcessingJob", processing_job),
            ("sagemaker:StopProcessingJob", processing_job, tagged),
            ("logs:DescribeLogStreams", arn("logs", f"log-group:{PROCESSING_LOG_GROUP}:log-stream:")),
            ("logs:DeleteLogStream", arn("logs", f"log-group:{PROCESSING_LOG_GROUP}:log-stream:mlref-x/algo-1")),
            # Clarify's untagged shadow endpoints (model-development), by name only, after the proof of their models;
            # and the log group SageMaker made for an endpoint, tagged so that a later sweep finds it.
            *((action, arn("sagemaker", f"{kind}/{prefix}-1700000000-1234"))
              for prefix in sorted(SHADOW_ENDPOINT_PREFIXES.values())
              for action, kind in (("sagemaker:DeleteEndpoint", "endpoint"),
                                   ("sagemaker:DeleteEndpointConfig", "endpoint-config"))),
            ("logs:TagResource", arn("logs", f"log-group:{ENDPOINT_LOG_GROUP_PREFIX}{lab.stack_name}-x"),
             {f"aws:RequestTag/{LAB_TAG}": lab.name, f"aws:RequestTag/{PROFILE_TAG}": SWEPT_PROFILE}),
            # Delivery pipelines (lambdas/lab_sweep/sweep_delivery.py): runs stopped, builds stopped, trails read.
            ("codepipeline:ListPipelineExecutions", pipeline),
            ("codepipeline:GetPipeline", pipeline),
            ("codepipeline:StopPipelineExecution", pipeline, tagged),
            ("codepipeline:DeletePipeline", pipeline, tagged),
            ("codebuild:ListBuilds", "*"),
            ("codebuild:BatchGetBuilds", arn("codebuild", f"project/{lab.stack_name}-build")),
            ("codebuild:StopBuild", arn("codebuild", f"project/{lab.stack_name}-build")),
            ("cloudtrail:DescribeTrails", "*"),
        ], purpose="the janitor sweeps the deleted lab"),
        refused(JANITOR, "logs:DeleteLogGroup", log_group, "a log group not tagged for a sandbox lab is not the "
                "janitor's to delete", SAR, context={f"aws:ResourceTag/{LAB_TAG}": lab.name,
                                                     f"aws:ResourceTag/{PROFILE_TAG}": "production"}),
        refused(JANITOR, "codepipeline:DeletePipeline", pipeline, "a pipeline not tagged for a sandbox lab is not the "
                "janitor's to delete", SAR, context={f"aws:ResourceTag/{LAB_TAG}": lab.name,
                                                     f"aws:ResourceTag/{PROFILE_TAG}": "production"}),
        refused(JANITOR, "s3:DeleteBucket", "arn:${AWS::Partition}:s3:::someone-elses-bucket",
                "a bucket outside the labs' mlref-* names is not the janitor's to delete", SAR, context=in_account),
    )


FLOW_LOGS = "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html"
FLOW_LOG_ROLE = "NetworkFlowLogWriterRole*"


def service_calls() -> tuple[Call, ...]:
    """VPC flow logs, where the lab has a VPC. (CloudWatch Logs using the lab's key is left out: its
    key policy statement is conditioned on kms:EncryptionContext:aws:logs:arn, a key whose name holds
    colons, which iam-simulate 0.1.173 does not carry into the request; docs/permissions.md says so.)"""
    return (
        assumed(FLOW_LOG_ROLE, "vpc-flow-logs.amazonaws.com", FLOW_LOGS, present=FLOW_LOG_ROLE,
                source_arn=arn("ec2", "vpc-flow-log/fl-0123456789abcdef0")),
        *acting_as(FLOW_LOG_ROLE, FLOW_LOGS, [("logs:CreateLogStream", "${NetworkFlowLogs*.Arn}"),
                                              ("logs:PutLogEvents", "${NetworkFlowLogs*.Arn}")],
                   present=FLOW_LOG_ROLE, purpose="VPC flow logs"),
    )


def shared_calls(lab: LabContract) -> tuple[Call, ...]:
    return (*expiry_calls(), *janitor_calls(lab), *service_calls())
