"""``labs practice inference --dry-run``: every request of every step (each way of the table, the
rollout with each strategy, ``--break`` and ``--restore``, the shadow step), printed without AWS.

The requests come from the functions the practice sends them with (``requests.py``), filled with
example outputs (``labs permissions`` puts the synthesized template's in their place); the tests
check each against botocore's model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from catalog import inference as contract
from jobs.endpoint.model import synthetic_rows
from labs.practice.common.dry_run import show_request as show_any_request
from labs.practice.common.dry_run import show_stack_outputs
from labs.practice.endpoint.checks import endpoint_quota_name
from labs.practice.endpoint.traffic import invoke_request
from labs.practice.inference import requests as build
from lambdas.shared.rollout import STRATEGIES

ACCOUNT = "111122223333"
EXAMPLE_TIME = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EXAMPLE_TAGS = {"lab": "inference", "profile": "sandbox", "owner": "you"}
RUN_ID = "20261201-120000-abcd"


def example_outputs(region: str) -> dict[str, str]:
    """The stack's outputs with example values (a deployed stack's take their place)."""
    suffix = "0a1b2c3d"
    return {
        contract.REALTIME_ENDPOINT: f"mlref-inference-rt-{suffix}",
        contract.SERVERLESS_ENDPOINT: f"mlref-inference-sl-{suffix}",
        contract.ASYNC_ENDPOINT: f"mlref-inference-async-{suffix}",
        contract.VARIANT_NAME: contract.VARIANT, contract.SHADOW_VARIANT_NAME: contract.SHADOW_VARIANT,
        contract.REALTIME_CONFIG: "RealtimeConfig-example", contract.ROLLOUT_CONFIG: "RolloutConfig-example",
        contract.BROKEN_CONFIG: "BrokenConfig-example", contract.SHADOW_CONFIG: "ShadowConfig-example",
        contract.ROLLBACK_ALARM: "mlref-inference-realtime-errors",
        contract.TRANSFORM_MODEL: "ModelAModel-example",
        contract.DATA_BUCKET: "mlref-inference-inferencedatabucket-example",
        contract.ASYNC_QUEUE: f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/mlref-inference-AsyncQueue-example",
        contract.ASYNC_SCALABLE: f"endpoint/mlref-inference-async-{suffix}/variant/{contract.VARIANT}",
        contract.KEY: f"arn:aws:kms:{region}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000000",
        contract.INSTANCE_TYPE_OUTPUT: contract.DEFAULT_INSTANCE_TYPE,
        contract.REALTIME_INSTANCES: "1",
        contract.SERVERLESS_MEMORY: str(contract.SERVERLESS_MEMORY_MB),
        contract.SERVERLESS_CONCURRENCY: str(contract.SERVERLESS_MAX_CONCURRENCY),
        contract.SERVERLESS_PROVISIONED: "0",
    }


def _text_bodies(show: Callable[..., None]) -> Callable[..., None]:
    """``show_request`` with request bodies printed as the text they are (``Body`` is bytes when sent)."""
    def shown(out: Callable[[str], None], service: str, operation: str, params: dict[str, Any], title: str) -> None:
        show(out, service, operation, {k: v.decode() if isinstance(v, bytes) else v for k, v in params.items()}, title)

    return shown


def print_dry_run(out: Callable[[str], None], *, region: str, records: int, bake_seconds: int) -> None:
    show_request = _text_bodies(show_any_request)
    o = example_outputs(region)
    realtime, serverless, endpoint_async = (o[contract.REALTIME_ENDPOINT], o[contract.SERVERLESS_ENDPOINT],
                                            o[contract.ASYNC_ENDPOINT])
    bucket, queue, alarm = o[contract.DATA_BUCKET], o[contract.ASYNC_QUEUE], o[contract.ROLLBACK_ALARM]
    row = synthetic_rows(1, seed=1)[0]
    start, end = EXAMPLE_TIME, EXAMPLE_TIME + timedelta(minutes=5)

    show_stack_outputs(out, contract.STACK_NAME)
    show_request(out, "service-quotas", "ListServiceQuotas", {"ServiceCode": "sagemaker"},
                 f"preflight: \"{endpoint_quota_name(contract.DEFAULT_INSTANCE_TYPE)}\" and the others it needs")
    show_request(out, "service-quotas", "ListAWSDefaultServiceQuotas", {"ServiceCode": "sagemaker"},
                 "preflight: the defaults of quotas never raised")
    show_request(out, "iam", "GetRole", {"RoleName": "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"},
                 "preflight: Application Auto Scaling's role for SageMaker (async scales with it)")
    out(f"# step table: {records} records through each way")
    for endpoint, way in ((realtime, "real-time"), (serverless, "serverless")):
        show_request(out, "sagemaker-runtime", "InvokeEndpoint", invoke_request(endpoint, row),
                     f"{way}: {records} of these, one first and the rest in parallel")
        show_request(out, "cloudwatch", "GetMetricData", build.latency_request(endpoint, contract.VARIANT, start, end),
                     f"{way}: ModelLatency and OverheadLatency of the run (until CloudWatch has counted it)")
    show_request(out, "sagemaker", "DescribeEndpoint", build.endpoint_request(endpoint_async),
                 "async: instances running before (0: the first request starts one)")
    key = build.async_key(RUN_ID, 0)
    show_request(out, "s3", "PutObject", build.put_request(bucket, key, "48,61.5,1,9,0,35\n"),
                 f"async: one request object per record ({records})")
    show_request(out, "sagemaker-runtime", "InvokeEndpointAsync",
                 build.async_request(endpoint_async, bucket, key, f"{RUN_ID}-0-1a2b3c4d"), "async: one per record")
    show_request(out, "sqs", "ReceiveMessage", build.receive_request(queue), "async: the SNS notifications, until all "
                 "have arrived")
    show_request(out, "sqs", "DeleteMessageBatch", build.delete_request(queue, ["<ReceiptHandle>"]),
                 "async: the notifications read")
    show_request(out, "cloudwatch", "GetMetricData",
                 build.latency_request(endpoint_async, contract.VARIANT, start, end), "async: ModelLatency of the run")
    show_request(out, "application-autoscaling", "DescribeScalableTargets",
                 build.scalable_target_request(o[contract.ASYNC_SCALABLE]),
                 "async: its scaling range (back to 0 instances after ~15 quiet minutes)")
    show_request(out, "s3", "PutObject", build.put_request(bucket, f"{contract.TRANSFORM_INPUT}/{RUN_ID}/records.csv",
                                                           "48,61.5,1,9,0,35\n"), "batch: the records as one file")
    transform = build.transform_request(RUN_ID, o, EXAMPLE_TAGS)
    job = {"TransformJobName": transform["TransformJobName"]}
    show_request(out, "sagemaker", "CreateTransformJob", transform, "batch: one job on one instance")
    show_request(out, "sagemaker", "DescribeTransformJob", job, "batch: until it has finished")
    show_request(out, "s3", "GetObject", {"Bucket": bucket,
                                          "Key": f"{contract.TRANSFORM_OUTPUT}/{RUN_ID}/records.csv.out"},
                 "batch: the predictions")
    show_request(out, "sagemaker", "StopTransformJob", job, "batch: only on Ctrl-C or when the wait gives up")

    out("# step rollout: version 2 (or --break) blue/green, rolled back by the alarm")
    show_request(out, "sagemaker", "DescribeEndpoint", build.endpoint_request(realtime),
                 "rollout: InService on version 1 before; then every few seconds, each change printed")
    show_request(out, "cloudwatch", "DescribeAlarms", build.alarm_request(alarm), "rollout: the alarm is not firing")
    for strategy in STRATEGIES:
        show_request(out, "sagemaker", "UpdateEndpoint", build.rollout_request(
            realtime, o[contract.ROLLOUT_CONFIG], strategy=strategy, alarm=alarm, bake_seconds=bake_seconds),
            f"rollout --strategy {strategy}")
    show_request(out, "sagemaker", "UpdateEndpoint", build.rollout_request(
        realtime, o[contract.BROKEN_CONFIG], strategy="canary", alarm=alarm, bake_seconds=bake_seconds),
        "rollout --break: a version whose invocations fail")
    show_request(out, "sagemaker-runtime", "InvokeEndpoint", invoke_request(realtime, row),
                 "rollout: traffic while it shifts, about one request a second")
    show_request(out, "cloudwatch", "DescribeAlarmHistory", build.alarm_history_request(alarm, start, end),
                 "rollout: did the alarm fire, and when")
    show_request(out, "sagemaker", "UpdateEndpoint", build.restore_request(realtime, o[contract.REALTIME_CONFIG]),
                 "rollout: back to version 1 after a rollout that succeeded, or with --restore")

    out("# step shadow: model B shadows model A")
    show_request(out, "sagemaker", "UpdateEndpoint", build.switch_request(realtime, o[contract.SHADOW_CONFIG]),
                 "shadow: production model A with model B as its shadow")
    show_request(out, "sagemaker-runtime", "InvokeEndpoint", invoke_request(realtime, row),
                 f"shadow: {records} of these (production answers; the shadow gets a copy)")
    show_request(out, "cloudwatch", "ListMetrics", build.variants_request(realtime),
                 "shadow: which variants published metrics")
    show_request(out, "cloudwatch", "GetMetricData", build.shadow_metrics_request(
        realtime, [contract.VARIANT, contract.SHADOW_VARIANT], start, end), "shadow: production vs shadow")
    show_request(out, "sagemaker", "UpdateEndpoint", build.restore_request(realtime, o[contract.REALTIME_CONFIG]),
                 "shadow: back to version 1")
    out(f"# example names stand where the deployed {contract.STACK_NAME} stack's outputs go; nothing was sent")
