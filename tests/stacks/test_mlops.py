"""The mlops lab's template: the CodePipeline's stages, actions and variables, the buildspecs the suite also
runs, each role's reach, the audit trail and its bucket and key policies, the event patterns (moto's
EventBridge matcher), the variants (GitHub source, serverless production), the teardown's ordering."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from catalog import mlops as lab
from labs.templates.resolved import TemplateValues
from tests.conftest import resources_of, shared_syntheses
from tests.stacks.test_ml_pipeline import as_list, statements_of


@pytest.fixture(scope="module")
def template(sandbox):
    return sandbox.templates["mlops"]


@pytest.fixture(scope="module")
def variant_templates(tmp_path_factory):
    names = ["sandbox-mlops-github", "production-mlops-serverless"]
    return {name: synth.templates["mlops"] for name, synth in shared_syntheses(tmp_path_factory, names).items()}


def values(template) -> TemplateValues:
    return TemplateValues(template, stack_name=lab.STACK_NAME)


def one(template, resource_type):
    (found,) = resources_of(template, resource_type).items()
    return found


def logical(template, prefix: str) -> str:
    (found,) = [k for k in template["Resources"] if k.startswith(prefix) and k[len(prefix):].isalnum()
                and len(k) == len(prefix) + 8]
    return found


def stages(template) -> list[dict]:
    return one(template, "AWS::CodePipeline::Pipeline")[1]["Properties"]["Stages"]


def actions(template) -> dict[str, dict]:
    return {stage["Name"]: stage["Actions"][0] for stage in stages(template)}


def allowed(template, role_prefix: str) -> set[tuple[str, str]]:
    """(action, resource as JSON) pairs the role's policies allow."""
    found = set()
    for statement in statements_of(template, logical(template, role_prefix)):
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                found.add((action, json.dumps(values(template).resolve(resource))))
    return found


# -- the pipeline --------------------------------------------------------------------------------

