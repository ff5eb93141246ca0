"""The ml-pipeline lab's template: the pipeline definition it carries, PassRole only to the step
and model roles and only to SageMaker, the approval rule's pattern (moto's EventBridge matcher),
the deploy function's tags, the teardown's ordering, KMS everywhere, nothing retained in sandbox."""

from __future__ import annotations

import json
import re

import pytest
from moto.events.models import EventPattern

from catalog import ml_pipeline as lab
from tests.conftest import resources_of
from tests.stacks.test_janitor import ACCOUNT, REGION, resolve


@pytest.fixture(scope="module")
def template(sandbox):
    return sandbox.templates["ml-pipeline"]


def one(template, resource_type):
    (found,) = resources_of(template, resource_type).items()
    return found


def role_named(template, description_start):
    (logical_id,) = [k for k, r in resources_of(template, "AWS::IAM::Role").items()
                     if r["Properties"].get("Description", "").startswith(description_start)]
    return logical_id


def statements_of(template, role_id):
    found = []
    for policy in resources_of(template, "AWS::IAM::ManagedPolicy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def as_list(value):
    return value if isinstance(value, list) else [value]


def placeholder_json(value) -> str:
    """A ``Fn::Join`` of the definition with every Ref/GetAtt/Sub replaced by a readable token."""
    separator, parts = value["Fn::Join"]
    text = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        elif "Ref" in part:
            text.append(f"<{part['Ref']}>")
        elif "Fn::GetAtt" in part:
            text.append(f"<{part['Fn::GetAtt'][0]}.{part['Fn::GetAtt'][1]}>")
        else:
            text.append(f"<{part['Fn::Sub']}>")
    return separator.join(text)


def test_the_pipeline_carries_the_checked_definition_without_experiments(template):
    _, pipeline = one(template, "AWS::SageMaker::Pipeline")
    props = pipeline["Properties"]
    assert props["PipelineName"] == lab.PIPELINE_NAME
    definition = json.loads(placeholder_json(props["PipelineDefinition"]["PipelineDefinitionBody"]))
    assert definition["Version"] == "2020-12-01" and "PipelineExperimentConfig" not in definition
    assert [s["Name"] for s in definition["Steps"]] == [lab.PREPROCESS_STEP, lab.TRAIN_STEP, lab.EVALUATE_STEP,
                                                       lab.CONDITION_STEP]
    roles = {s["Name"]: s["Arguments"]["RoleArn"] for s in definition["Steps"][:3]}
    assert roles == {lab.PREPROCESS_STEP: f"<{role_named(template, 'SageMaker processing: raw')}.Arn>",
                     lab.TRAIN_STEP: f"<{role_named(template, 'SageMaker training')}.Arn>",
                     lab.EVALUATE_STEP: f"<{role_named(template, 'SageMaker processing: the model')}.Arn>"}
    code = definition["Steps"][0]["Arguments"]["ProcessingInputs"][1]["S3Input"]["S3Uri"]
    entrypoint = definition["Steps"][0]["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
    assert re.fullmatch(r"<s3://cdk-[a-z0-9]+-assets-\$\{AWS::AccountId\}-us-east-1/[0-9a-f]{64}\.py>", code)
    assert entrypoint[1].endswith(code.rsplit("/", 1)[1][:-1])  # runs the script it downloads
    assert props["RoleArn"] == {"Fn::GetAtt": [role_named(template, "SageMaker Pipelines"), "Arn"]}


def test_pass_role_goes_only_to_the_step_and_model_roles_and_only_to_sagemaker(template):
    passes = {}
    for policy in resources_of(template, "AWS::IAM::ManagedPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "iam:PassRole" in as_list(statement["Action"]):
                assert as_list(statement["Action"]) == ["iam:PassRole"]
                service = statement["Condition"]["StringEquals"]["iam:PassedToService"]
                if service != "sagemaker.amazonaws.com":
                    # the expiry's: the CDK role to CloudFormation, its invoker role to a retry schedule
                    assert service in {"cloudformation.amazonaws.com", "scheduler.amazonaws.com"}
                    continue
                (owner,) = [r["Ref"] for r in policy["Properties"]["Roles"]]
                passes[owner] = sorted(r["Fn::GetAtt"][0] for r in as_list(statement["Resource"]))
    steps = sorted(role_named(template, d) for d in ("SageMaker processing: raw", "SageMaker training",
                                                     "SageMaker processing: the model"))
    deploy = [k for k, r in resources_of(template, "AWS::IAM::Role").items()
              if r["Properties"].get("Description", "").startswith("Lambda: Serves each approved")]
    assert passes == {role_named(template, "SageMaker Pipelines"): steps,
                      deploy[0]: [role_named(template, "SageMaker hosting")]}


def test_sagemaker_roles_trust_sagemaker_of_this_account_only(template):
    for role_id in [k for k, r in resources_of(template, "AWS::IAM::Role").items()
                    if r["Properties"].get("Description", "").startswith("SageMaker")]:
        (statement,) = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_each_step_role_writes_only_its_own_outputs(template):
    def written(role_id):
        return sorted(r["Fn::Join"][1][-1] for s in statements_of(template, role_id) if "s3:PutObject" in s["Action"]
                      for r in as_list(s["Resource"]))

    assert written(role_named(template, "SageMaker processing: raw")) == ["/runs/*/preprocess/*"]
    assert written(role_named(template, "SageMaker training")) == ["/checkpoints/*", "/runs/*/model/*"]
    assert written(role_named(template, "SageMaker processing: the model")) == ["/runs/*/evaluation/*"]
    assert written(role_named(template, "SageMaker hosting")) == []
    assert written(role_named(template, "SageMaker Pipelines")) == []


def approval(status, group=lab.MODEL_PACKAGE_GROUP, detail_type="SageMaker Model Package State Change"):
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/3"
    return {"version": "0", "id": "1", "detail-type": detail_type, "source": "aws.sagemaker", "account": ACCOUNT,
            "time": "2026-01-15T12:00:00Z", "region": REGION, "resources": [arn],
            "detail": {"ModelPackageGroupName": group, "ModelPackageArn": arn, "ModelPackageVersion": 3,
                       "ModelApprovalStatus": status, "ModelPackageStatus": "Completed"}}


def test_the_rule_fires_only_for_approvals_in_the_labs_group(template):
    _, rule = one(template, "AWS::Events::Rule")
    pattern = EventPattern.load(json.dumps(resolve(rule["Properties"]["EventPattern"])))
    assert pattern.matches_event(approval("Approved"))
    assert not pattern.matches_event(approval("Rejected"))
    assert not pattern.matches_event(approval("PendingManualApproval"))
    assert not pattern.matches_event(approval("Approved", group="someone-elses-models"))
    assert not pattern.matches_event(approval("Approved", detail_type="SageMaker Model State Change"))


def test_the_rule_invokes_the_deploy_function_with_retries_and_a_kms_dead_letter_queue(template):
    _, rule = one(template, "AWS::Events::Rule")
    (target,) = rule["Properties"]["Targets"]
    function_id = target["Arn"]["Fn::GetAtt"][0]
    queue_id, queue = one(template, "AWS::SQS::Queue")
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    (key_id,) = resources_of(template, "AWS::KMS::Key")
    assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    function = template["Resources"][function_id]["Properties"]
    assert function["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    environment = function["Environment"]["Variables"]
    assert json.loads(environment["LAB_TAGS"]) == {"lab": "ml-pipeline", "profile": "sandbox", "owner": "tester"}
    assert environment["MODEL_ROLE_ARN"] == {"Fn::GetAtt": [role_named(template, "SageMaker hosting"), "Arn"]}
    assert (environment["ENDPOINT_NAME"], environment["MODEL_PACKAGE_GROUP"]) == (lab.ENDPOINT_NAME,
                                                                                   lab.MODEL_PACKAGE_GROUP)


def test_the_teardown_runs_before_the_pipeline_group_and_model_role_are_deleted(template):
    _teardown_id, teardown = one(template, "Custom::PipelineTeardown")
    depends = set(teardown["DependsOn"])
    for resource_type in ("AWS::SageMaker::Pipeline", "AWS::SageMaker::ModelPackageGroup"):
        assert set(resources_of(template, resource_type)) <= depends
    assert role_named(template, "SageMaker hosting") in depends
    assert teardown["Properties"]["PipelineName"] == lab.PIPELINE_NAME
    stops = [s for s in statements_of(template, role_named(template, "Lambda: Clears"))
             if "sagemaker:StopPipelineExecution" in as_list(s["Action"])]
    assert stops and all("pipeline/mlref-ml-pipeline/execution/*" in json.dumps(s["Resource"]) for s in stops)


def test_buckets_log_groups_and_the_queue_use_the_lab_key_and_nothing_is_retained_in_sandbox(template):
    (key_id,) = resources_of(template, "AWS::KMS::Key")
    key = {"Fn::GetAtt": [key_id, "Arn"]}
    encrypted = [b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                 ["ServerSideEncryptionByDefault"] for b in resources_of(template, "AWS::S3::Bucket").values()]
    assert sum(e == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key} for e in encrypted) == 2  # not access logs
    assert all(g["Properties"].get("KmsKeyId") == key for g in resources_of(template, "AWS::Logs::LogGroup").values())
    for name, resource in template["Resources"].items():
        assert resource.get("DeletionPolicy", "Delete") == "Delete", name


def test_production_retains_the_buckets_and_the_key(production):
    template = production.templates["ml-pipeline"]
    retained = {r["Type"] for r in template["Resources"].values() if r.get("DeletionPolicy") == "Retain"}
    assert {"AWS::S3::Bucket", "AWS::KMS::Key"} <= retained


def test_outputs_are_what_the_practice_reads(template):
    from labs.practice.ml_pipeline.command import REQUIRED_OUTPUTS

    assert set(REQUIRED_OUTPUTS) <= set(template["Outputs"]) == set(lab.OUTPUTS)


def test_a_region_without_the_images_stops_synth_with_one_line():
    from catalog.base import ConfigError

    with pytest.raises(ConfigError, match=r"no SageMaker scikit-learn/XGBoost image is known for region xx-east-9"):
        lab.parse({}, "xx-east-9")
    assert lab.parse({}, "eu-west-1") == lab.MlPipelineOptions()


def test_idle_cost_is_the_key_alone_and_a_run_costs_more_with_a_bigger_endpoint():
    from dataclasses import replace

    from catalog.prices import per_month_as_hourly

    small, large = lab.MlPipelineOptions(), replace(lab.MlPipelineOptions(), serverless_memory_mb=6144)
    assert lab.cost(small).idle_per_hour == per_month_as_hourly("kms_key_month")
    assert lab.cost(large).per_practice_run > lab.cost(small).per_practice_run > 0
    with pytest.raises(ValueError, match="serverless_memory_mb"):
        replace(small, serverless_memory_mb=3000)


# -- what each job's role may touch, against where its inputs and outputs resolve at run time --------

def s3_grants(template, role_id):
    """(reads, writes, lists): object patterns as '<Bucket>/pattern' and list patterns as '<Bucket>/prefix'."""
    reads, writes, lists = [], [], []
    for statement in statements_of(template, role_id):
        actions = as_list(statement["Action"])
        for resource in as_list(statement["Resource"]):
            parts = resource.get("Fn::Join", [None, [None]])[1] if isinstance(resource, dict) else [None]
            if isinstance(parts[0], dict) and "Fn::GetAtt" in parts[0]:  # <bucket ARN>/<objects>
                bucket, pattern = parts[0]["Fn::GetAtt"][0], parts[1]
                if "s3:GetObject" in actions:
                    reads.append(f"<{bucket}>{pattern}")
                if "s3:PutObject" in actions:
                    writes.append(f"<{bucket}>{pattern}")
            elif isinstance(resource, dict) and "Fn::GetAtt" in resource and "s3:ListBucket" in actions:
                prefixes = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix", ["*"])
                lists += [f"<{resource['Fn::GetAtt'][0]}>/{p}" for p in as_list(prefixes)]
    return reads, writes, lists


def run_time_uri(value, steps):
    """An S3 URI of the definition as it resolves in execution EXEC (the practice's InputDataUri)."""
    if isinstance(value, str):
        return value
    if "Std:Join" in value:
        return value["Std:Join"]["On"].join(run_time_uri(v, steps) for v in value["Std:Join"]["Values"])
    path = value["Get"]
    if path == "Execution.PipelineExecutionId":
        return "EXEC"
    if path == f"Parameters.{lab.INPUT_PARAMETER}":
        return "s3://<RawDataBucket46CFA8FB>/raw/RUN/"
    if path.endswith("ModelArtifacts.S3ModelArtifacts"):
        training = steps[lab.TRAIN_STEP]["Arguments"]["OutputDataConfig"]["S3OutputPath"]
        return run_time_uri(training, steps) + "/JOB/output/model.tar.gz"
    step, output = re.match(r"Steps\.(\w+)\.ProcessingOutputConfig\.Outputs\['(\w+)'\]", path).groups()
    (found,) = [o for o in steps[step]["Arguments"]["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == output]
    return run_time_uri(found["S3Output"]["S3Uri"], steps)


def test_every_job_role_can_list_and_read_its_inputs_and_write_its_outputs_as_they_resolve(template):
    from fnmatch import fnmatchcase

    _, pipeline = one(template, "AWS::SageMaker::Pipeline")
    definition = json.loads(placeholder_json(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]))
    steps = {s["Name"]: s for s in definition["Steps"]}
    checked = 0
    for step in steps.values():
        if step["Type"] not in {"Processing", "Training"}:
            continue
        args = step["Arguments"]
        reads, writes, lists = s3_grants(template, args["RoleArn"][1:-5])  # "<Role.Arn>" -> Role
        if step["Type"] == "Processing":
            inputs = [i["S3Input"]["S3Uri"] for i in args["ProcessingInputs"] if i["InputName"] != "code"]
            outputs = [o["S3Output"]["S3Uri"] for o in args["ProcessingOutputConfig"]["Outputs"]]
        else:
            inputs = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in args["InputDataConfig"]]
            outputs = [args["OutputDataConfig"]["S3OutputPath"], args["CheckpointConfig"]["S3Uri"]]
        for uri in inputs:
            listed = run_time_uri(uri, steps).removeprefix("s3://")  # SageMaker lists the key prefix as given
            assert any(fnmatchcase(listed, p) for p in lists), f"{step['Name']} cannot list {listed}"
            assert any(fnmatchcase(f"{listed.rstrip('/')}/part.csv", p) or fnmatchcase(listed, p) for p in reads), \
                f"{step['Name']} cannot read {listed}"
            checked += 1
        for uri in outputs:
            written = run_time_uri(uri, steps).removeprefix("s3://").rstrip("/") + "/file"
            assert any(fnmatchcase(written, p) for p in writes), f"{step['Name']} cannot write {written}"
            checked += 1
    assert checked == 12  # preprocessing 1 in, 4 out; training 2 in, 2 out; evaluation 2 in, 1 out
