"""The sweep's kinds for the coming labs: SageMaker endpoints, pipelines, registry and monitoring,
Glue job logs, EMR Serverless. moto where it has the API, botocore Stubber (which checks every
request against the service model) where it has not."""

from __future__ import annotations

from datetime import datetime

import boto3
from botocore.stub import ANY, Stubber

from lambdas.lab_sweep.sweep import EMR_SYNC_RULE, Sweeper
from tests.lambdas.conftest import REGION
from tests.lambdas.test_lab_sweep import LAB, OTHER, QUIET, live_stacks, tag_list

ACCOUNT = "123456789012"
WHEN = datetime(2026, 1, 1)


def arn(resource: str, service: str = "sagemaker") -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def stubbed(service: str):
    client = boto3.client(service, region_name=REGION)
    return client, Stubber(client)


def tags(stub, resource_arn, labels):
    stub.add_response("list_tags", {"Tags": tag_list(labels)}, {"ResourceArn": resource_arn})


def gone(stub, operation, **params):
    """The read-back after a delete: SageMaker says it does not exist."""
    stub.add_client_error(operation, "ValidationException", f"{next(iter(params.values()))} does not exist",
                          expected_params=params)


def run(session, kinds, **clients):
    return Sweeper(session, "data-lake", kinds=kinds, clients=clients, **QUIET).run()


def test_model_packages_go_before_their_group_and_a_failed_package_keeps_the_group(session):
    sagemaker, stub = stubbed("sagemaker")
    group, theirs = arn("model-package-group/churn"), arn("model-package-group/theirs")
    summary = {"CreationTime": WHEN, "ModelPackageGroupStatus": "Completed"}
    packages = [arn(f"model-package/churn/{version}") for version in (1, 2)]
    for failing in (False, True):
        stub.add_response("list_model_package_groups", {"ModelPackageGroupSummaryList": [
            {"ModelPackageGroupName": "churn", "ModelPackageGroupArn": group, **summary},
            {"ModelPackageGroupName": "theirs", "ModelPackageGroupArn": theirs, **summary}]}, {})
        tags(stub, group, LAB)
        stub.add_response("list_model_packages", {"ModelPackageSummaryList": [
            {"ModelPackageArn": p, "CreationTime": WHEN, "ModelPackageStatus": "Completed"} for p in packages]},
            {"ModelPackageGroupName": "churn"})
        stub.add_response("delete_model_package", {}, {"ModelPackageName": packages[0]})
        gone(stub, "describe_model_package", ModelPackageName=packages[0])
        if failing:
            stub.add_client_error("delete_model_package", "ConflictException", "in use by an endpoint",
                                  expected_params={"ModelPackageName": packages[1]})
        else:
            stub.add_response("delete_model_package", {}, {"ModelPackageName": packages[1]})
            gone(stub, "describe_model_package", ModelPackageName=packages[1])
            stub.add_response("delete_model_package_group", {}, {"ModelPackageGroupName": "churn"})
            gone(stub, "describe_model_package_group", ModelPackageGroupName="churn")
        tags(stub, theirs, OTHER)
    stub.activate()

    first = run(session, ["model_packages"], sagemaker=sagemaker)
    assert [str(i) for i in first.deleted] == ["model package churn/1", "model package churn/2",
                                               "model package group churn"]
    second = run(session, ["model_packages"], sagemaker=sagemaker)
    stub.assert_no_pending_responses()  # the group was not deleted after its package failed
    assert [str(i) for i in second.failed] == ["model package churn/2 (ConflictException: in use by an endpoint)"]


