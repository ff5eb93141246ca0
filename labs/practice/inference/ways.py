"""One model, four ways: the same records through each, measured, as one ``Row`` each.

- real-time and serverless: one first request, then the rest from ``concurrency`` threads
  (serverless at most its max concurrency); client latency per request with ``perf_counter``;
- async: one S3 object and one InvokeEndpointAsync per record; the latency of a request is from
  its invocation to its notification arriving (SNS -> SQS, long polling); the endpoint may start
  at zero instances, which the first prediction then includes;
- batch: one file, one transform job; its billed time is from the job's start to its end.
ModelLatency and OverheadLatency come from CloudWatch once it has counted the run's requests
(it lags a minute or more; after five minutes the table says n/a).
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from catalog import inference as contract
from catalog.endpoint import hosting_price_key
from catalog.prices import price
from jobs.endpoint.model import Row as Record
from jobs.endpoint.model import csv_line
from labs.engine.errors import LabError
from labs.practice.common.polling import Poll, WaitTimedOut
from labs.practice.endpoint.traffic import Invocation, invoke, invoke_request, parse_predictions, percentile
from labs.practice.inference import requests as build
from labs.practice.inference.table import (
    Row,
    instance_seconds_per_1000,
    realtime_per_1000,
    serverless_per_1000,
)

TRANSFORM_DONE = {"Completed", "Failed", "Stopped"}


@dataclass(frozen=True)
class Waits:
    """How long each wait may last, in seconds."""

    metrics: float = 300
    async_results: float = 1800  # from zero: ~8 minutes to start an instance, then the records
    transform: float = 1800
    poll: float = 10


def _stats(values: Sequence[float]) -> tuple[float | None, float | None]:
    return (statistics.median(values), percentile(values, 0.95)) if values else (None, None)


def _seconds(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.001)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Ways:
    """Measures each way on the deployed stack (``outputs``) with the session's clients."""

    def __init__(self, clients: Callable[[str], Any], outputs: dict[str, str], *, run_id: str,
                 tags: dict[str, str], concurrency: int, out: Callable[[str], None], waits: Waits = Waits(),
                 clock: Callable[[], float] = time.perf_counter,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client, self.outputs, self.run_id, self.tags = clients, outputs, run_id, tags
        self.concurrency, self.out, self.waits = concurrency, out, waits
        self.clock, self.now, self.sleep = clock, now, sleep
        self.instance_type = outputs[contract.INSTANCE_TYPE_OUTPUT]
        self.variant = outputs[contract.VARIANT_NAME]
        self.started_job: str | None = None

    def poll(self, what: str, timeout: float, fix: str = "") -> Poll:
        return Poll(what, timeout, self.waits.poll, fix=fix, clock=self.clock, sleep=self.sleep)

    # -- real-time and serverless -----------------------------------------------------------------

    def _send(self, endpoint: str, records: Sequence[Record],
              threads: int) -> tuple[Invocation, list[Invocation], float]:
        runtime = self.client("sagemaker-runtime")
        first = invoke(runtime, invoke_request(endpoint, records[0]), self.clock)
        started = self.clock()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            rest = list(pool.map(lambda r: invoke(runtime, invoke_request(endpoint, r), self.clock), records[1:]))
        return first, rest, self.clock() - started

    def latency(self, endpoint: str, start: datetime, expected: int) -> dict[str, float | None]:
        """The run's ModelLatency and OverheadLatency means in ms (CloudWatch counts microseconds)."""
        cloudwatch = self.client("cloudwatch")

        def read() -> dict[str, float | None]:
            results = cloudwatch.get_metric_data(**build.latency_request(endpoint, self.variant, start, self.now()))
            found: dict[str, float | None] = {r["Id"]: (r["Values"][0] if r.get("Values") else None)
                                              for r in results["MetricDataResults"]}
            return found

        try:
            found = self.poll(f"CloudWatch's latency metrics of {endpoint}", self.waits.metrics).until(
                read, lambda f: (f.get("samples") or 0) >= expected)
        except WaitTimedOut as timed_out:
            found = timed_out.last or {}
        return {name: None if found.get(name) is None else found[name] / 1000 for name in ("model", "overhead")}

    def realtime(self, records: Sequence[Record]) -> Row:
        endpoint = self.outputs[contract.REALTIME_ENDPOINT]
        instances = int(self.outputs[contract.REALTIME_INSTANCES])
        start = self.now()
        first, rest, wall = self._send(endpoint, records, self.concurrency)
        answered = [i for i in [first, *rest] if i.error is None]
        p50, p95 = _stats([i.latency_ms for i in rest if i.error is None])
        throughput = sum(1 for i in rest if i.error is None) / wall if wall > 0 and rest else None
        host = price(hosting_price_key(self.instance_type))
        metrics = self.latency(endpoint, start, len(answered))
        return Row("realtime", len(records), len(answered), first.latency_ms, "warm", p50, p95, metrics["model"],
                   metrics["overhead"], throughput,
                   realtime_per_1000(host, instances, throughput) if throughput else None, host * instances,
                   instances)

    def serverless(self, records: Sequence[Record]) -> Row:
        endpoint = self.outputs[contract.SERVERLESS_ENDPOINT]
        memory = int(self.outputs[contract.SERVERLESS_MEMORY])
        threads = min(self.concurrency, int(self.outputs[contract.SERVERLESS_CONCURRENCY]))
        start = self.now()
        first, rest, wall = self._send(endpoint, records, threads)
        answered = [i for i in [first, *rest] if i.error is None]
        p50, p95 = _stats([i.latency_ms for i in rest if i.error is None])
        throughput = sum(1 for i in rest if i.error is None) / wall if wall > 0 and rest else None
        metrics = self.latency(endpoint, start, len(answered))
        billed = metrics["model"] if metrics["model"] is not None else p50
        per_1000 = (serverless_per_1000(memory, billed / 1000, contract.serverless_gb_second())
                    if billed is not None else None)
        idle = contract.provisioned_per_hour(memory, int(self.outputs[contract.SERVERLESS_PROVISIONED]))
        note = "over 1 s: a cold start" if first.latency_ms > 1000 else "warm"
        return Row("serverless", len(records), len(answered), first.latency_ms, note, p50, p95, metrics["model"],
                   metrics["overhead"], throughput, per_1000, idle)

    # -- asynchronous -----------------------------------------------------------------------------

    def async_instances(self) -> int:
        endpoint = self.client("sagemaker").describe_endpoint(**build.endpoint_request(
            self.outputs[contract.ASYNC_ENDPOINT]))
        return sum(v.get("CurrentInstanceCount", 0) for v in endpoint.get("ProductionVariants", []))

    def asynchronous(self, records: Sequence[Record]) -> Row:
        endpoint, bucket = self.outputs[contract.ASYNC_ENDPOINT], self.outputs[contract.DATA_BUCKET]
        s3, runtime = self.client("s3"), self.client("sagemaker-runtime")
        before = self.async_instances()
        self.out(f"  async: {before} instance(s) running" + ("; the first request starts one (minutes)"
                                                             if before == 0 else ""))
        start, sent = self.now(), {}
        for number, record in enumerate(records):
            key = build.async_key(self.run_id, number)
            s3.put_object(**build.put_request(bucket, key, csv_line(record) + "\n"))
            inference_id = f"{self.run_id}-{number}-{uuid.uuid4().hex[:8]}"
            sent[inference_id] = self.clock()
            runtime.invoke_endpoint_async(**build.async_request(endpoint, bucket, key, inference_id))
        first_sent = min(sent.values())
        results = self.notifications(sent)
        done = {i: r for i, r in results.items() if r["status"] == "Completed"}
        if len(done) < len(results):
            self.out(f"  async: {len(results) - len(done)} request(s) failed; their error objects are under "
                     f"s3://{bucket}/{contract.ASYNC_FAILURES}/")
        latencies = [(r["seen"] - sent[i]) * 1000 for i, r in done.items()]
        p50, p95 = _stats(latencies)
        active = None
        if done and all(r["received"] and r["event"] for r in done.values()):  # SageMaker's own times
            active = _seconds(min(r["received"] for r in done.values()), max(r["event"] for r in done.values()))
        elif done:  # else the client's: first invocation to last notification seen
            active = max(max(r["seen"] for r in done.values()) - first_sent, 0.001)
        metrics = self.latency(endpoint, start, len(done)) if done else {"model": None, "overhead": None}
        per_1000 = (instance_seconds_per_1000(price(contract.async_price_key(self.instance_type)), active, len(done))
                    if active else None)
        first = (min(r["seen"] for r in done.values()) - first_sent) * 1000 if done else None
        self.scaling_line()
        return Row("async", len(records), len(done), first, "from 0 instances" if before == 0 else "instance running",
                   p50, p95, metrics["model"], metrics["overhead"], len(done) / active if active else None,
                   per_1000, 0.0)

    def scaling_line(self) -> None:
        """Where the async variant's scaling stands: it bills until target tracking takes it back to zero."""
        targets = self.client("application-autoscaling").describe_scalable_targets(
            **build.scalable_target_request(self.outputs[contract.ASYNC_SCALABLE])).get("ScalableTargets", [])
        for target in targets:
            self.out(f"  async: scales between {target['MinCapacity']} and {target['MaxCapacity']} instances; back to "
                     "0 after ~15 quiet minutes of target tracking (it bills until then)")

    def notifications(self, sent: dict[str, float]) -> dict[str, dict[str, Any]]:
        """Each sent request's notification: status, when SageMaker received and finished it, when seen."""
        sqs, queue = self.client("sqs"), self.outputs[contract.ASYNC_QUEUE]
        results: dict[str, dict[str, Any]] = {}

        def receive() -> int:
            messages = sqs.receive_message(**build.receive_request(queue)).get("Messages", [])
            for message in messages:
                body = json.loads(json.loads(message["Body"])["Message"])
                if body.get("inferenceId") in sent:
                    results[body["inferenceId"]] = {  # the times as the developer guide's example shows them
                        "status": body.get("invocationStatus", ""), "seen": self.clock(),
                        "received": _time(body["receivedTime"]) if body.get("receivedTime") else None,
                        "event": _time(body["eventTime"]) if body.get("eventTime") else None}
            if messages:  # ours, and any an interrupted run left: the queue is the lab's own
                sqs.delete_message_batch(**build.delete_request(queue, [m["ReceiptHandle"] for m in messages]))
            return len(results)

        self.poll(f"{len(sent)} async results", self.waits.async_results,
                  fix=f"requests still queued expire after {contract.ASYNC_REQUEST_TTL_SECONDS // 60} minutes; "
                      "rerun with --ways async").until(receive, lambda count: count >= len(sent))
        return results

    # -- batch transform ------------------------------------------------------------------------------

    def batch(self, records: Sequence[Record]) -> Row:
        bucket, sagemaker = self.outputs[contract.DATA_BUCKET], self.client("sagemaker")
        key = f"{contract.TRANSFORM_INPUT}/{self.run_id}/records.csv"
        self.client("s3").put_object(**build.put_request(bucket, key, build.batch_file(records)))
        request = build.transform_request(self.run_id, self.outputs, self.tags)
        created = self.clock()
        try:
            sagemaker.create_transform_job(**request)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            raise LabError(f"CreateTransformJob refused: {code}: {error.response['Error'].get('Message', '')} "
                           f"(quota \"{self.instance_type} for transform job usage\"? or rerun without batch: "
                           "--ways realtime,serverless,async)") from error
        self.started_job = name = request["TransformJobName"]
        self.out(f"  batch: transform job {name} started (instance start-up takes minutes)")
        job = self.poll(f"transform job {name}", self.waits.transform, fix="it was stopped").until(
            lambda: sagemaker.describe_transform_job(TransformJobName=name),
            lambda j: j["TransformJobStatus"] in TRANSFORM_DONE)
        self.started_job = None
        if job["TransformJobStatus"] != "Completed":
            self.out(f"  batch: {job['TransformJobStatus']}: {job.get('FailureReason', 'no reason given')}")
            return Row("batch", len(records), 0, first_note="whole file")
        whole = (self.clock() - created) * 1000
        key = f"{contract.TRANSFORM_OUTPUT}/{self.run_id}/records.csv.out"
        predictions = parse_predictions(self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        billed = _seconds(job["TransformStartTime"], job["TransformEndTime"])
        per_1000 = (instance_seconds_per_1000(price(contract.transform_price_key(self.instance_type)), billed,
                                              len(predictions)) if predictions else None)
        return Row("batch", len(records), len(predictions), whole, "whole file", None, None, None, None,
                   len(predictions) / billed, per_1000, 0.0)

    def stop_started(self) -> None:
        """Ctrl-C or a wait that gave up: the transform job this run started stops billing."""
        if self.started_job:
            try:
                self.client("sagemaker").stop_transform_job(TransformJobName=self.started_job)
                self.out(f"stopped transform job {self.started_job}")
            except ClientError as error:
                self.out(f"warning: could not stop transform job {self.started_job} "
                         f"({error.response['Error']['Code']}): stop it in the SageMaker console")
