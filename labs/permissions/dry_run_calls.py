"""A practice's requests (what its dry run prints) as the IAM calls they are: the action and resource each
request is authorized as, and the calls AWS then makes with the same credentials (S3 asking KMS for the
object's key, Athena reading and writing its output location). CDK-free, pure.

Resources are written with the request's parameters (``{Bucket}``, ``{Key}``) and ``{partition}``,
``{region}``, ``{account}``; a parameter a follow-up request lacks (``GetQueryExecution`` names no
workgroup) is taken from the earlier request of the same principal that had it. Each entry follows the
service authorization reference (catalog.calls.SAR), where a request is authorized against
every resource type the action requires (``glue:GetTable``: catalog, database and table).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from catalog.calls import ATHENA_OUTPUT, ATHENA_TABLES, LAKE_FORMATION_ATHENA, PASS_ROLE, S3_KMS, SAR, Call, via

REGIONAL = "arn:{partition}:{service}:{region}:{account}:"
BUCKET, OBJECT = "arn:{partition}:s3:::{Bucket}", "arn:{partition}:s3:::{Bucket}/{Key}"
CATALOG = REGIONAL.format(partition="{partition}", service="glue", region="{region}", account="{account}")
GLUE_TABLE = (CATALOG + "catalog", CATALOG + "database/{DatabaseName}", CATALOG + "table/{DatabaseName}/{Name}")
WORKGROUP = "arn:{partition}:athena:{region}:{account}:workgroup/{WorkGroup}"
SAGEMAKER = "arn:{partition}:sagemaker:{region}:{account}:"
STREAM = "arn:{partition}:kinesis:{region}:{account}:stream/{StreamName}"
WAREHOUSE = "arn:{partition}:redshift-serverless:{region}:{account}:workgroup/{WorkgroupName}"
TUNING_JOB = "hyper-parameter-tuning-job/{lower_HyperParameterTuningJobName}"
TRAINING_JOB = "training-job/{lower_TrainingJobName}"
PROCESSING_JOB = "processing-job/{lower_ProcessingJobName}"
PIPELINE = "arn:{partition}:codepipeline:{region}:{account}:{pipelineName}"  # CodePipeline's pipeline resource type
PIPELINE_BY_NAME = "arn:{partition}:codepipeline:{region}:{account}:{name}"
ALARM = "arn:{partition}:cloudwatch:{region}:{account}:alarm:{AlarmName}"

# (service, operation) -> [(action, resource, condition keys)], the resource formatted with the request.
ACTIONS: dict[tuple[str, str], list[tuple[str, str] | tuple[str, str, dict]]] = {
    ("sts", "AssumeRole"): [("sts:AssumeRole", "{RoleArn}")],
    ("cloudformation", "DescribeStacks"): [("cloudformation:DescribeStacks", "{StackArn}")],
    ("cloudformation", "ListStacks"): [("cloudformation:ListStacks", "*")],
    ("s3", "PutObject"): [("s3:PutObject", OBJECT)],
    ("s3", "GetObject"): [("s3:GetObject", OBJECT)],
    ("s3", "HeadObject"): [("s3:GetObject", OBJECT)],
    ("s3", "CopyObject"): [("s3:GetObject", "arn:{partition}:s3:::{CopySource_Bucket}/{CopySource_Key}"),
                           ("s3:PutObject", OBJECT)],
    ("s3", "ListObjectsV2"): [("s3:ListBucket", BUCKET, {"s3:prefix": "{Prefix}"})],
    ("s3", "ListBuckets"): [("s3:ListAllMyBuckets", "*")],
    ("glue", "StartCrawler"): [("glue:StartCrawler", CATALOG + "crawler/{Name}")],
    ("glue", "GetCrawler"): [("glue:GetCrawler", CATALOG + "crawler/{Name}")],
    ("glue", "GetTable"): [("glue:GetTable", arn) for arn in GLUE_TABLE],
    ("athena", "StartQueryExecution"): [("athena:StartQueryExecution", WORKGROUP)],
    ("athena", "GetQueryExecution"): [("athena:GetQueryExecution", WORKGROUP)],
    ("athena", "GetQueryResults"): [("athena:GetQueryResults", WORKGROUP)],
    ("athena", "StopQueryExecution"): [("athena:StopQueryExecution", WORKGROUP)],
    ("kinesis", "PutRecords"): [("kinesis:PutRecords", STREAM)],
    ("redshift-data", "ExecuteStatement"): [("redshift-data:ExecuteStatement", WAREHOUSE),
                                            ("redshift-serverless:GetCredentials", WAREHOUSE)],
    ("redshift-data", "DescribeStatement"): [("redshift-data:DescribeStatement", "*")],
    ("redshift-data", "GetStatementResult"): [("redshift-data:GetStatementResult", "*")],
    ("sagemaker-featurestore-runtime", "PutRecord"): [
        ("sagemaker:PutRecord", SAGEMAKER + "feature-group/{lower_FeatureGroupName}")],
    ("sagemaker-featurestore-runtime", "GetRecord"): [
        ("sagemaker:GetRecord", SAGEMAKER + "feature-group/{lower_FeatureGroupName}")],
    ("sagemaker-runtime", "InvokeEndpoint"): [
        ("sagemaker:InvokeEndpoint", SAGEMAKER + "endpoint/{lower_EndpointName}")],
    ("sagemaker", "DescribeEndpoint"): [
        ("sagemaker:DescribeEndpoint", SAGEMAKER + "endpoint/{lower_EndpointName}")],
    ("sagemaker", "UpdateEndpointWeightsAndCapacities"): [
        ("sagemaker:UpdateEndpointWeightsAndCapacities", SAGEMAKER + "endpoint/{lower_EndpointName}")],
    ("sagemaker", "CreateTrainingJob"): [
        ("sagemaker:CreateTrainingJob", SAGEMAKER + TRAINING_JOB),
        ("iam:PassRole", "{RoleArn}", {"iam:PassedToService": "sagemaker.amazonaws.com"})],
    ("sagemaker", "DescribeTrainingJob"): [("sagemaker:DescribeTrainingJob", SAGEMAKER + TRAINING_JOB)],
    ("sagemaker", "StopTrainingJob"): [("sagemaker:StopTrainingJob", SAGEMAKER + TRAINING_JOB)],
    ("sagemaker", "CreateProcessingJob"): [
        ("sagemaker:CreateProcessingJob", SAGEMAKER + PROCESSING_JOB),
        ("iam:PassRole", "{RoleArn}", {"iam:PassedToService": "sagemaker.amazonaws.com"})],
    ("sagemaker", "DescribeProcessingJob"): [("sagemaker:DescribeProcessingJob", SAGEMAKER + PROCESSING_JOB)],
    ("sagemaker", "StopProcessingJob"): [("sagemaker:StopProcessingJob", SAGEMAKER + PROCESSING_JOB)],
    ("sagemaker", "CreateMonitoringSchedule"): [
        ("sagemaker:CreateMonitoringSchedule", SAGEMAKER + "monitoring-schedule/{lower_MonitoringScheduleName}")],
    ("sagemaker", "DeleteMonitoringSchedule"): [
        ("sagemaker:DeleteMonitoringSchedule", SAGEMAKER + "monitoring-schedule/{lower_MonitoringScheduleName}")],
    ("sagemaker", "ListMonitoringExecutions"): [("sagemaker:ListMonitoringExecutions", "*")],
    ("sagemaker", "StartPipelineExecution"): [
        ("sagemaker:StartPipelineExecution", SAGEMAKER + "pipeline/{lower_PipelineName}")],
    ("sagemaker", "DescribePipelineExecution"): [("sagemaker:DescribePipelineExecution", "{PipelineExecutionArn}")],
    ("sagemaker", "ListPipelineExecutionSteps"): [("sagemaker:ListPipelineExecutionSteps", "{PipelineExecutionArn}")],
    ("sagemaker", "StopPipelineExecution"): [("sagemaker:StopPipelineExecution", "{PipelineExecutionArn}")],
    ("sagemaker", "UpdateModelPackage"): [("sagemaker:UpdateModelPackage", "{ModelPackageArn}")],
    ("sagemaker", "DescribeModelPackage"): [("sagemaker:DescribeModelPackage", "{ModelPackageName}")],
    ("stepfunctions", "StartExecution"): [("states:StartExecution", "{stateMachineArn}")],
    ("stepfunctions", "ListExecutions"): [("states:ListExecutions", "{stateMachineArn}")],
    ("stepfunctions", "DescribeExecution"): [("states:DescribeExecution", "{executionArn}")],
    ("stepfunctions", "GetExecutionHistory"): [("states:GetExecutionHistory", "{executionArn}")],
    ("stepfunctions", "StopExecution"): [("states:StopExecution", "{executionArn}")],
    ("application-autoscaling", "DescribeScalableTargets"): [("application-autoscaling:DescribeScalableTargets", "*")],
    ("application-autoscaling", "DescribeScalingPolicies"): [("application-autoscaling:DescribeScalingPolicies", "*")],
    ("application-autoscaling", "DescribeScalingActivities"): [
        ("application-autoscaling:DescribeScalingActivities", "*")],
    ("cloudwatch", "GetMetricData"): [("cloudwatch:GetMetricData", "*")],
    ("logs", "FilterLogEvents"): [
        ("logs:FilterLogEvents", "arn:{partition}:logs:{region}:{account}:log-group:{logGroupName}:*")],
    ("service-quotas", "ListServiceQuotas"): [("servicequotas:ListServiceQuotas", "*")],
    ("service-quotas", "ListAWSDefaultServiceQuotas"): [("servicequotas:ListAWSDefaultServiceQuotas", "*")],
    ("iam", "GetRole"): [("iam:GetRole", "arn:{partition}:iam::{account}:role/{RoleName}")],
    ("iam", "SimulatePrincipalPolicy"): [("iam:SimulatePrincipalPolicy", "{PolicySourceArn}")],
    ("sagemaker-runtime", "InvokeEndpointAsync"): [
        ("sagemaker:InvokeEndpointAsync", SAGEMAKER + "endpoint/{lower_EndpointName}")],
    # UpdateEndpoint requires both the endpoint and the config it moves to (service authorization reference).
    ("sagemaker", "UpdateEndpoint"): [("sagemaker:UpdateEndpoint", SAGEMAKER + "endpoint/{lower_EndpointName}"),
                                      ("sagemaker:UpdateEndpoint",
                                       SAGEMAKER + "endpoint-config/{lower_EndpointConfigName}")],
    ("sagemaker", "CreateTransformJob"): [
        ("sagemaker:CreateTransformJob", SAGEMAKER + "transform-job/{lower_TransformJobName}"),
        ("sagemaker:AddTags", SAGEMAKER + "transform-job/{lower_TransformJobName}")],
    ("sagemaker", "DescribeTransformJob"): [
        ("sagemaker:DescribeTransformJob", SAGEMAKER + "transform-job/{lower_TransformJobName}")],
    ("sagemaker", "StopTransformJob"): [
        ("sagemaker:StopTransformJob", SAGEMAKER + "transform-job/{lower_TransformJobName}")],
    ("sqs", "ReceiveMessage"): [("sqs:ReceiveMessage", "arn:{partition}:sqs:{region}:{account}:{QueueName}")],
    ("sqs", "DeleteMessageBatch"): [("sqs:DeleteMessage", "arn:{partition}:sqs:{region}:{account}:{QueueName}")],
    ("cloudwatch", "ListMetrics"): [("cloudwatch:ListMetrics", "*")],
    ("cloudwatch", "DescribeAlarms"): [("cloudwatch:DescribeAlarms",
                                        "arn:{partition}:cloudwatch:{region}:{account}:alarm:{AlarmNames}")],
    ("cloudwatch", "DescribeAlarmHistory"): [("cloudwatch:DescribeAlarmHistory",
                                              "arn:{partition}:cloudwatch:{region}:{account}:alarm:{AlarmName}")],
    # model-development: tuning, the tuned model for Clarify, the shadow-endpoint clean-up, the approaches
    ("sagemaker", "CreateHyperParameterTuningJob"): [
        ("sagemaker:CreateHyperParameterTuningJob", SAGEMAKER + TUNING_JOB),
        ("iam:PassRole", "{TrainingJobDefinition_RoleArn}", {"iam:PassedToService": "sagemaker.amazonaws.com"})],
    ("sagemaker", "DescribeHyperParameterTuningJob"): [
        ("sagemaker:DescribeHyperParameterTuningJob", SAGEMAKER + TUNING_JOB)],
    ("sagemaker", "StopHyperParameterTuningJob"): [
        ("sagemaker:StopHyperParameterTuningJob", SAGEMAKER + TUNING_JOB)],
    ("sagemaker", "ListHyperParameterTuningJobs"): [("sagemaker:ListHyperParameterTuningJobs", "*")],
    ("sagemaker", "ListTrainingJobsForHyperParameterTuningJob"): [
        ("sagemaker:ListTrainingJobsForHyperParameterTuningJob", SAGEMAKER + TUNING_JOB)],
    ("sagemaker", "CreateModel"): [
        ("sagemaker:CreateModel", SAGEMAKER + "model/{lower_ModelName}"),
        ("iam:PassRole", "{ExecutionRoleArn}", {"iam:PassedToService": "sagemaker.amazonaws.com"})],
    ("sagemaker", "DeleteModel"): [("sagemaker:DeleteModel", SAGEMAKER + "model/{lower_ModelName}")],
    ("sagemaker", "ListEndpoints"): [("sagemaker:ListEndpoints", "*")],
    ("sagemaker", "DescribeEndpointConfig"): [
        ("sagemaker:DescribeEndpointConfig", SAGEMAKER + "endpoint-config/{lower_EndpointConfigName}")],
    ("sagemaker", "DeleteEndpoint"): [("sagemaker:DeleteEndpoint", SAGEMAKER + "endpoint/{lower_EndpointName}")],
    ("sagemaker", "DeleteEndpointConfig"): [
        ("sagemaker:DeleteEndpointConfig", SAGEMAKER + "endpoint-config/{lower_EndpointConfigName}")],
    ("logs", "DescribeLogGroups"): [("logs:DescribeLogGroups", "*")],
    ("logs", "TagResource"): [("logs:TagResource", "{resourceArn}")],
    ("comprehend", "BatchDetectSentiment"): [("comprehend:BatchDetectSentiment", "*")],
    # Converse is authorized as bedrock:InvokeModel (Bedrock API reference, Converse); a foundation model's
    # ARN names no account.
    ("bedrock-runtime", "Converse"): [
        ("bedrock:InvokeModel", "arn:{partition}:bedrock:{region}::foundation-model/{modelId}")],
    ("codepipeline", "ListPipelineExecutions"): [("codepipeline:ListPipelineExecutions", PIPELINE)],
    ("codepipeline", "GetPipelineExecution"): [("codepipeline:GetPipelineExecution", PIPELINE)],
    ("codepipeline", "ListActionExecutions"): [("codepipeline:ListActionExecutions", PIPELINE)],
    ("codepipeline", "GetPipelineState"): [("codepipeline:GetPipelineState", PIPELINE_BY_NAME)],
    ("codepipeline", "StopPipelineExecution"): [("codepipeline:StopPipelineExecution", PIPELINE)],
    ("codepipeline", "StartPipelineExecution"): [("codepipeline:StartPipelineExecution", PIPELINE_BY_NAME)],
    ("codepipeline", "PutApprovalResult"): [("codepipeline:PutApprovalResult",
                                             PIPELINE + "/{stageName}/{actionName}")],
    ("cloudwatch", "SetAlarmState"): [("cloudwatch:SetAlarmState", ALARM)],
}
TABLE_IN_SQL = re.compile(r'"([A-Za-z0-9_]+)"\."([A-Za-z0-9_]+)"')


class Fields(dict):
    """Request parameters for ``str.format``: ``lower_X`` is X in lower case (SageMaker ARNs); a
    missing one names itself, so the call shows what the request did not say."""

    def __missing__(self, key: str) -> str:
        if key.startswith("lower_") and key[6:] in self:
            return str(self[key[6:]]).lower()
        if key == "QueueName" and "QueueUrl" in self:  # https://sqs.<region>.amazonaws.com/<account>/<name>
            return str(self["QueueUrl"]).rsplit("/", 1)[-1]
        return f"<{key}>"


def iam_calls(service: str, operation: str, params: Mapping[str, Any], fields: Fields) -> list[tuple[str, str, dict]]:
    """(action, resource, condition keys) of one request; an unknown request is a one-line LabError."""
    from labs.engine.errors import LabError

    if (service, operation) not in ACTIONS:
        raise LabError(f"no IAM action known for the practice request {service} {operation}: add it to "
                       f"ACTIONS in labs/permissions/dry_run_calls.py (service authorization reference)")
    fields.update({k: v for k, v in params.items() if isinstance(v, (str, int))})
    fields.update({f"{k}_{inner}": v for k, nested in params.items() if isinstance(nested, Mapping)
                   for inner, v in nested.items() if isinstance(v, (str, int))})  # CopySource: Bucket, Key
    fields.update({k: v[0] for k, v in params.items() if isinstance(v, list) and len(v) == 1 and isinstance(v[0], str)})
    found = []
    for item in ACTIONS[(service, operation)]:
        context = {k: str(v).format_map(fields) for k, v in (item[2] if len(item) > 2 else {}).items()}
        found.append((item[0], item[1].format_map(fields), {k: v for k, v in context.items() if v != "<Prefix>"}))
    return found


def followed_by(who: str, service: str, operation: str, params: Mapping[str, Any], template: Any) -> Iterator[Call]:
    """What AWS does next with the same principal's credentials: S3 asks KMS for the key of an
    SSE-KMS bucket; Athena reads the tables a query names (Lake Formation vends their data), writes
    its results to the workgroup's output location and creates a CTAS table."""
    if service == "s3" and operation in {"PutObject", "GetObject", "HeadObject", "CopyObject"}:
        key = template.bucket_key(params.get("Bucket", ""))
        if key:
            action = "kms:GenerateDataKey" if operation in {"PutObject", "CopyObject"} else "kms:Decrypt"
            yield Call(who, action, key, S3_KMS, via("s3"), purpose=f"S3 {operation} with the bucket's key")
        copied = params.get("CopySource", {}).get("Bucket", "") if operation == "CopyObject" else ""
        source = template.bucket_key(copied) if copied else ""
        if source:
            yield Call(who, "kms:Decrypt", source, S3_KMS, via("s3"), purpose="S3 CopyObject reads the source's key")
    if (service, operation) == ("athena", "StartQueryExecution"):
        yield from _athena(who, params, template)