def test_a_running_pipeline_is_stopped_first_and_deleted_next_round(session):
    sagemaker, stub = stubbed("sagemaker")
    pipeline = arn("pipeline/train")
    running, done = arn("pipeline/train/execution/run1"), arn("pipeline/train/execution/run0")
    for statuses in (("Executing", "Succeeded"), ("Stopped", "Succeeded")):
        stub.add_response("list_pipelines",
                          {"PipelineSummaries": [{"PipelineName": "train", "PipelineArn": pipeline}]}, {})
        tags(stub, pipeline, LAB)
        stub.add_response("list_pipeline_executions", {"PipelineExecutionSummaries": [
            {"PipelineExecutionArn": running, "PipelineExecutionStatus": statuses[0], "StartTime": WHEN},
            {"PipelineExecutionArn": done, "PipelineExecutionStatus": statuses[1], "StartTime": WHEN}]},
            {"PipelineName": "train"})
        if statuses[0] == "Executing":
            stub.add_response("stop_pipeline_execution", {"PipelineExecutionArn": running},
                              {"PipelineExecutionArn": running, "ClientRequestToken": ANY})
        else:
            stub.add_response("delete_pipeline", {"PipelineArn": pipeline},
                              {"PipelineName": "train", "ClientRequestToken": ANY})
            stub.add_client_error("describe_pipeline", "ResourceNotFound", "Pipeline train does not exist",
                                  expected_params={"PipelineName": "train"})
    stub.activate()

    first = run(session, ["pipelines"], sagemaker=sagemaker)
    assert first.deleted == [] and [str(i) for i in first.stopped] == ["pipeline execution run1 (of train)"]
    assert [str(i) for i in first.waiting] == [
        "pipeline train (executions stopping: DeletePipeline fails while an execution runs)"]
    second = run(session, ["pipelines"], sagemaker=sagemaker)
    stub.assert_no_pending_responses()
    assert [str(i) for i in second.deleted] == ["pipeline train"] and second.clean


