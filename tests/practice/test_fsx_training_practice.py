"""The fsx-training practice step: the CreateTrainingJob requests it sends (validated
against botocore's SageMaker model), the Service Quotas preflight, the job script and
the measurements, and a whole run against moto (S3, IAM, SageMaker training jobs)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import boto3
import botocore.httpsession
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from moto import mock_aws

from labs import cli
from labs.errors import LabError
from labs.practice import fsx_plan as plan
from labs.practice import fsx_quota as fq
from labs.practice import fsx_training as ft
from labs.practice.fsx_job import train as job_script

REGION = "us-east-1"


@pytest.fixture(scope="module")
def requests():
    """The dry run's requests, built with every HTTP send forbidden."""
    original = botocore.httpsession.URLLib3Session.send

    def forbidden(self, request):
        raise AssertionError(f"the dry run sent {request.url}")

    botocore.httpsession.URLLib3Session.send = forbidden
    try:
        return dict(ft.dry_run_requests(REGION))
    finally:
        botocore.httpsession.URLLib3Session.send = original


def by_title(requests, start):
    return next(request for title, request in requests.items() if title.startswith(start))


def sagemaker_client():
    return boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x").client("sagemaker")


def accepted_by_the_api_model(request) -> bool:
    client = sagemaker_client()
    with Stubber(client) as stub:
        stub.add_response("create_training_job", {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/x"},
                          request)
        client.create_training_job(**request)
        stub.assert_no_pending_responses()
    return True


@pytest.mark.parametrize("title", ["FSx for Lustre training job", "EFS variant: seed job", "EFS variant: training job"])
def test_every_dry_run_request_is_a_valid_create_training_job(requests, title):
    assert accepted_by_the_api_model(by_title(requests, title))


def test_the_model_check_would_catch_a_malformed_request(requests):
    broken = dict(by_title(requests, "FSx"))
    del broken["RoleArn"]
    with pytest.raises(ParamValidationError):
        accepted_by_the_api_model(broken)


def test_the_fsx_job_reads_lustre_at_the_mount_name_from_the_file_systems_subnet(requests):
    request = by_title(requests, "FSx")
    channel = next(c for c in request["InputDataConfig"] if c["ChannelName"] == "train")
    source = channel["DataSource"]["FileSystemDataSource"]
    assert source == {"FileSystemId": plan.PLACEHOLDER_OUTPUTS["FileSystemId"], "FileSystemType": "FSxLustre",
                      "FileSystemAccessMode": "ro", "DirectoryPath": f"/<MountName>/train/{ft.DATASET}"}
    assert request["VpcConfig"] == {"Subnets": [plan.PLACEHOLDER_OUTPUTS["SubnetId"]],
                                    "SecurityGroupIds": [plan.PLACEHOLDER_OUTPUTS["SecurityGroupId"]]}
    assert request["ResourceConfig"]["InstanceType"] == "ml.p3.2xlarge"
    assert request["RoleArn"] == plan.PLACEHOLDER_OUTPUTS["ExecutionRoleArn"]


def test_managed_spot_waits_at_least_as_long_as_it_runs_and_checkpoints_to_the_output_bucket(requests):
    request = by_title(requests, "FSx")
    assert request["EnableManagedSpotTraining"] is True
    stopping = request["StoppingCondition"]
    assert stopping["MaxWaitTimeInSeconds"] >= stopping["MaxRuntimeInSeconds"]
    assert request["CheckpointConfig"]["S3Uri"].startswith(f"s3://{plan.PLACEHOLDER_OUTPUTS['OutputBucketName']}/checkpoints/")
    assert request["OutputDataConfig"]["KmsKeyId"] == plan.PLACEHOLDER_OUTPUTS["KeyArn"]


def test_code_is_staged_in_the_lab_output_bucket_not_a_default_sagemaker_bucket(requests):
    for request in requests.values():
        for channel in request["InputDataConfig"]:
            uri = channel["DataSource"].get("S3DataSource", {}).get("S3Uri", "")
            if channel["ChannelName"] in {"code", "sm_drivers"}:
                assert uri.startswith(f"s3://{plan.PLACEHOLDER_OUTPUTS['OutputBucketName']}/code/")


def test_the_efs_variant_seeds_efs_from_s3_then_reads_it(requests):
    seed, train = by_title(requests, "EFS variant: seed"), by_title(requests, "EFS variant: training")
    channels = {c["ChannelName"]: c["DataSource"] for c in seed["InputDataConfig"]}
    assert channels["source"]["S3DataSource"]["S3Uri"] == f"s3://<DataBucketName>/train/{ft.DATASET}/"
    assert channels["efs"]["FileSystemDataSource"] == {
        "FileSystemId": "fs-0123456789abcdef0", "FileSystemType": "EFS", "FileSystemAccessMode": "rw",
        "DirectoryPath": "/"}
    assert "EnableManagedSpotTraining" not in seed or seed["EnableManagedSpotTraining"] is False
    assert "MaxWaitTimeInSeconds" not in seed["StoppingCondition"]
    assert seed["ResourceConfig"]["InstanceType"] == ft.SEED_INSTANCE_TYPE
    read = next(c for c in train["InputDataConfig"] if c["ChannelName"] == "train")["DataSource"]
    assert read["FileSystemDataSource"]["FileSystemType"] == "EFS"
    assert read["FileSystemDataSource"]["DirectoryPath"] == f"/train/{ft.DATASET}"


def test_on_demand_drops_spot_max_wait_and_checkpoints():
    request = dict(ft.dry_run_requests(REGION, spot=False))
    fsx = by_title(request, "FSx")
    assert accepted_by_the_api_model(fsx)
    assert not fsx.get("EnableManagedSpotTraining") and "MaxWaitTimeInSeconds" not in fsx["StoppingCondition"]
    assert "CheckpointConfig" not in fsx


@pytest.mark.parametrize("instance_type, encrypted_volume", [
    ("ml.p3.2xlarge", True), ("ml.g5.xlarge", False), ("ml.g4dn.xlarge", False), ("ml.m5.large", True),
])
def test_volume_key_only_where_sagemaker_accepts_it(instance_type, encrypted_volume):
    assert plan.has_local_storage(instance_type) is not encrypted_volume
    fsx = by_title(dict(ft.dry_run_requests(REGION, instance_type)), "FSx")
    assert ("VolumeKmsKeyId" in fsx["ResourceConfig"]) is encrypted_volume
    assert fsx["AlgorithmSpecification"]["TrainingImage"].endswith(
        "-gpu-py312" if instance_type.startswith(("ml.p", "ml.g")) else "-cpu-py312")


def test_dry_run_from_the_command_line_prints_json(capsys):
    assert cli.main(["practice", "fsx-training", "--dry-run", "--region", REGION]) == 0
    printed = capsys.readouterr().out
    blocks = [b for b in printed.split("# CreateTrainingJob: ")[1:]]
    assert len(blocks) == 3
    first = json.loads(blocks[0].split("\n", 1)[1])
    assert first["InputDataConfig"][0]["DataSource"]["FileSystemDataSource"]["FileSystemType"] == "FSxLustre"


def test_a_bad_instance_type_is_refused_in_one_line(capsys):
    assert cli.main(["practice", "fsx-training", "--dry-run", "--instance-type", "p3.2xlarge"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "ml.p3.2xlarge" in error


# -- Service Quotas --------------------------------------------------------------------

def quotas_client():
    return boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x").client("service-quotas")


def quota(name, value):
    return {"ServiceCode": "sagemaker", "QuotaCode": "L-1", "QuotaName": name, "Value": value}


def test_a_spot_quota_of_zero_stops_with_the_quota_name_and_alternatives():
    client = quotas_client()
    with Stubber(client) as stub:
        stub.add_response("list_service_quotas", {"Quotas": [
            quota("ml.p3.2xlarge for training job usage", 2.0),
            quota("ml.p3.2xlarge for spot training job usage", 0.0)]}, {"ServiceCode": "sagemaker"})
        with pytest.raises(LabError) as refused:
            fq.check_quota(client, "ml.p3.2xlarge", spot=True, region=REGION, out=lambda _: None)
    message = str(refused.value)
    assert '"ml.p3.2xlarge for spot training job usage" is 0 in us-east-1' in message
    assert "ml.g5.xlarge" in message and "ml.g4dn.xlarge" in message and "\n" not in message


def test_a_quota_found_only_among_the_defaults_is_used():
    client, lines = quotas_client(), []
    with Stubber(client) as stub:
        stub.add_response("list_service_quotas", {"Quotas": []}, {"ServiceCode": "sagemaker"})
        stub.add_response("list_aws_default_service_quotas", {"Quotas": [
            quota("ml.g5.xlarge for training job usage", 0.0),
            quota("ml.g5.xlarge for spot training job usage", 4.0)]}, {"ServiceCode": "sagemaker"})
        assert fq.check_quota(client, "ml.g5.xlarge", spot=True, region=REGION, out=lines.append) == 4.0
        with pytest.raises(LabError, match="on-demand|training job usage\" is 0"):
            stub.add_response("list_service_quotas", {"Quotas": []}, {"ServiceCode": "sagemaker"})
            stub.add_response("list_aws_default_service_quotas", {"Quotas": [
                quota("ml.g5.xlarge for training job usage", 0.0)]}, {"ServiceCode": "sagemaker"})
            fq.check_quota(client, "ml.g5.xlarge", spot=False, region=REGION, out=lines.append)
    assert lines == ['quota: "ml.g5.xlarge for spot training job usage" = 4; '
                     '"ml.g5.xlarge for training job usage" = 0']


def test_an_instance_type_without_a_training_quota_is_not_offered():
    client = quotas_client()
    with Stubber(client) as stub:
        stub.add_response("list_service_quotas", {"Quotas": []}, {"ServiceCode": "sagemaker"})
        stub.add_response("list_aws_default_service_quotas", {"Quotas": []}, {"ServiceCode": "sagemaker"})
        with pytest.raises(LabError, match="not offered for training"):
            fq.check_quota(client, "ml.p3.2xlarge", spot=True, region=REGION)


def test_a_denied_quota_api_warns_and_goes_on():
    client, lines = quotas_client(), []
    with Stubber(client) as stub:
        stub.add_client_error("list_service_quotas", "AccessDeniedException", "not authorized",
                              expected_params={"ServiceCode": "sagemaker"})
        assert fq.check_quota(client, "ml.p3.2xlarge", spot=True, region=REGION, out=lines.append) is None
    assert len(lines) == 1 and "AccessDeniedException" in lines[0] and "ml.g5.xlarge" in lines[0]


# -- the job script ----------------------------------------------------------------------

def test_the_job_reads_everything_reports_and_resumes_from_its_checkpoint(tmp_path):
    data = tmp_path / "data"
    for name, body in ft.training_set(shards=3, rows_per_shard=50).items():
        (data / "sub").mkdir(parents=True, exist_ok=True)
        (data / "sub" / name).write_bytes(body)
    lines, ticks = [], iter([100.0, 102.5])
    result = job_script.read_all(data, tmp_path / "ckpt", tmp_path / "model", out=lines.append,
                                 clock=lambda: next(ticks))
    assert result["files"] == 3 and result["bytes"] == sum(p.stat().st_size for p in (data / "sub").iterdir())
    assert lines[0] == "MLREF_READ_START epoch=100.000" and ft.READ_DONE.search(lines[1])
    assert "read_seconds=2.5;" in lines[2]
    assert json.loads((tmp_path / "model" / "summary.json").read_text())["sha256"] == result["sha256"]
    again = []
    job_script.read_all(data, tmp_path / "ckpt", tmp_path / "model", out=again.append)
    assert again[0].startswith("MLREF_RESUMED from checkpoint: 3 files")


def test_the_job_fails_clearly_when_the_file_system_is_empty(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no files under"):
        job_script.read_all(tmp_path / "empty", tmp_path / "c", tmp_path / "m")


def test_the_seed_job_copies_the_s3_channel_into_efs_as_a_process(tmp_path):
    source, efs = tmp_path / "source", tmp_path / "efs"
    source.mkdir()
    (source / "part-0000.csv").write_text("label,f0\n1,0.5\n")
    run = subprocess.run([sys.executable, str(plan.JOB_DIR / "train.py"), "--mode", "seed", "--target",
                          f"train/{ft.DATASET}"], capture_output=True, text=True, check=True,
                         env={"SM_CHANNEL_SOURCE": str(source), "SM_CHANNEL_EFS": str(efs), "PATH": "/usr/bin"})
    assert (efs / "train" / ft.DATASET / "part-0000.csv").read_text() == "label,f0\n1,0.5\n"
    assert "MLREF_SEEDED files=1" in run.stdout


def test_the_training_set_is_deterministic_and_a_few_mb_per_shard():
    first, second = ft.training_set(shards=2), ft.training_set(shards=2)
    assert first == second and 2_000_000 < len(first["part-0000.csv"]) < 6_000_000
    header = first["part-0000.csv"].split(b"\n", 1)[0].decode()
    assert header.startswith("label,f0,") and header.endswith(",f15")


# -- measuring -----------------------------------------------------------------------------

def description(name="mlref-fsx-read-1", status="Completed", billable=180, training=600):
    created = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    return {"TrainingJobName": name, "TrainingJobStatus": status, "CreationTime": created,
            "BillableTimeInSeconds": billable, "TrainingTimeInSeconds": training,
            "SecondaryStatusTransitions": [
                {"Status": "Starting", "StartTime": created, "EndTime": created + timedelta(seconds=200)},
                {"Status": "Training", "StartTime": created + timedelta(seconds=200)}]}


def test_a_report_measures_the_start_of_reading_from_job_creation():
    created = description()["CreationTime"].timestamp()
    report = ft.job_report(description(), [
        f"MLREF_READ_START epoch={created + 245.5:.3f}",
        "MLREF_READ_DONE files=16 bytes=64000000 seconds=32.0 mb_per_s=2.0 device='Tesla V100-SXM2-16GB'",
    ])
    assert report.start_to_read_seconds == pytest.approx(245.5, abs=0.01)
    assert report.read_seconds == 32.0 and report.megabytes == 64.0
    line = report.line()
    assert "started reading data 246 s after CreateTrainingJob" in line
    assert "read 64.0 MB in 32.00 s (2.0 MB/s)" in line and "spot saved 70%" in line and "Starting 200 s" in line
    second = ft.job_report(description(), ["MLREF_READ_DONE files=16 bytes=64000000 seconds=4.0 mb_per_s=16.0"])
    assert ft.comparison(report, second).startswith("the second job read the same data 8.0x as fast")


def test_a_failed_job_reports_its_reason():
    failed = dict(description(status="Failed"), FailureReason="CapacityError: Unable to provision")
    assert ft.job_report(failed, []).line() == "mlref-fsx-read-1: Failed: CapacityError: Unable to provision"


# -- a whole run against moto ----------------------------------------------------------------

class Session(boto3.Session):
    """moto for S3, IAM, SageMaker; Stubber for Service Quotas."""

    def __init__(self, quotas):
        super().__init__(region_name=REGION)
        self._quotas = quotas

    def client(self, name, *args, **kwargs):
        return self._quotas if name == "service-quotas" else super().client(name, *args, **kwargs)


def test_a_whole_run_uploads_the_set_runs_two_tagged_jobs_and_compares_them(monkeypatch):
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        s3 = session.client("s3")
        s3.create_bucket(Bucket="data-b")
        s3.create_bucket(Bucket="out-b")
        key = session.client("kms").create_key()["KeyMetadata"]["Arn"]
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
        role = session.client("iam").create_role(RoleName="lab-training",
                                                 AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        outputs = dict(plan.PLACEHOLDER_OUTPUTS, DataBucketName="data-b", OutputBucketName="out-b", KeyArn=key,
                       ExecutionRoleArn=role, DirectoryRoot="/abcd1234", MountName="abcd1234",
                       SubnetId="subnet-0a1b2c3d", SecurityGroupId="sg-0a1b2c3d", InstanceType="ml.g5.xlarge")
        stack_tags = {"lab": "fsx-training", "profile": "sandbox", "owner": "tester", "expires-at": "x"}
        monkeypatch.setattr(ft, "deployed_stack", lambda *_: (outputs, stack_tags))
        reads = iter([30.0, 3.0])

        def logs(_client, name):
            created = session.client("sagemaker").describe_training_job(TrainingJobName=name)["CreationTime"]
            return [f"MLREF_READ_START epoch={created.timestamp() + 200:.3f}",
                    f"MLREF_READ_DONE files=2 bytes=6000000 seconds={next(reads)} mb_per_s=1.0"]

        monkeypatch.setattr(ft, "job_log_messages", logs)
        names = iter(f"mlref-fsx-read-{n}" for n in range(1, 3))
        monkeypatch.setattr("sagemaker.train.model_trainer._get_unique_name", lambda base, **_: next(names))
        quotas = quotas_client()
        with Stubber(quotas) as stub:
            stub.add_response("list_service_quotas", {"Quotas": [
                quota("ml.g5.xlarge for training job usage", 1.0),
                quota("ml.g5.xlarge for spot training job usage", 1.0)]}, {"ServiceCode": "sagemaker"})
            lines = []
            parts = ft.training_set(shards=2, rows_per_shard=100)
            reports = ft.FsxTrainingPractice(Session(quotas), out=lines.append, sleep=lambda _: None,
                                             parts=parts).run()
        uploaded = s3.list_objects_v2(Bucket="data-b", Prefix=f"train/{ft.DATASET}/")["Contents"]
        assert sorted(o["Key"].rsplit("/", 1)[1] for o in uploaded) == sorted(parts)
        head = s3.head_object(Bucket="data-b", Key=uploaded[0]["Key"])
        assert head["ServerSideEncryption"] == "aws:kms"
        sagemaker = session.client("sagemaker")
        jobs = [sagemaker.describe_training_job(TrainingJobName=f"mlref-fsx-read-{n}") for n in (1, 2)]
        tags = sagemaker.list_tags(ResourceArn=jobs[0]["TrainingJobArn"])["Tags"]
    assert [r.status for r in reports] == ["Completed", "Completed"]
    assert {t["Key"]: t["Value"] for t in tags} == {"lab": "fsx-training", "profile": "sandbox", "owner": "tester"}
    assert jobs[0]["CheckpointConfig"]["S3Uri"] != jobs[1]["CheckpointConfig"]["S3Uri"]
    assert "VolumeKmsKeyId" not in jobs[0]["ResourceConfig"]
    assert lines[0] == ('quota: "ml.g5.xlarge for spot training job usage" = 1; '
                        '"ml.g5.xlarge for training job usage" = 1')
    assert any("2 uploaded, 0 already there" in line for line in lines)
    assert lines[-1].startswith("the second job read the same data 10.0x as fast as the first")
    assert any("started reading data 200 s after CreateTrainingJob" in line for line in lines)