def _athena(who: str, params: Mapping[str, Any], template: Any) -> Iterator[Call]:
    sql = str(params.get("QueryString", ""))
    output, key = template.workgroup_output(str(params.get("WorkGroup", "")))
    if output:
        bucket, _, prefix = output.removeprefix("s3://").partition("/")
        results = f"arn:${{AWS::Partition}}:s3:::{bucket}/{prefix}example-query-id.csv"
        for action, resource, context in (
                ("s3:GetBucketLocation", f"arn:${{AWS::Partition}}:s3:::{bucket}", {}),
                ("s3:ListBucket", f"arn:${{AWS::Partition}}:s3:::{bucket}", {"s3:prefix": prefix}),
                ("s3:PutObject", results, {}), ("s3:GetObject", results, {}),
                ("s3:AbortMultipartUpload", results, {}), ("s3:ListMultipartUploadParts", results, {})):
            yield Call(who, action, resource, ATHENA_OUTPUT, context, purpose="Athena's output location")
        if key:
            yield Call(who, "kms:GenerateDataKey", key, ATHENA_OUTPUT, via("s3"), purpose="Athena's encrypted results")
            yield Call(who, "kms:Decrypt", key, ATHENA_OUTPUT, via("s3"), purpose="Athena's encrypted results")
    tables = TABLE_IN_SQL.findall(sql)
    created = tables[0] if sql.lstrip().upper().startswith("CREATE TABLE") and tables else None
    prefix = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:"
    for database, table in tables:
        action = "glue:CreateTable" if (database, table) == created else "glue:GetTable"
        for resource in (f"{prefix}catalog", f"{prefix}database/{database}", f"{prefix}table/{database}/{table}"):
            yield Call(who, action, resource, LAKE_FORMATION_ATHENA, purpose=f"Athena: {database}.{table}")
        location = template.table_location(database, table)
        if location and not template.governed() and (database, table) != created:
            yield from _table_reads(who, location, template)
    if tables and template.governed():
        yield Call(who, "lakeformation:GetDataAccess", "*", LAKE_FORMATION_ATHENA,
                   purpose="Lake Formation vends the tables' data to Athena")


def _table_reads(who: str, location: str, template: Any) -> Iterator[Call]:
    """Athena reading a table Lake Formation does not govern: the caller's own S3 (and KMS) access."""
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    arn = f"arn:${{AWS::Partition}}:s3:::{bucket}"
    yield Call(who, "s3:ListBucket", arn, ATHENA_TABLES, {"s3:prefix": prefix}, purpose="Athena lists the table")
    yield Call(who, "s3:GetObject", f"{arn}/{prefix.rstrip('/')}/example.parquet", ATHENA_TABLES,
               purpose="Athena reads the table")
    if key := template.bucket_key(bucket):
        yield Call(who, "kms:Decrypt", key, ATHENA_TABLES, via("s3"), purpose="Athena reads the encrypted table")


__all__ = ["ACTIONS", "PASS_ROLE", "SAR", "Fields", "followed_by", "iam_calls"]