def test_endpoints_configs_models_and_their_log_groups_go_and_others_stay(session):
    sagemaker, logs = session.client("sagemaker"), session.client("logs")
    for name, labels in (("churn", LAB), ("theirs", None)):
        extra = {"Tags": tag_list(labels)} if labels else {}
        sagemaker.create_model(ModelName=f"{name}-model", ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/sm",
                               PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgb:1"},
                               **extra)
        sagemaker.create_endpoint_config(EndpointConfigName=f"{name}-config", ProductionVariants=[{
            "VariantName": "a", "ModelName": f"{name}-model", "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}], **extra)
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config", **extra)
        logs.create_log_group(logGroupName=f"/aws/sagemaker/Endpoints/{name}")

    report = run(session, ["endpoints", "endpoint_configs", "models", "log_groups"])

    assert {str(i) for i in report.deleted} == {"endpoint churn", "endpoint config churn-config", "model churn-model",
                                                "log group /aws/sagemaker/Endpoints/churn"}
    assert [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]] == ["theirs"]
    assert [m["ModelName"] for m in sagemaker.list_models()["Models"]] == ["theirs-model"]
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["/aws/sagemaker/Endpoints/theirs"]


def test_a_busy_endpoint_or_pending_schedule_waits_and_a_refused_delete_is_reported(session):
    sagemaker, stub = stubbed("sagemaker")
    schedules = [("hourly", "Pending"), ("daily", "Scheduled")]
    stub.add_response("list_monitoring_schedules", {"MonitoringScheduleSummaries": [
        {"MonitoringScheduleName": name, "MonitoringScheduleArn": arn(f"monitoring-schedule/{name}"),
         "CreationTime": WHEN, "LastModifiedTime": WHEN, "MonitoringScheduleStatus": status}
        for name, status in schedules]}, {})
    tags(stub, arn("monitoring-schedule/hourly"), LAB)
    tags(stub, arn("monitoring-schedule/daily"), LAB)
    stub.add_client_error("delete_monitoring_schedule", "ResourceInUse", "an execution is running",
                          expected_params={"MonitoringScheduleName": "daily"})
    stub.add_response("list_endpoints", {"Endpoints": [{
        "EndpointName": "churn", "EndpointArn": arn("endpoint/churn"), "EndpointStatus": "Creating",
        "CreationTime": WHEN, "LastModifiedTime": WHEN}]}, {})
    tags(stub, arn("endpoint/churn"), LAB)
    stub.activate()  # no DeleteMonitoringSchedule for hourly, no DeleteEndpoint

    report = run(session, ["monitoring_schedules", "endpoints"], sagemaker=sagemaker)

    stub.assert_no_pending_responses()
    assert [str(i) for i in report.waiting] == [
        "monitoring schedule hourly (Pending: DeleteMonitoringSchedule fails until it is scheduled)",
        "endpoint churn (Creating: DeleteEndpoint fails until it settles)"]
    assert [str(i) for i in report.failed] == ["monitoring schedule daily (ResourceInUse: an execution is running)"]
    assert not report.clean


def test_a_running_training_job_is_stopped(session):
    sagemaker, stub = stubbed("sagemaker")
    job = arn("training-job/fit")
    stub.add_response("list_training_jobs", {"TrainingJobSummaries": [{
        "TrainingJobName": "fit", "TrainingJobArn": job, "CreationTime": WHEN, "TrainingJobStatus": "InProgress"}]}, {})
    tags(stub, job, LAB)
    stub.add_response("stop_training_job", {}, {"TrainingJobName": "fit"})
    stub.activate()
    report = run(session, ["training_jobs"], sagemaker=sagemaker)
    stub.assert_no_pending_responses()
    assert report.deleted == [] and [str(i) for i in report.stopped] == ["training job fit"]
    assert [str(i) for i in report.waiting] == ["training job fit (InProgress: its logs and output go once it has "
                                                "stopped)"] and not report.clean  # stopping is not gone


def glue_stub(runs):
    glue, stub = stubbed("glue")
    stub.add_response("list_jobs", {"JobNames": ["etl"]}, {"Tags": {"lab": "data-lake"}})
    stub.add_response("get_tags", {"Tags": LAB}, {"ResourceArn": arn("job/etl", "glue")})
    stub.add_response("get_job_runs", {"JobRuns": [
        {"Id": run_id, "JobName": "etl", "JobRunState": state, "LogGroupName": "/aws-glue/jobs/"}
        for run_id, state in runs]}, {"JobName": "etl"})
    return glue, stub


def test_glue_job_run_streams_go_from_the_shared_groups_and_other_jobs_streams_stay(session):
    logs = session.client("logs")
    for group in ("/aws-glue/jobs/output", "/aws-glue/jobs/error"):
        logs.create_log_group(logGroupName=group)
        for stream in ("jr_lab1", "jr_lab1-driver", "jr_someone_else"):
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
    glue, stub = glue_stub([("jr_lab1", "SUCCEEDED")])
    stub.add_response("delete_job", {"JobName": "etl"}, {"JobName": "etl"})
    stub.add_client_error("get_job", "EntityNotFoundException", "job etl not found", expected_params={"JobName": "etl"})
    stub.activate()

    report = run(session, ["glue_jobs"], glue=glue)

    stub.assert_no_pending_responses()
    for group in ("/aws-glue/jobs/output", "/aws-glue/jobs/error"):
        assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]] == [
            "jr_someone_else"]
    assert {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]} == {
        "/aws-glue/jobs/output", "/aws-glue/jobs/error"}  # shared groups are never deleted
    assert str(report.deleted[-1]) == "glue job etl" and len(report.deleted) == 5


