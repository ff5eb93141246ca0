"""Every request the mlops practice sends, built from the stack's outputs: the run and its dry run share
these functions, so the dry run prints what a run sends (and ``labs permissions`` proves it)."""

from __future__ import annotations

from typing import Any

from catalog import ml_pipeline as sm
from catalog import mlops as lab

ACCOUNT, REGION = "111122223333", "us-east-1"
EXAMPLE_EXECUTION = "0a1b2c3d-4e5f-4a1b-8c2d-3e4f5a6b7c8d"
EXAMPLE_TOKEN = "1a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8e"
PREDICTION_ROWS = 5
BUILD_FAILURES = "?FAIL ?ERROR ?Error"  # what unittest prints for a failed or broken test
PLACEHOLDERS = {
    lab.CODE_PIPELINE_OUTPUT: lab.CODE_PIPELINE, lab.SAGEMAKER_PIPELINE_OUTPUT: lab.SAGEMAKER_PIPELINE,
    lab.MODEL_GROUP: lab.MODEL_PACKAGE_GROUP, lab.SOURCE_BUCKET: "mlref-mlops-sourcebucket-example",
    lab.SOURCE_OBJECT: lab.SOURCE_KEY, lab.DATA_BUCKET: "mlref-mlops-rawdatabucket-example",
    lab.ARTIFACTS_BUCKET: "mlref-mlops-artifactsbucket-example", lab.TRAIL_OUTPUT: lab.TRAIL,
    lab.TRAIL_BUCKET: "mlref-mlops-audittrailbucket-example", lab.STAGING_OUTPUT: lab.STAGING_ENDPOINT,
    lab.PRODUCTION_OUTPUT: lab.PRODUCTION_ENDPOINT, lab.ROLLBACK: lab.ROLLBACK_ALARM, lab.DRIFT_OUTPUT: lab.DRIFT_ALARM,
    lab.BUILD_LOG_GROUP: "mlref-mlops-BuildsLogs-example",
    lab.KEY: f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000000",
}


def account_and_region(outputs: dict[str, str]) -> tuple[str, str]:
    """Where the trail delivers: the lab key's ARN names the account and region."""
    parts = outputs[lab.KEY].split(":")
    return parts[4], parts[3]


def raw_listing(outputs: dict[str, str]) -> dict[str, Any]:
    return {"Bucket": outputs[lab.DATA_BUCKET], "Prefix": sm.RAW_PREFIX, "MaxKeys": 1}


def raw_upload(outputs: dict[str, str], run_id: str, body: bytes) -> dict[str, Any]:
    return {"Bucket": outputs[lab.DATA_BUCKET], "Key": f"{sm.RAW_PREFIX}{run_id}/customers.csv", "Body": body,
            "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": outputs[lab.KEY]}


def push(outputs: dict[str, str], body: bytes) -> dict[str, Any]:
    return {"Bucket": outputs[lab.SOURCE_BUCKET], "Key": outputs[lab.SOURCE_OBJECT], "Body": body,
            "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": outputs[lab.KEY]}


def executions(outputs: dict[str, str]) -> dict[str, Any]:
    return {"pipelineName": outputs[lab.CODE_PIPELINE_OUTPUT], "maxResults": 10}


def execution(outputs: dict[str, str], execution_id: str) -> dict[str, Any]:
    return {"pipelineName": outputs[lab.CODE_PIPELINE_OUTPUT], "pipelineExecutionId": execution_id}


def actions(outputs: dict[str, str], execution_id: str) -> dict[str, Any]:
    return {"pipelineName": outputs[lab.CODE_PIPELINE_OUTPUT], "filter": {"pipelineExecutionId": execution_id}}


def all_actions(outputs: dict[str, str]) -> dict[str, Any]:
    return {"pipelineName": outputs[lab.CODE_PIPELINE_OUTPUT]}


def state(outputs: dict[str, str]) -> dict[str, Any]:
    return {"name": outputs[lab.CODE_PIPELINE_OUTPUT]}


def approval(outputs: dict[str, str], token: str, *, approve: bool, summary: str) -> dict[str, Any]:
    stage, action = lab.APPROVE_STAGE
    return {"pipelineName": outputs[lab.CODE_PIPELINE_OUTPUT], "stageName": stage, "actionName": action,
            "result": {"summary": summary[:512], "status": "Approved" if approve else "Rejected"}, "token": token}


def alarm(name: str, reason: str) -> dict[str, Any]:
    return {"AlarmName": name, "StateValue": "ALARM", "StateReason": reason[:1023]}


def build_log(outputs: dict[str, str], stream: str) -> dict[str, Any]:
    return {"logGroupName": outputs[lab.BUILD_LOG_GROUP], "logStreamNames": [stream],
            "filterPattern": BUILD_FAILURES, "limit": 50}


def endpoint(outputs: dict[str, str]) -> dict[str, Any]:
    return {"EndpointName": outputs[lab.PRODUCTION_OUTPUT]}


def holdout(uri: str) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return {"Bucket": bucket, "Key": key}


def invoke(outputs: dict[str, str], rows: list[list[str]]) -> dict[str, Any]:
    return {"EndpointName": outputs[lab.PRODUCTION_OUTPUT], "ContentType": "text/csv", "Accept": "text/csv",
            "Body": "\n".join(",".join(row) for row in rows)}


def trail_listing(outputs: dict[str, str], prefix: str) -> dict[str, Any]:
    return {"Bucket": outputs[lab.TRAIL_BUCKET], "Prefix": prefix}


def trail_file(outputs: dict[str, str], key: str) -> dict[str, Any]:
    return {"Bucket": outputs[lab.TRAIL_BUCKET], "Key": key}


def stop(outputs: dict[str, str], execution_id: str) -> dict[str, Any]:
    return {**execution(outputs, execution_id), "abandon": True, "reason": "stopped by labs practice mlops (Ctrl-C)"}
