"""The approach step: one text task (the sentiment of a product review), three ways, one table.

- an AI service: Amazon Comprehend's BatchDetectSentiment (no training, no labels);
- a foundation model: a small on-demand Bedrock model through Converse, prompted for one word;
- a built-in algorithm trained here: SageMaker BlazingText (supervised), whose validation channel is the
  held-out set, so its validation accuracy is the held-out accuracy.

Each row: accuracy on the same held-out texts, time to the first result, cost per 1,000 items, set-up. A
service or model that is not available (region, account, SCP) says so in its row; the others still run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from catalog import model_development as lab
from catalog import model_development_facts as facts
from catalog.endpoint import hosting_price_key
from catalog.fsx_training import billed_cost
from catalog.prices import price
from labs.practice.model_development import requests

PROFILE_NEEDED = re.compile(r"on-demand throughput isn.t supported", re.IGNORECASE)


@dataclass
class Row:
    """One approach's results; ``problem`` is set when it could not run (the row says why)."""

    approach: str
    setup: str
    accuracy: float | None = None
    scored: int = 0
    first_seconds: float | None = None
    cost_per_1000: str = "-"
    note: str = ""
    problem: str = ""


def first_word(text: str) -> str:
    words = re.findall(r"[a-z]+", text.lower())
    return words[0] if words else ""


def comprehend_units(text: str) -> int:
    """Units of 100 characters, at least 3 per document (the pricing page's rule, taken per document)."""
    return max(facts.COMPREHEND_MIN_UNITS, math.ceil(len(text) / 100))


def unavailable(error: Exception, service: str, region: str) -> str:
    """What a row says when a service refuses or cannot be reached."""
    if isinstance(error, EndpointConnectionError):
        return f"{service} has no endpoint reachable in {region}"
    if isinstance(error, ClientError):
        code, message = error.response["Error"]["Code"], error.response["Error"].get("Message", "")
        if "Marketplace" in message or "aws-marketplace" in message:
            return "a third-party model needs a Marketplace subscription (not granted here)"
        if code == "AccessDeniedException" and "don't have access to the model" in message:
            return "model access not granted in this account"
        if "AccessDenied" in code:
            return f"denied by IAM or an SCP ({code})"
        if code == "ValidationException" and "model identifier is invalid" in message:
            return f"model not offered in {region}"
        return f"{code}: {message[:120]}"
    return f"{type(error).__name__}: {error}"


def run_comprehend(comprehend: Any, region: str, items: Sequence[tuple[str, str]],
                   clock: Callable[[], float]) -> Row:
    row = Row("Amazon Comprehend (AI service)", facts.SETUP["comprehend"])
    if region not in facts.COMPREHEND_REGIONS:
        row.problem = f"Comprehend's real-time sentiment API is not offered in {region}"
        return row
    correct = mixed = 0
    started = clock()
    try:
        for start in range(0, len(items), facts.COMPREHEND_BATCH):
            batch = items[start:start + facts.COMPREHEND_BATCH]
            answer = comprehend.batch_detect_sentiment(**requests.comprehend_request([text for text, _ in batch]))
            if row.first_seconds is None:
                row.first_seconds = clock() - started
            for result in answer.get("ResultList", []):
                predicted = facts.COMPREHEND_LABELS.get(result["Sentiment"])
                mixed += result["Sentiment"] == "MIXED"
                row.scored += 1
                correct += predicted == batch[result["Index"]][1]
    except (ClientError, BotoCoreError) as error:
        row.problem = unavailable(error, "Comprehend", region)
        return row
    row.accuracy = correct / row.scored if row.scored else None
    units = sum(comprehend_units(text) for text, _ in items) / len(items)
    row.cost_per_1000 = f"${1000 * units * price('comprehend_unit'):.2f}"
    row.note = f"{mixed} answered MIXED (a miss: no such label here)" if mixed else ""
    return row