def test_a_running_glue_job_is_stopped_and_its_logs_wait(session):
    logs = session.client("logs")
    logs.create_log_group(logGroupName="/aws-glue/jobs/output")
    logs.create_log_stream(logGroupName="/aws-glue/jobs/output", logStreamName="jr_lab2")
    glue, stub = glue_stub([("jr_lab2", "RUNNING")])
    stub.add_response("batch_stop_job_run", {"SuccessfulSubmissions": [{"JobName": "etl", "JobRunId": "jr_lab2"}]},
                      {"JobName": "etl", "JobRunIds": ["jr_lab2"]})
    stub.activate()  # no DeleteJob
    report = run(session, ["glue_jobs"], glue=glue)
    stub.assert_no_pending_responses()
    assert report.deleted == [] and [str(i) for i in report.stopped] == ["glue job runs etl: jr_lab2"]
    assert [i.identifier for i in report.waiting] == ["etl"]
    streams = logs.describe_log_streams(logGroupName="/aws-glue/jobs/output")["logStreams"]
    assert streams[0]["logStreamName"] == "jr_lab2"


def deleted_stack(resources):
    """A CloudFormation client stubbed for a lab stack deleted with ``resources`` (type, physical id)."""
    cloudformation, stub = stubbed("cloudformation")
    stack_id = arn("stack/mlref-data-lake/3", "cloudformation")
    live_stacks(stub)
    stub.add_response("list_stacks", {"StackSummaries": [{
        "StackName": "mlref-data-lake", "StackId": stack_id, "StackStatus": "DELETE_COMPLETE", "CreationTime": WHEN}]},
        {"StackStatusFilter": ["DELETE_COMPLETE"]})
    stub.add_response("list_stack_resources", {"StackResourceSummaries": [
        {"LogicalResourceId": f"R{i}", "PhysicalResourceId": pid, "ResourceType": kind,
         "ResourceStatus": "DELETE_COMPLETE", "LastUpdatedTimestamp": WHEN}
        for i, (kind, pid) in enumerate(resources)]}, {"StackName": stack_id})
    stub.activate()
    return cloudformation


def test_log_groups_named_by_the_deleted_stacks_endpoints_and_security_configurations_go(session):
    logs = session.client("logs")
    ours = ["/aws/sagemaker/Endpoints/Endpoint-AbC123", "/aws-glue/jobs-EtlRole-mlref-data-lake-logs/output",
            "/aws-glue/jobs-EtlRole-mlref-data-lake-logs/error"]
    others = ["/aws/sagemaker/Endpoints/someone-else", "/aws-glue/jobs-Role-their-config/output",
              "/aws-glue/jobs/output"]
    for group in ours + others:
        logs.create_log_group(logGroupName=group)
    cloudformation = deleted_stack([
        ("AWS::SageMaker::Endpoint", arn("endpoint/endpoint-abc123")),  # ARNs are lower case
        ("AWS::Glue::SecurityConfiguration", "mlref-data-lake-logs")])

    report = run(session, ["endpoints", "glue_jobs"], cloudformation=cloudformation)

    assert {i.identifier for i in report.deleted} == set(ours)
    assert {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]} == set(others)


def test_a_started_emr_serverless_application_is_stopped_then_deleted_and_the_shared_rule_kept(session):
    emr = session.client("emr-serverless")
    ours = emr.create_application(name="spark", releaseLabel="emr-7.5.0", type="SPARK", tags=LAB)["applicationId"]
    theirs = emr.create_application(name="theirs", releaseLabel="emr-7.5.0", type="SPARK", tags=OTHER)["applicationId"]
    assert emr.get_application(applicationId=ours)["application"]["state"] == "STARTED"
    # moto's ListJobRuns fails for an application that never ran a job (AWS lists none): run one,
    # which moto finishes at once.
    emr.start_job_run(applicationId=ours, executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/spark",
                      jobDriver={"sparkSubmit": {"entryPoint": "s3://mlref-data-lake-code/job.py"}})
    session.client("events").put_rule(Name=EMR_SYNC_RULE, EventPattern='{"source": ["aws.emr-serverless"]}')

    report = run(session, ["emr_applications"])

    assert [str(i) for i in report.stopped] == [f"EMR Serverless application {ours} (stopped)"]
    assert [str(i) for i in report.deleted] == [f"EMR Serverless application {ours} (spark)"]
    assert emr.get_application(applicationId=ours)["application"]["state"] == "TERMINATED"
    assert emr.get_application(applicationId=theirs)["application"]["state"] == "STARTED"
    assert [i.identifier for i in report.kept] == [EMR_SYNC_RULE] and report.clean
    assert session.client("events").describe_rule(Name=EMR_SYNC_RULE)["Name"] == EMR_SYNC_RULE


