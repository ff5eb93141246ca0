"""The batch-etl state machine, written as data (Amazon States Language, JSONPath). CDK-free.

``definition(engine)`` returns the ASL with ``${Name}`` placeholders that the stack fills
through ``DefinitionSubstitutions`` (``placeholders(engine)`` lists them). The flow:

1. wait until no earlier execution runs (executions take turns: two runs at once would
   crawl and transform the same files);
2. crawl raw: ``startCrawler``, then wait, ``getCrawler`` until READY (crawlers have no
   ``.sync``); fail unless the crawl succeeded;
3. transform: ``glue:startJobRun.sync`` or ``emr-serverless:startJobRun.sync``;
4. read the counts the job wrote; a batch without new rows ends here;
5. crawl curated (the new partitions), then evaluate the Glue Data Quality ruleset over
   this batch's partitions and poll until the run ends;
6. succeed with the counts and the rule results, or withdraw the batch's partitions from
   the catalog and fail with the rules that failed.

Every loop counts its polls and fails past ``max_polls``: no execution waits forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GLUE, EMR = "glue", "emr-serverless"
COMMON_PLACEHOLDERS = ("RawCrawler", "CuratedCrawler", "CuratedBucket", "CuratedDatabase", "CuratedTable",
                       "Ruleset", "QualityRole", "QualityLogPrefix", "RunsPrefix")
ENGINE_PLACEHOLDERS = {
    GLUE: ("GlueJob",),
    EMR: ("EmrApplication", "EmrRole", "EmrEntryPoint", "EmrSubmitParameters", "RawPath", "CuratedPath",
          "RejectedPath", "RunsPath", "StatePath"),
}
SPLITS = ("train", "validation", "test")
# Where results nobody reads go. Not ResultPath null: CloudFormation templates drop nulls, and without a
# ResultPath the result would replace the whole state.
DISCARD = "$.discarded"
TERMINAL_QUALITY_FAILURES = ("FAILED", "STOPPED", "TIMEOUT")

def placeholders(engine: str) -> tuple[str, ...]:
    return COMMON_PLACEHOLDERS + ENGINE_PLACEHOLDERS[engine]


def _task(resource: str, parameters: dict[str, Any], next_state: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "Parameters": parameters, "Next": next_state, **extra}


def _sdk(call: str) -> str:
    return f"arn:aws:states:::aws-sdk:{call}"


def _fail(error: str, cause_path: str) -> dict[str, Any]:
    return {"Type": "Fail", "Error": error, "CausePath": cause_path}


def _loop(name: str, counter: str, seconds: int, max_polls: int, then: str, error: str, cause: str) -> dict[str, Any]:
    """States ``Count<name>``, ``Limit<name>``, ``WaitFor<name>``: a bounded pause before ``then``."""
    return {
        f"Count{name}": {"Type": "Pass", "Parameters": {"n.$": f"States.MathAdd($.polls.{counter}.n, 1)"},
                         "ResultPath": f"$.polls.{counter}", "Next": f"Limit{name}"},
        f"Limit{name}": {"Type": "Choice", "Choices": [
            {"Variable": f"$.polls.{counter}.n", "NumericGreaterThan": max_polls, "Next": f"TimedOut{name}"}],
            "Default": f"WaitFor{name}"},
        f"TimedOut{name}": {"Type": "Fail", "Error": error, "Cause": cause},
        f"WaitFor{name}": {"Type": "Wait", "Seconds": seconds, "Next": then},
    }


def _crawl(zone: str, crawler: str, seconds: int, max_polls: int, then: str) -> dict[str, Any]:
    """Start the crawler (one already running is waited for), poll until READY, fail unless it succeeded."""
    name = f"{zone}Crawl"
    result = f"$.crawls.{zone.lower()}"
    return {
        f"Start{name}": _task(_sdk("glue:startCrawler"), {"Name": crawler}, f"Count{name}", ResultPath=DISCARD,
                              Catch=[{"ErrorEquals": ["Glue.CrawlerRunningException"], "ResultPath": DISCARD,
                                      "Next": f"Count{name}"}]),
        **_loop(name, zone.lower(), seconds, max_polls, f"Get{name}", f"{zone}CrawlTimedOut",
                f"the {zone.lower()} crawler was not READY after {max_polls} polls of {seconds} s"),
        f"Get{name}": _task(_sdk("glue:getCrawler"), {"Name": crawler}, f"Is{name}Done",
                            ResultSelector={"crawler.$": "$.Crawler"}, ResultPath=result),
        f"Is{name}Done": {"Type": "Choice", "Choices": [
            {"Variable": f"{result}.crawler.State", "StringEquals": "READY", "Next": f"Outcome{name}"}],
            "Default": f"Count{name}"},
        f"Outcome{name}": {"Type": "Choice", "Choices": [
            {"Variable": f"{result}.crawler.LastCrawl.Status", "StringEquals": "SUCCEEDED", "Next": then}],
            "Default": f"Failed{name}"},
        f"Failed{name}": _fail(f"{zone}CrawlFailed", f"States.JsonToString({result}.crawler.LastCrawl)"),
    }


def _transform(engine: str, job_tags: Mapping[str, str]) -> dict[str, Any]:
    on_error = {"Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "TransformFailed"}]}
    if engine == GLUE:
        return _task("arn:aws:states:::glue:startJobRun.sync",
                     {"JobName": "${GlueJob}", "Arguments": {"--batch_id.$": "$.batch_id"}}, "ReadCounts",
                     ResultPath="$.transform",
                     Retry=[{"ErrorEquals": ["Glue.ConcurrentRunsExceededException"], "IntervalSeconds": 60,
                             "MaxAttempts": 5, "BackoffRate": 2}], **on_error)
    arguments = ", ".join(f"'--{flag}', {value}" for flag, value in (
        ("batch-id", "$.batch_id"), ("raw-path", "'${RawPath}'"), ("curated-path", "'${CuratedPath}'"),
        ("rejected-path", "'${RejectedPath}'"), ("runs-path", "'${RunsPath}'"), ("state-path", "'${StatePath}'")))
    return _task("arn:aws:states:::emr-serverless:startJobRun.sync", {
        "ApplicationId": "${EmrApplication}",
        "ExecutionRoleArn": "${EmrRole}",
        "Name.$": "States.Format('batch-{}', $.batch_id)",
        "ClientToken.$": "States.UUID()",
        "ExecutionTimeoutMinutes": 30,
        "JobDriver": {"SparkSubmit": {"EntryPoint": "${EmrEntryPoint}",
                                      "EntryPointArguments.$": f"States.Array({arguments})",
                                      "SparkSubmitParameters": "${EmrSubmitParameters}"}},
        "Tags": dict(job_tags),
    }, "ReadCounts", ResultPath="$.transform", **on_error)


def _quality(seconds: int, max_polls: int) -> dict[str, Any]:
    return {
        "StartQualityRun": _task(_sdk("glue:startDataQualityRulesetEvaluationRun"), {
            "DataSource": {"GlueTable": {
                "DatabaseName": "${CuratedDatabase}", "TableName": "${CuratedTable}",
                "AdditionalOptions": {  # the quote comes from Start: intrinsic strings would need escaping
                    "pushDownPredicate.$": "States.Format('batch = {}{}{}', $.quote, $.batch_id, $.quote)"}}},
            "Role": "${QualityRole}",
            "RulesetNames": ["${Ruleset}"],
            "NumberOfWorkers": 2,
            "Timeout": 30,
            "AdditionalRunOptions": {"CloudWatchMetricsEnabled": True, "CustomLogGroupPrefix": "${QualityLogPrefix}"},
        }, "CountQualityPolls", ResultSelector={"RunId.$": "$.RunId"}, ResultPath="$.quality"),
        **_loop("QualityPolls", "quality", seconds, max_polls, "GetQualityRun", "QualityRunTimedOut",
                f"the data-quality run did not finish after {max_polls} polls of {seconds} s"),
        "GetQualityRun": _task(_sdk("glue:getDataQualityRulesetEvaluationRun"), {"RunId.$": "$.quality.RunId"},
                               "QualityRunState", ResultPath="$.quality_run"),
        "QualityRunState": {"Type": "Choice", "Choices": [
            {"Variable": "$.quality_run.Status", "StringEquals": "SUCCEEDED", "Next": "GetQualityResult"},
            *({"Variable": "$.quality_run.Status", "StringEquals": status, "Next": "QualityRunFailed"}
              for status in TERMINAL_QUALITY_FAILURES)],
            "Default": "CountQualityPolls"},
        "QualityRunFailed": _fail("QualityRunFailed", "States.JsonToString($.quality_run)"),
        "GetQualityResult": _task(_sdk("glue:getDataQualityResult"), {"ResultId.$": "$.quality_run.ResultIds[0]"},
                                  "AllRulesPassed", ResultSelector={"Score.$": "$.Score", "Rules.$": "$.RuleResults"},
                                  ResultPath="$.quality.result"),
        "AllRulesPassed": {"Type": "Choice", "Choices": [
            {"Variable": "$.quality.result.Score", "NumericEquals": 1, "Next": "Report"}],
            "Default": "WithdrawBatch"},
        "WithdrawBatch": _task(_sdk("glue:batchDeletePartition"), {
            "DatabaseName": "${CuratedDatabase}", "TableName": "${CuratedTable}",
            "PartitionsToDelete": [{"Values.$": f"States.Array($.batch_id, '{split}')"} for split in SPLITS],
        }, "ListFailedRules", ResultPath=DISCARD,
            Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": DISCARD, "Next": "ListFailedRules"}]),
        # A filter that matches nothing is an error, so it runs only once the score says a rule failed.
        "ListFailedRules": {"Type": "Pass", "Parameters": {"failed.$": "$.quality.result.Rules[?(@.Result != 'PASS')]"},
                            "ResultPath": "$.quality.failed", "Next": "DataQualityFailed"},
        "DataQualityFailed": _fail("DataQualityFailed", "States.JsonToString($.quality.failed.failed)"),
    }


def definition(engine: str, *, job_tags: Mapping[str, str] = {}, poll_seconds: int = 30,
               queue_seconds: int = 60, max_polls: int = 60) -> dict[str, Any]:
    """The state machine for ``engine`` (glue or emr-serverless), placeholders unfilled."""
    if engine not in ENGINE_PLACEHOLDERS:
        raise ValueError(f"engine {engine!r} is not one of {', '.join(ENGINE_PLACEHOLDERS)}")
    counters = {name: {"n": 0} for name in ("queue", "raw", "curated", "quality")}
    summary = {"batch_id.$": "$.batch_id", "engine": engine, "counts.$": "$.run.counts"}
    states: dict[str, Any] = {
        "Start": {"Type": "Pass", "Parameters": {
            "batch_id.$": "$$.Execution.Name", "execution.$": "$$.Execution.Id",
            "state_machine.$": "$$.StateMachine.Id", "trigger.$": "$", "polls": counters, "quote": "'"},
            "Next": "ListRunningExecutions"},
        "ListRunningExecutions": _task(_sdk("sfn:listExecutions"), {
            "StateMachineArn.$": "$.state_machine", "StatusFilter": "RUNNING", "MaxResults": 100}, "IsOldestExecution",
            ResultSelector={"oldest.$": "States.ArrayGetItem($.Executions, States.MathAdd(States.ArrayLength("
                                        "$.Executions), -1))"}, ResultPath="$.queue"),
        "IsOldestExecution": {"Type": "Choice", "Choices": [
            {"Variable": "$.queue.oldest.ExecutionArn", "StringEqualsPath": "$.execution", "Next": "StartRawCrawl"}],
            "Default": "CountQueuePolls"},
        **_loop("QueuePolls", "queue", queue_seconds, max_polls, "ListRunningExecutions",
                "EarlierExecutionStillRunning",
                f"an earlier execution was still running after {max_polls} polls of {queue_seconds} s"),
        **_crawl("Raw", "${RawCrawler}", poll_seconds, max_polls, "Transform"),
        "Transform": _transform(engine, job_tags),
        "TransformFailed": _fail("TransformFailed", "$.error.Cause"),
        "ReadCounts": _task(_sdk("s3:getObject"), {
            "Bucket": "${CuratedBucket}", "Key.$": "States.Format('${RunsPrefix}{}/counts.json', $.batch_id)"},
            "AnyNewRows", ResultSelector={"counts.$": "States.StringToJson($.Body)"}, ResultPath="$.run"),
        "AnyNewRows": {"Type": "Choice", "Choices": [
            {"Variable": "$.run.counts.input_rows", "NumericEquals": 0, "Next": "NothingNew"}],
            "Default": "StartCuratedCrawl"},
        "NothingNew": {"Type": "Pass", "Parameters": {**summary, "status": "no new rows"}, "End": True},
        **_crawl("Curated", "${CuratedCrawler}", poll_seconds, max_polls, "StartQualityRun"),
        **_quality(poll_seconds, max_polls),
        "Report": {"Type": "Pass", "Parameters": {
            **summary, "status": "curated", "data_quality": {"score.$": "$.quality.result.Score",
                                                             "rules.$": "$.quality.result.Rules"}}, "End": True},
    }
    return {"Comment": f"mlref batch-etl: crawl raw, transform ({engine}), crawl curated, check data quality",
            "StartAt": "Start", "TimeoutSeconds": 4 * 3600, "States": states}