def run_bedrock(runtime: Any, model: str, region: str, items: Sequence[tuple[str, str]],
                clock: Callable[[], float], sleep: Callable[[float], None]) -> Row:
    row = Row(f"Amazon Bedrock {model} (foundation model)", facts.SETUP["bedrock"])
    model_id = requests.bedrock_model_id(model, region)
    correct = unparsed = tokens_in = tokens_out = 0
    started = clock()
    for text, label in items:
        try:
            answer = runtime.converse(**requests.converse_request(model_id, text))
        except ClientError as error:
            retry = requests.profile_id(model, region) if row.scored == 0 and model_id == model else None
            if not (retry and PROFILE_NEEDED.search(error.response["Error"].get("Message", ""))):
                row.problem = unavailable(error, "Bedrock", region)
                return row
            model_id = retry  # on-demand only through an inference profile here: retry once with it
            try:
                answer = runtime.converse(**requests.converse_request(model_id, text))
            except (ClientError, BotoCoreError) as again:
                row.problem = "needs an inference profile, which refused too: " + unavailable(again, "Bedrock", region)
                return row
        except BotoCoreError as error:
            row.problem = unavailable(error, "Bedrock", region)
            return row
        if row.first_seconds is None:
            row.first_seconds = clock() - started
        content = answer["output"]["message"]["content"]
        said = first_word(content[0].get("text", "") if content else "")
        unparsed += said not in facts.CLASSES
        correct += said == label
        row.scored += 1
        tokens_in += answer["usage"]["inputTokens"]
        tokens_out += answer["usage"]["outputTokens"]
        sleep(1 / facts.BEDROCK_REQUESTS_PER_SECOND)
    row.accuracy = correct / row.scored
    per_item = (tokens_in * price("bedrock_nova_micro_input_1k") + tokens_out * price("bedrock_nova_micro_output_1k"))
    row.cost_per_1000 = f"${per_item / 1000 / row.scored * 1000:.4f}"
    if model != facts.BEDROCK_MODEL:
        row.cost_per_1000 += f" (at {facts.BEDROCK_MODEL}'s price)"
    row.note = f"model id {model_id}; ~{tokens_in / row.scored:.0f} tokens in, {tokens_out / row.scored:.1f} out" + (
        f"; {unparsed} answers not one of the classes" if unparsed else "")
    return row


def blazingtext_row(found: dict[str, Any] | None, wall_seconds: float | None, problem: str = "") -> Row:
    row = Row("SageMaker BlazingText (built-in algorithm)", facts.SETUP["blazingtext"], problem=problem)
    if found is None:
        return row
    from labs.practice.model_development.jobs import final_metric

    row.accuracy = final_metric(found, facts.BLAZINGTEXT_METRIC)
    row.first_seconds = wall_seconds
    billable = found.get("BillableTimeInSeconds") or 0
    trained = billed_cost(found["ResourceConfig"]["InstanceType"], billable)
    endpoint = price(hosting_price_key(lab.SHADOW_INSTANCE_TYPE))
    row.cost_per_1000 = f"n/a: serving needs an endpoint (~${endpoint:.3f}/hour) or a batch job"
    row.note = (f"training {billable} s billed" + (f", ~${trained:.4f} once" if trained is not None else "")
                + f"; {found.get('TrainingTimeInSeconds', '?')} s of training in the first result time")
    return row


def table(rows: Sequence[Row], items: int) -> list[str]:
    """The comparison, then each approach's set-up effort and notes."""
    lines = [f"  {'approach':<44} {'accuracy (n=' + str(items) + ')':<17} {'first result':<13} cost per 1,000 items"]
    for row in rows:
        if row.problem:
            lines.append(f"  {row.approach:<44} unavailable: {row.problem}")
            continue
        accuracy = "-" if row.accuracy is None else f"{row.accuracy:.3f}"
        first = "-" if row.first_seconds is None else f"{row.first_seconds:.1f} s"
        lines.append(f"  {row.approach:<44} {accuracy:<17} {first:<13} {row.cost_per_1000}")
    lines.append("  set-up:")
    for row in rows:
        lines.append(f"    {row.approach.split(' (')[0]}: {row.setup}" + (f" [{row.note}]" if row.note else ""))
    return lines