def test_an_application_that_does_not_stop_in_time_waits_for_the_next_round(session):
    emr, stub = stubbed("emr-serverless")
    app = {"applicationId": "00abc", "name": "spark", "arn": arn("/applications/00abc", "emr-serverless"),
           "releaseLabel": "emr-7.5.0", "type": "SPARK", "createdAt": WHEN, "updatedAt": WHEN, "tags": LAB}
    stub.add_response("list_applications", {"applications": [
        {"id": "00abc", "name": "spark", "arn": app["arn"], "releaseLabel": "emr-7.5.0", "type": "SPARK",
         "state": "STARTED", "createdAt": WHEN, "updatedAt": WHEN}]}, {"states": ANY})
    stub.add_response("get_application", {"application": {**app, "state": "STARTED"}}, {"applicationId": "00abc"})
    stub.add_response("list_job_runs", {"jobRuns": [{
        "applicationId": "00abc", "id": "run1", "arn": app["arn"] + "/jobruns/run1",
        "createdBy": "arn:aws:iam::123456789012:role/practice",
        "createdAt": WHEN, "updatedAt": WHEN, "executionRole": "arn:aws:iam::123456789012:role/r", "state": "RUNNING",
        "stateDetails": "running", "releaseLabel": "emr-7.5.0"}]}, {"applicationId": "00abc", "states": ANY})
    stub.add_response("cancel_job_run", {"applicationId": "00abc", "jobRunId": "run1"},
                      {"applicationId": "00abc", "jobRunId": "run1"})
    stub.add_response("stop_application", {}, {"applicationId": "00abc"})
    for _ in range(25):
        stub.add_response("get_application", {"application": {**app, "state": "STOPPING"}}, {"applicationId": "00abc"})
    stub.activate()
    now, slept = [0.0], []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    report = Sweeper(session, "data-lake", kinds=["emr_applications"], clients={"emr-serverless": emr},
                     sleep=sleep, clock=lambda: now[0], **QUIET).run()

    assert sum(slept) <= 120 and len(slept) >= 20  # bounded by the clock, not by a loop count
    assert [str(i) for i in report.waiting] == [
        "EMR Serverless application 00abc (STOPPING: not stopped within 120 s; deleted next round)"]
    assert "EMR Serverless job run 00abc/run1 (cancelled)" in [str(i) for i in report.stopped]


def test_a_running_transform_job_is_stopped_and_waited_for(session):
    sagemaker, stub = stubbed("sagemaker")
    job = arn("transform-job/mlref-inference-20261201-120000-abcd")
    stub.add_response("list_transform_jobs", {"TransformJobSummaries": [{
        "TransformJobName": "mlref-inference-20261201-120000-abcd", "TransformJobArn": job, "CreationTime": WHEN,
        "TransformJobStatus": "InProgress"}]}, {})
    tags(stub, job, LAB)
    stub.add_response("stop_transform_job", {}, {"TransformJobName": "mlref-inference-20261201-120000-abcd"})
    stub.activate()
    report = run(session, ["transform_jobs"], sagemaker=sagemaker)
    stub.assert_no_pending_responses()
    assert [str(i) for i in report.stopped] == ["transform job mlref-inference-20261201-120000-abcd"]
    assert [str(i) for i in report.waiting] == ["transform job mlref-inference-20261201-120000-abcd (InProgress: its "
                                                "logs and output go once it has stopped)"] and not report.clean
