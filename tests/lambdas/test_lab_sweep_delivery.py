"""The sweep's delivery-pipeline kinds (lambdas/lab_sweep/sweep_delivery.py): a tagged CodePipeline's runs
are stopped before it is deleted, the deleted stack's builds are stopped, and a bucket a trail writes to
is never emptied. moto where it has the API, botocore Stubber where it has not."""

from __future__ import annotations

from lambdas.lab_sweep.sweep import Sweeper
from tests.lambdas.test_lab_sweep import LAB, QUIET, bucket, bucket_names, tag_list
from tests.lambdas.test_lab_sweep_kinds import ACCOUNT, REGION, stubbed

PIPELINE = f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:mlref-data-lake"
RUN = "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
FILTERS = {"TagFilters": [{"Key": "lab", "Values": ["data-lake"]}], "ResourceTypeFilters": ["codepipeline"]}


def tagged_pipeline(stub, tags=LAB) -> None:
    stub.add_response("get_resources", {"ResourceTagMappingList": [{"ResourceARN": PIPELINE, "Tags": tag_list(tags)}]},
                      FILTERS)


def held_by_no_stack(stub, physical_id: str) -> None:
    stub.add_client_error("describe_stack_resources", "ValidationError", f"Stack for {physical_id} does not exist",
                          expected_params={"PhysicalResourceId": physical_id})


def sweeper(session, kinds, **clients):
    return Sweeper(session, "data-lake", kinds=kinds, clients=clients, **QUIET)


def one_run_sweep(session, status: str):
    """A sweep of one tagged pipeline that no stack holds, whose one run is ``status``: the sweeper, the
    CodePipeline stub (queue what follows) and every stub (each must be used up)."""
    tagging, tags_stub = stubbed("resourcegroupstaggingapi")
    codepipeline, stub = stubbed("codepipeline")
    cloudformation, cfn = stubbed("cloudformation")
    tagged_pipeline(tags_stub)
    held_by_no_stack(cfn, "mlref-data-lake")
    stub.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": [
        {"pipelineExecutionId": RUN, "status": status}]}, {"pipelineName": "mlref-data-lake"})
    for s in (tags_stub, stub, cfn):
        s.activate()
    run = sweeper(session, ["code_pipelines"], resourcegroupstaggingapi=tagging, codepipeline=codepipeline,
                  cloudformation=cloudformation)
    return run, stub, (tags_stub, stub, cfn)


def test_a_tagged_pipelines_runs_are_abandoned_and_it_waits_for_them(session):
    run, stub, stubs = one_run_sweep(session, "InProgress")
    stub.add_response("stop_pipeline_execution", {"pipelineExecutionId": RUN}, {
        "pipelineName": "mlref-data-lake", "pipelineExecutionId": RUN, "abandon": True,
        "reason": "the lab's stack is deleted: swept by the mlref janitor"})
    run.code_pipelines()
    for s in stubs:
        s.assert_no_pending_responses()
    assert [i.identifier for i in run.report.stopped] == [RUN]
    assert [i.identifier for i in run.report.waiting] == ["mlref-data-lake"]


def test_a_tagged_pipeline_with_no_run_in_progress_is_deleted_and_read_back(session):
    run, stub, stubs = one_run_sweep(session, "Succeeded")
    stub.add_response("delete_pipeline", {}, {"name": "mlref-data-lake"})
    stub.add_client_error("get_pipeline", "PipelineNotFoundException", "gone",
                          expected_params={"name": "mlref-data-lake"})
    run.code_pipelines()
    for s in stubs:
        s.assert_no_pending_responses()
    assert [i.identifier for i in run.report.deleted] == ["mlref-data-lake"]


def test_a_pipeline_tagged_for_production_is_never_touched(session):
    tagging, tags_stub = stubbed("resourcegroupstaggingapi")
    codepipeline, stub = stubbed("codepipeline")
    tagged_pipeline(tags_stub, {"lab": "data-lake", "profile": "production"})
    for s in (tags_stub, stub):
        s.activate()
    run = sweeper(session, ["code_pipelines"], resourcegroupstaggingapi=tagging, codepipeline=codepipeline)
    run.code_pipelines()  # no ListPipelineExecutions, no stop, no delete
    stub.assert_no_pending_responses()
    assert run.report.deleted == [] and run.report.stopped == []


def test_running_builds_of_the_deleted_stacks_projects_are_stopped_and_no_others(session):
    codebuild, stub = stubbed("codebuild")
    ours, theirs = "mlref-data-lake-build:1a2b", "someone-elses-build:3c4d"
    stub.add_response("list_builds", {"ids": [ours, theirs, "mlref-data-lake-build:0f0f"]},
                      {"sortOrder": "DESCENDING"})
    done = "mlref-data-lake-build:0f0f"
    stub.add_response("batch_get_builds", {"builds": [{"id": ours, "buildStatus": "IN_PROGRESS"},
                                                      {"id": done, "buildStatus": "SUCCEEDED"}]}, {"ids": [ours, done]})
    stub.add_response("stop_build", {"build": {"id": ours}}, {"id": ours})
    stub.activate()
    run = sweeper(session, ["builds"], codebuild=codebuild)
    run._stack_resources = [{"ResourceType": "AWS::CodeBuild::Project", "PhysicalResourceId": "mlref-data-lake-build",
                             "ResourceStatus": "DELETE_COMPLETE"}]
    run.builds()
    stub.assert_no_pending_responses()
    assert [i.identifier for i in run.report.stopped] == [ours]


def test_a_bucket_a_trail_still_writes_to_waits_for_the_trail(session):
    bucket(session, "mlref-data-lake-trail", LAB)
    session.client("cloudtrail").create_trail(Name="mlref-data-lake-audit", S3BucketName="mlref-data-lake-trail")
    report = Sweeper(session, "data-lake", kinds=["buckets"], **QUIET).run()
    assert "mlref-data-lake-trail" in bucket_names(session) and report.deleted == []
    assert [(i.identifier, i.detail) for i in report.waiting] == [
        ("mlref-data-lake-trail", "trail mlref-data-lake-audit writes to it: emptied once the trail is gone")]
    session.client("cloudtrail").delete_trail(Name="mlref-data-lake-audit")
    assert Sweeper(session, "data-lake", kinds=["buckets"], **QUIET).run().deleted[0].identifier == \
        "mlref-data-lake-trail"
