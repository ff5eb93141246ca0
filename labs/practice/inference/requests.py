"""Every request the inference practice sends, built in one place: the practice sends them, the dry
run prints them (tests check each against botocore's service model) and ``labs permissions`` proves
them. Pure: no client is made here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from catalog import inference as contract
from jobs.endpoint.model import Row, csv_line
from lambdas.shared.rollout import deployment_config

NAMESPACE = "AWS/SageMaker"
LATENCY_QUERIES = (("model", "ModelLatency", "Average"), ("samples", "ModelLatency", "SampleCount"),
                   ("overhead", "OverheadLatency", "Average"))
SHADOW_METRICS = (("invocations", "Invocations", "Sum"), ("latency", "ModelLatency", "Average"),
                  ("latency_max", "ModelLatency", "Maximum"), ("errors4xx", "Invocation4XXErrors", "Sum"),
                  ("errors5xx", "Invocation5XXErrors", "Sum"), ("model_errors", "InvocationModelErrors", "Sum"))
RECEIVE_WAIT_SECONDS = 20  # SQS long polling: answers as soon as a message is there


def window(start: datetime, end: datetime) -> tuple[datetime, datetime, int]:
    """Whole minutes around ``start``-``end`` and a period that spans them: one datapoint per metric."""
    first = start.replace(second=0, microsecond=0)
    minutes = max(1, math.ceil((end - first).total_seconds() / 60) + 1)
    return first, first + timedelta(minutes=minutes), minutes * 60


def metric_query(query_id: str, endpoint: str, variant: str, metric: str, stat: str, period: int) -> dict[str, Any]:
    return {"Id": query_id, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": [
            {"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]},
        "Period": period, "Stat": stat}}


def latency_request(endpoint: str, variant: str, start: datetime, end: datetime) -> dict[str, Any]:
    """ModelLatency (mean and count) and OverheadLatency (mean) of one variant over a run, in microseconds."""
    first, last, period = window(start, end)
    return {"MetricDataQueries": [metric_query(query_id, endpoint, variant, metric, stat, period)
                                  for query_id, metric, stat in LATENCY_QUERIES],
            "StartTime": first, "EndTime": last}


def variants_request(endpoint: str) -> dict[str, Any]:
    """The variants that published Invocations for ``endpoint`` (a shadow variant's among them)."""
    return {"Namespace": NAMESPACE, "MetricName": "Invocations",
            "Dimensions": [{"Name": "EndpointName", "Value": endpoint}]}


def shadow_metrics_request(endpoint: str, variants: Sequence[str], start: datetime, end: datetime) -> dict[str, Any]:
    first, last, period = window(start, end)
    return {"MetricDataQueries": [metric_query(f"{name}_{index}", endpoint, variant, metric, stat, period)
                                  for index, variant in enumerate(variants)
                                  for name, metric, stat in SHADOW_METRICS],
            "StartTime": first, "EndTime": last}


def async_key(run_id: str, number: int) -> str:
    return f"{contract.ASYNC_INPUT}/{run_id}/{number}.csv"


def put_request(bucket: str, key: str, body: str) -> dict[str, Any]:
    return {"Bucket": bucket, "Key": key, "Body": body.encode(), "ContentType": "text/csv"}


def async_request(endpoint: str, bucket: str, key: str, inference_id: str) -> dict[str, Any]:
    return {"EndpointName": endpoint, "InputLocation": f"s3://{bucket}/{key}", "ContentType": "text/csv",
            "Accept": "text/csv", "InferenceId": inference_id, "RequestTTLSeconds": contract.ASYNC_REQUEST_TTL_SECONDS}


def receive_request(queue_url: str) -> dict[str, Any]:
    return {"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": RECEIVE_WAIT_SECONDS}


def delete_request(queue_url: str, receipts: Sequence[str]) -> dict[str, Any]:
    return {"QueueUrl": queue_url, "Entries": [{"Id": str(n), "ReceiptHandle": r} for n, r in enumerate(receipts)]}


def endpoint_request(endpoint: str) -> dict[str, Any]:
    return {"EndpointName": endpoint}


def batch_file(rows: Sequence[Row]) -> str:
    """One CSV line per record: batch transform splits the file by line (SplitType Line)."""
    return "".join(csv_line(row) + "\n" for row in rows)


def transform_job_name(run_id: str) -> str:
    return f"{contract.TRANSFORM_JOB_PREFIX}{run_id}"


def transform_request(run_id: str, outputs: Mapping[str, str], tags: Mapping[str, str]) -> dict[str, Any]:
    """CreateTransformJob for the file under ``transform/input/<run>/``: records in batches of up to 6 MB
    (MultiRecord), predictions to ``transform/output/<run>/`` under the lab key. No role: the model's
    execution role reads and writes (the API takes none)."""
    bucket, key = outputs[contract.DATA_BUCKET], outputs[contract.KEY]
    return {
        "TransformJobName": transform_job_name(run_id), "ModelName": outputs[contract.TRANSFORM_MODEL],
        "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                            "S3Uri": f"s3://{bucket}/{contract.TRANSFORM_INPUT}/{run_id}/"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": f"s3://{bucket}/{contract.TRANSFORM_OUTPUT}/{run_id}/",
                            "Accept": "text/csv", "AssembleWith": "Line", "KmsKeyId": key},
        "TransformResources": {"InstanceType": outputs[contract.INSTANCE_TYPE_OUTPUT], "InstanceCount": 1,
                               "VolumeKmsKeyId": key},
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }


def scalable_target_request(resource_id: str) -> dict[str, Any]:
    return {"ServiceNamespace": "sagemaker", "ResourceIds": [resource_id],
            "ScalableDimension": contract.SCALABLE_DIMENSION}


# -- the real-time endpoint's versions -----------------------------------------------------------

def rollout_request(endpoint: str, config: str, *, strategy: str, alarm: str, bake_seconds: int) -> dict[str, Any]:
    """UpdateEndpoint to ``config``, blue/green with ``strategy``, rolled back when ``alarm`` fires."""
    return {"EndpointName": endpoint, "EndpointConfigName": config, "DeploymentConfig": deployment_config(
        strategy, alarms=[alarm], bake_seconds=bake_seconds, step_percent=contract.ROLLOUT_STEP_PERCENT)}


def restore_request(endpoint: str, config: str) -> dict[str, Any]:
    """Back to ``config`` at once: no bake, no alarm (it is the version that was serving)."""
    return {"EndpointName": endpoint, "EndpointConfigName": config, "DeploymentConfig": deployment_config(
        "all-at-once", alarms=[], bake_seconds=0, termination_wait_seconds=0)}


def switch_request(endpoint: str, config: str) -> dict[str, Any]:
    """UpdateEndpoint with SageMaker's default blue/green (the shadow step's switch)."""
    return {"EndpointName": endpoint, "EndpointConfigName": config}


def alarm_request(alarm: str) -> dict[str, Any]:
    return {"AlarmNames": [alarm]}


def alarm_history_request(alarm: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"AlarmName": alarm, "HistoryItemType": "StateUpdate", "StartDate": start, "EndDate": end,
            "ScanBy": "TimestampAscending"}