def test_a_v2_queued_pipeline_with_the_seven_stages_in_order(template):
    props = one(template, "AWS::CodePipeline::Pipeline")[1]["Properties"]
    assert (props["Name"], props["PipelineType"], props["ExecutionMode"]) == (lab.CODE_PIPELINE, "V2", "QUEUED")
    assert [(s["Name"], s["Actions"][0]["Name"]) for s in props["Stages"]] == list(lab.STAGES)
    providers = [(a["ActionTypeId"]["Category"], a["ActionTypeId"]["Provider"]) for a in actions(template).values()]
    assert providers == [("Source", "S3"), ("Build", "CodeBuild"), ("Invoke", "Lambda"), ("Approval", "Manual"),
                         ("Invoke", "Lambda"), ("Test", "CodeBuild"), ("Invoke", "Lambda")]
    assert props["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"
    assert props["Variables"] == [{"Name": lab.RUN_REASON_VARIABLE, "DefaultValue": lab.CODE_CHANGE,
                                   "Description": "why this run started: a code change, drift or the schedule"}]


def test_each_action_reads_what_the_one_before_it_emits(template):
    found = actions(template)
    source = found["Source"]["Configuration"]
    assert (source["S3ObjectKey"], source["PollForSourceChanges"]) == (lab.SOURCE_KEY, "false")
    build_env = json.loads(found["BuildAndTest"]["Configuration"]["EnvironmentVariables"])
    assert build_env == [{"name": "PIPELINE_EXECUTION_ID", "value": "#{codepipeline.PipelineExecutionId}",
                          "type": "PLAINTEXT"}]
    train = json.loads(found["Train"]["Configuration"]["UserParameters"])
    assert train["parameters"] == {"CodeUri": "#{Build.CODE_URI}", "RunReason": "#{variables.RunReason}",
                                   "CodePipelineExecutionId": "#{codepipeline.PipelineExecutionId}"}
    assert train["sourceRevision"] == "#{Src.VersionId}"
    for stage, target in (("Staging", "staging"), ("Production", "production")):
        deploy = json.loads(found[stage]["Configuration"]["UserParameters"])
        assert deploy == {"target": target, "packageArn": "#{Train.ModelPackageArn}",
                          "version": "#{Train.ModelPackageVersion}",
                          "executionId": "#{codepipeline.PipelineExecutionId}"}
    integration = json.loads(found["IntegrationTest"]["Configuration"]["EnvironmentVariables"])
    assert integration[0]["value"] == "#{Train.HoldoutUri}"
    approve = found["Approve"]
    assert approve["TimeoutInMinutes"] == lab.APPROVAL_TIMEOUT_MINUTES
    assert "#{Train.ModelPackageVersion}" in approve["Configuration"]["CustomData"]
    assert "NotificationArn" in approve["Configuration"]  # the sandbox synthesis has an alert_email


def test_the_buildspecs_are_the_catalogs_commands_on_a_pinned_python(template):
    projects = {p["Properties"]["Name"]: p["Properties"]
                for p in resources_of(template, "AWS::CodeBuild::Project").values()}
    build = json.loads(projects[lab.BUILD_PROJECT]["Source"]["BuildSpec"])
    assert build["phases"]["build"]["commands"] == list(lab.BUILD_COMMANDS)
    assert build["phases"]["install"]["runtime-versions"] == {"python": "3.11"}
    assert build["env"]["exported-variables"] == [lab.CODE_URI_VARIABLE]
    integration = json.loads(projects[lab.INTEGRATION_PROJECT]["Source"]["BuildSpec"])
    assert integration["phases"]["build"]["commands"] == list(lab.INTEGRATION_COMMANDS)
    for props in projects.values():
        env = props["Environment"]
        assert (env["Image"], env["ComputeType"], env["PrivilegedMode"]) == (
            "aws/codebuild/standard:7.0", "BUILD_GENERAL1_SMALL", False)
        assert props["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": logical(template, "BuildsLogs")}
        assert props["LogsConfig"]["S3Logs"] == {"Status": "DISABLED"} and "EncryptionKey" in props


# -- who may do what -----------------------------------------------------------------------------

def test_only_the_integration_test_invokes_an_endpoint_and_only_staging(template):
    invoked = {resource for action, resource in allowed(template, "BuildsIntegrationRole")
               if action == "sagemaker:InvokeEndpoint"}
    assert invoked == {json.dumps("arn:aws:sagemaker:us-east-1:111122223333:endpoint/mlref-mlops-staging")}
    assert not any(action.startswith("sagemaker:Invoke") for action, _ in allowed(template, "BuildsBuildRole"))


def test_the_pipeline_role_names_every_action(template):
    granted = allowed(template, "DeliveryRole")
    assert all("*" not in action for action, _ in granted)
    assert {a for a, _ in granted} >= {"codebuild:StartBuild", "lambda:InvokeFunction", "sns:Publish", "s3:PutObject"}
    assert ("lambda:ListFunctions", '"*"') in granted  # no resource type


def test_the_retrain_function_may_only_start_the_pipeline(template):
    codepipeline = {a for a, _ in allowed(template, "RetrainingStartExecutionRole") if a.startswith("codepipeline")}
    assert codepipeline == {"codepipeline:StartPipelineExecution"}


def test_the_source_trigger_role_is_assumable_by_eventbridge_of_this_account_only(template):
    trust = template["Resources"][logical(template, "DeliveryTriggerRole")]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


# -- the audit trail -----------------------------------------------------------------------------

def test_the_trail_is_encrypted_validated_and_records_write_management_events_here(template):
    props = one(template, "AWS::CloudTrail::Trail")[1]["Properties"]
    assert props["TrailName"] == lab.TRAIL and props["EnableLogFileValidation"] is True
    assert (props["IsMultiRegionTrail"], props["IncludeGlobalServiceEvents"]) == (False, False)
    assert props["EventSelectors"] == [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]
    assert props["KMSKeyId"] == {"Fn::GetAtt": [logical(template, "MlopsKey"), "Arn"]}
    assert "CloudWatchLogsLogGroupArn" in props and "CloudWatchLogsRoleArn" in props


def test_the_trail_bucket_admits_this_trail_alone(template):
    bucket = logical(template, "AuditTrailBucket")
    (policy,) = [p for p in resources_of(template, "AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": bucket}]
    trail = "arn:aws:cloudtrail:us-east-1:111122223333:trail/mlref-mlops-audit"
    statements = {s.get("Sid"): values(template).resolve(s)
                  for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    write = statements["CloudTrailWritesThisTrailsLogs"]
    assert write["Condition"]["StringEquals"] == {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail}
    assert write["Resource"].endswith("/AWSLogs/111122223333/*")
    assert statements["CloudTrailReadsTheAcl"]["Condition"] == {"StringEquals": {"aws:SourceArn": trail}}


def test_the_key_lets_cloudtrail_encrypt_only_for_this_trail(template):
    key = one(template, "AWS::KMS::Key")[1]
    statements = {s.get("Sid"): values(template).resolve(s) for s in key["Properties"]["KeyPolicy"]["Statement"]}
    encrypt = statements["CloudTrailEncryptsThisTrailsLogs"]
    assert encrypt["Condition"]["StringEquals"] == {"aws:SourceArn": "arn:aws:cloudtrail:us-east-1:111122223333:"
                                                                     "trail/mlref-mlops-audit"}
    assert encrypt["Condition"]["StringLike"] == {"kms:EncryptionContext:aws:cloudtrail:arn":
                                                  "arn:aws:cloudtrail:*:111122223333:trail/*"}


def test_the_trail_bucket_is_emptied_only_after_the_trail_is_gone(template):
    bucket = logical(template, "AuditTrailBucket")
    (emptier,) = [k for k, r in resources_of(template, "Custom::S3AutoDeleteObjects").items()
                  if r["Properties"]["BucketName"] == {"Ref": bucket}]
    assert one(template, "AWS::CloudTrail::Trail")[0] in template["Resources"][emptier]["DependsOn"]


# -- event patterns ------------------------------------------------------------------------------

def pattern_of(template, rule_prefix: str) -> EventPattern:
    rule = template["Resources"][logical(template, rule_prefix)]
    return EventPattern.load(json.dumps(values(template).resolve(rule["Properties"]["EventPattern"])))


def test_a_new_source_zip_starts_the_pipeline_and_nothing_else_does(template):
    pattern = pattern_of(template, "DeliveryOnSourceChange")
    bucket = values(template).name(logical(template, "SourceBucket"))

    def created(key: str, bucket_name: str = bucket) -> dict:
        return {"source": "aws.s3", "detail-type": "Object Created",
                "detail": {"bucket": {"name": bucket_name}, "object": {"key": key}}}

    assert pattern.matches_event(created(lab.SOURCE_KEY))
    assert not pattern.matches_event(created("source/notes.txt"))
    assert not pattern.matches_event(created(lab.SOURCE_KEY, "another-bucket"))


def test_the_drift_alarm_going_into_alarm_starts_a_retraining_run(template):
    pattern = pattern_of(template, "RetrainingOnDrift")
    alarm = "arn:aws:cloudwatch:us-east-1:111122223333:alarm:mlref-mlops-drift"

    def change(state: str, resource: str = alarm) -> dict:
        return {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "resources": [resource],
                "detail": {"state": {"value": state}}}

    assert pattern.matches_event(change("ALARM"))
    assert not pattern.matches_event(change("OK"))
    assert not pattern.matches_event(change("ALARM", alarm.replace("drift", "prod-errors")))


def test_the_teardown_is_deleted_before_what_it_clears(template):
    (_, resource) = one(template, "Custom::MlopsTeardown")
    depends = set(resource["DependsOn"])
    for kind in ("AWS::CodePipeline::Pipeline", "AWS::SageMaker::Pipeline", "AWS::SageMaker::ModelPackageGroup"):
        assert set(resources_of(template, kind)) <= depends, kind
    assert set(resources_of(template, "AWS::CodeBuild::Project")) <= depends
    assert resource["Properties"]["EndpointNames"] == [lab.STAGING_ENDPOINT, lab.PRODUCTION_ENDPOINT]


def test_the_sagemaker_pipeline_reads_the_scripts_the_build_uploaded(template):
    props = one(template, "AWS::SageMaker::Pipeline")[1]["Properties"]
    body = json.dumps(props["PipelineDefinition"])
    assert props["PipelineName"] == lab.SAGEMAKER_PIPELINE
    for name in (lab.CODE_PARAMETER, lab.RUN_REASON_PARAMETER, lab.CODE_PIPELINE_EXECUTION_PARAMETER):
        assert f'\\"Name\\":\\"{name}\\"' in body
    script = '{"Std:Join":{"On":"","Values":[{"Get":"Parameters.CodeUri"},"preprocess.py"]}}'
    assert json.dumps(script)[1:-1] in body


# -- variants --------------------------------------------------------------------------------------

def test_the_github_variant_uses_the_connection_and_both_of_its_arns(variant_templates):
    template = variant_templates["sandbox-mlops-github"]
    source = actions(template)["Source"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["FullRepositoryId"] == "example/churn-model"
    assert json.loads(actions(template)["Train"]["Configuration"]["UserParameters"])["sourceRevision"] == \
        "#{Src.CommitId}"
    used = {(a, r) for a, r in allowed(template, "DeliveryRole") if a.endswith("UseConnection")}
    codestar = lab.CONNECTION_EXAMPLE.replace("codeconnections", "codestar-connections")
    assert used == {("codestar-connections:UseConnection", json.dumps(codestar)),
                    ("codeconnections:UseConnection", json.dumps(lab.CONNECTION_EXAMPLE))}
    assert not [k for k in template["Resources"] if k.startswith(("SourceBucket", "DeliveryOnSourceChange"))]
    schedule = template["Resources"][logical(template, "RetrainingOnSchedule")]["Properties"]
    assert schedule["ScheduleExpression"] == lab.DEFAULT_SCHEDULE


def test_the_serverless_variant_rolls_out_all_at_once_without_retraining(variant_templates):
    template = variant_templates["production-mlops-serverless"]
    (deploy,) = [f for k, f in resources_of(template, "AWS::Lambda::Function").items()
                 if k.startswith("ActionsDeploy")]
    env = deploy["Properties"]["Environment"]["Variables"]
    assert (env["PRODUCTION_KIND"], env["STRATEGY"]) == ("serverless", "all-at-once")
    assert not [k for k in template["Resources"] if k.startswith("Retraining")]
