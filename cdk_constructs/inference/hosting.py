"""What SageMaker does with the inference lab's hosting role beyond hosting: asynchronous requests
and results, batch transform input and output, notifications, the rollback alarm.

Sources: SageMaker developer guide, "Asynchronous inference prerequisites" (the execution role reads
the request and writes the result and failure objects, publishes to the topics), "Batch transform"
(the model's execution role reads the input prefix and writes the output; CreateTransformJob takes
no role of its own) and "Auto-Rollback Configuration and Monitoring" (``cloudwatch:DescribeAlarms``).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from cdk_constructs.services.sagemaker_hosting import EndpointExecutionRole


def allow_async(role: EndpointExecutionRole, bucket: s3.IBucket, *, requests: str, results: Sequence[str],
                topics: Sequence[sns.ITopic]) -> None:
    """Read requests under ``requests``, write results and failures under ``results``, notify ``topics``."""
    role.add_to_principal_policy(iam.PolicyStatement(sid="ReadAsyncRequests", actions=["s3:GetObject"],
                                                     resources=[bucket.arn_for_objects(f"{requests}/*")]))
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="WriteAsyncResults", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
        resources=[bucket.arn_for_objects(f"{prefix}/*") for prefix in results]))
    role.add_to_principal_policy(iam.PolicyStatement(sid="NotifyAsyncResults", actions=["sns:Publish"],
                                                     resources=[topic.topic_arn for topic in topics]))


def allow_transform(role: EndpointExecutionRole, bucket: s3.IBucket, *, source: str, destination: str) -> None:
    """List and read the objects under ``source``, write predictions under ``destination``."""
    role.add_to_principal_policy(iam.PolicyStatement(sid="ReadTransformInput", actions=["s3:GetObject"],
                                                     resources=[bucket.arn_for_objects(f"{source}/*")]))
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="ListTransformInput", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{source}/*"]}}))
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="WriteTransformOutput", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
        resources=[bucket.arn_for_objects(f"{destination}/*")]))


def allow_alarm_reads(role: EndpointExecutionRole, alarm_arn: str) -> None:
    role.add_to_principal_policy(iam.PolicyStatement(sid="ReadRollbackAlarm", actions=["cloudwatch:DescribeAlarms"],
                                                     resources=[alarm_arn]))
