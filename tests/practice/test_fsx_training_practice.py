"""The fsx-training practice step: one read job per input mode, side by side.

The CreateTrainingJob requests it sends (each checked against botocore's SageMaker model),
its flags, the Service Quotas checks, the job script, the timing extraction from status
sequences and log lines shaped as DescribeTrainingJob and CloudWatch Logs return them, the
table and the claim line on fixed inputs, the cost estimate, and a whole run against moto."""

from __future__ import annotations

import inspect
import io
import itertools
import json
import subprocess
import sys
import zlib
from datetime import UTC, datetime, timedelta

import boto3
import botocore.httpsession
import pytest
from botocore.exceptions import ParamValidationError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from catalog import fsx_training as contract
from catalog.prices import price
from jobs.fsx_training import train as job_script
from labs.cli import main as cli
from labs.engine.errors import LabError
from labs.practice.common import polling
from labs.practice.common.steps import announced_steps
from labs.practice.fsx_training import command as ft
from labs.practice.fsx_training import data as data_module
from labs.practice.fsx_training import plan
from labs.practice.fsx_training import quota as fq
from labs.practice.fsx_training import report as fr

REGION = "us-east-1"
TITLES = ("data set: the job that writes it", "data set, EFS variant", "S3 File mode", "S3 FastFile mode",
          "FSx for Lustre", "EFS variant: EFS")


def client(service):
    return boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x").client(service)


@pytest.fixture(scope="module")
def requests():
    """The dry run's requests (the SDK is imported once), built with every HTTP send forbidden."""
    original = botocore.httpsession.URLLib3Session.send

    def forbidden(self, request):
        raise AssertionError(f"the dry run sent {request.url}")

    botocore.httpsession.URLLib3Session.send = forbidden
    try:
        return dict(plan.dry_run_requests(REGION))
    finally:
        botocore.httpsession.URLLib3Session.send = original


@pytest.fixture(scope="module")
def sagemaker():
    return client("sagemaker")


def by_title(requests, start):
    (request,) = [request for title, request in requests.items() if title.startswith(start)]
    return request


def accepted_by_the_api_model(sagemaker, request) -> bool:
    with Stubber(sagemaker) as stub:
        stub.add_response("create_training_job", {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/x"},
                          request)
        sagemaker.create_training_job(**request)
        stub.assert_no_pending_responses()
    return True


def channel(request, name):
    return next(c for c in request["InputDataConfig"] if c["ChannelName"] == name)


# -- the dry run -------------------------------------------------------------------------

def test_the_dry_run_has_one_request_per_mode_and_the_data_set_jobs(requests, sagemaker):
    assert len(requests) == len(TITLES)
    for title in TITLES:
        assert accepted_by_the_api_model(sagemaker, by_title(requests, title))


def test_the_model_check_would_catch_a_malformed_request(requests, sagemaker):
    broken = dict(by_title(requests, "FSx"))
    del broken["RoleArn"]
    with pytest.raises(ParamValidationError):
        accepted_by_the_api_model(sagemaker, broken)


@pytest.mark.parametrize("title, mode", [("S3 File mode", "File"), ("S3 FastFile mode", "FastFile")])
def test_the_s3_modes_read_the_set_from_the_data_bucket_through_the_vpc(requests, title, mode):
    request = by_title(requests, title)
    train = channel(request, "train")
    assert train["InputMode"] == mode
    assert train["DataSource"]["S3DataSource"] == {"S3DataType": "S3Prefix",
                                                   "S3DataDistributionType": "FullyReplicated",
                                                   "S3Uri": "s3://<DataBucketName>/train/random-4gib/"}
    assert request["VpcConfig"] == {"Subnets": ["subnet-<SubnetId>"], "SecurityGroupIds": ["sg-<SecurityGroupId>"]}
    assert channel(request, "code")["InputMode"] == "File"


def test_the_fsx_job_reads_this_runs_cold_copy_at_the_mount_name(requests):
    request = by_title(requests, "FSx")
    source = channel(request, "train")["DataSource"]["FileSystemDataSource"]
    assert source == {"FileSystemId": "fs-0123456789abcdef0", "FileSystemType": "FSxLustre",
                      "FileSystemAccessMode": "ro", "DirectoryPath": "/<MountName>/train/cold/<run>/random-4gib"}
    assert request["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert request["ResourceConfig"]["InstanceType"] == "ml.p3.2xlarge"


def test_the_efs_job_reads_the_set_where_the_data_set_job_copied_it(requests):
    read = channel(by_title(requests, "EFS variant: EFS"), "train")["DataSource"]["FileSystemDataSource"]
    assert read == {"FileSystemId": "fs-0fedcba9876543210", "FileSystemType": "EFS", "FileSystemAccessMode": "ro",
                    "DirectoryPath": "/train/random-4gib"}
    prepare = plan.prepare_plan(plan.EFS_PLACEHOLDERS, plan.data_set(plan.EFS_PLACEHOLDERS, 4), run_id="r", tags={})
    assert prepare.command == ("python train.py --mode prepare --gib 4 --efs-target train/random-4gib "
                               "--efs-id fs-0fedcba9876543210")


def test_the_data_set_job_writes_through_its_checkpoints_on_demand(requests):
    fsx, efs = by_title(requests, "data set: the job"), by_title(requests, "data set, EFS variant")
    for request in (fsx, efs):
        assert request["CheckpointConfig"] == {"S3Uri": "s3://<DataBucketName>/train/random-4gib/",
                                               "LocalPath": "/opt/ml/checkpoints"}
        assert not request.get("EnableManagedSpotTraining")
        assert "MaxWaitTimeInSeconds" not in request["StoppingCondition"]
        assert request["ResourceConfig"]["InstanceType"] == contract.SEED_INSTANCE_TYPE
    assert {c["ChannelName"] for c in fsx["InputDataConfig"]} == {"code", "sm_drivers"}
    assert channel(efs, "efs")["DataSource"]["FileSystemDataSource"]["FileSystemAccessMode"] == "rw"


def test_managed_spot_waits_at_least_as_long_as_it_runs_and_checkpoints_to_the_output_bucket(requests):
    for title in ("S3 File", "S3 FastFile", "FSx", "EFS variant: EFS"):
        request = by_title(requests, title)
        assert request["EnableManagedSpotTraining"] is True
        stopping = request["StoppingCondition"]
        assert stopping["MaxWaitTimeInSeconds"] >= stopping["MaxRuntimeInSeconds"]
        assert request["CheckpointConfig"]["S3Uri"].startswith("s3://<OutputBucketName>/checkpoints/<run>/")
        assert request["OutputDataConfig"]["KmsKeyId"] == plan.PLACEHOLDER_OUTPUTS[contract.KEY]
        assert request["ResourceConfig"]["VolumeSizeInGB"] == 30


def test_code_is_staged_in_the_lab_output_bucket_not_a_default_sagemaker_bucket(requests):
    for request in requests.values():
        for name in ("code", "sm_drivers"):
            assert channel(request, name)["DataSource"]["S3DataSource"]["S3Uri"].startswith(
                "s3://<OutputBucketName>/code/")


def test_on_demand_a_larger_set_and_another_type_change_the_requests_and_the_estimate(sagemaker):
    lines = []
    practice = ft.FsxTrainingPractice(None, dry_run=True, out=lines.append, modes="fsx", on_demand=True,
                                      dataset_gib=16, instance_type="ml.g5.xlarge")
    (_, fsx), = practice.print_dry_run()[1:]
    assert accepted_by_the_api_model(sagemaker, fsx)
    assert not fsx.get("EnableManagedSpotTraining") and "MaxWaitTimeInSeconds" not in fsx["StoppingCondition"]
    assert "CheckpointConfig" not in fsx and fsx["ResourceConfig"]["VolumeSizeInGB"] == 42
    assert channel(fsx, "train")["DataSource"]["FileSystemDataSource"]["DirectoryPath"].endswith("random-16gib")
    options = contract.FsxTrainingOptions(instance_type="ml.g5.xlarge")
    total = contract.run_cost(options, modes=("fsx",), spot=False, dataset_gib=16)
    assert f"#   total: ~${total:.2f}; assumes 5 min per job around the reading and 100 MB/s" in lines
    assert "#   FSx for Lustre, repeated run: ml.g5.xlarge on demand, ~7.7 billable min, " \
           f"~${contract.job_cost('ml.g5.xlarge', 5 + 16 * 1024 / 100 / 60, spot=False):.3f}" in lines
    assert not any("efs variant" in line for line in lines)  # no EFS row asked for


@pytest.mark.parametrize("instance_type, encrypted_volume", [
    ("ml.p3.2xlarge", True), ("ml.g5.xlarge", False), ("ml.g4dn.xlarge", False), ("ml.m5.large", True),
])
def test_volume_key_only_where_sagemaker_accepts_it(instance_type, encrypted_volume):
    assert plan.has_local_storage(instance_type) is not encrypted_volume
    fsx = plan.dry_run_requests(REGION, instance_type, modes=("fsx",))[1][1]
    assert ("VolumeKmsKeyId" in fsx["ResourceConfig"]) is encrypted_volume
    assert fsx["AlgorithmSpecification"]["TrainingImage"].endswith(
        "-gpu-py312" if instance_type.startswith(("ml.p", "ml.g")) else "-cpu-py312")


def test_dry_run_from_the_command_line_prints_every_request_and_the_estimate(capsys):
    assert cli.main(["practice", "fsx-training", "--dry-run", "--region", REGION]) == 0
    printed = capsys.readouterr().out
    blocks = printed.split("# sagemaker CreateTrainingJob: ")[1:]
    assert [block.split("\n", 1)[0].split(" (")[0].split(":")[0] for block in blocks] == [
        "data set", "data set, EFS variant", "S3 File mode", "S3 FastFile mode", "FSx for Lustre", "EFS variant"]
    first = json.loads(blocks[2].split("\n", 1)[1].split("\n# ")[0])
    assert channel(first, "train")["InputMode"] == "File"
    fsx_total = contract.run_cost(contract.FsxTrainingOptions())
    assert f"#   total: ~${fsx_total:.2f} (spot" in printed
    efs_writes = price("efs_elastic_write_gb") * 4 * 1024**3 / 1e9
    assert f"(of it EFS Elastic Throughput ~${efs_writes:.3f})" in printed


def test_a_bad_instance_type_is_refused_in_one_line(capsys):
    assert cli.main(["practice", "fsx-training", "--dry-run", "--instance-type", "p3.2xlarge"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "ml.p3.2xlarge" in error


# -- flags -------------------------------------------------------------------------------

def test_every_contract_flag_is_a_practice_argument_with_the_same_default():
    parameters = inspect.signature(ft.FsxTrainingPractice).parameters
    for flag in contract.CONTRACT.practice_flags:
        assert flag.name in parameters
        assert parameters[flag.name].default == flag.default, flag.name
    assert {f.name for f in contract.CONTRACT.practice_flags} == {"modes", "dataset_gib", "instance_type",
                                                                   "on_demand", "yes"}


@pytest.mark.parametrize("text, expected", [
    (None, None), ("fsx, file", ("file", "fsx")), ("EFS", ("efs",)), ("fastfile,fastfile", ("fastfile",)),
])
def test_modes_come_back_in_table_order(text, expected):
    assert ft.parse_modes(text) == expected


@pytest.mark.parametrize("kwargs, message", [
    ({"modes": "file,lustre"}, "--modes 'file,lustre': lustre is not an input mode"),
    ({"modes": ","}, "nothing is not an input mode"),
    ({"dataset_gib": 0}, "--dataset-gib 0 is out of range: use 1 to 16"),
    ({"dataset_gib": 17}, "--dataset-gib 17 is out of range"),
])
def test_bad_flags_are_refused_in_one_line(kwargs, message):
    with pytest.raises(LabError, match=message) as refused:
        ft.FsxTrainingPractice(None, **kwargs)
    assert "\n" not in str(refused.value)


def test_a_mode_the_deployed_variant_lacks_says_how_to_get_it():
    practice = ft.FsxTrainingPractice(None, modes="file,efs", ask=lambda _: True)
    with pytest.raises(LabError, match=r"--modes efs: the deployed lab uses fsx; redeploy with "
                                       r"`labs deploy fsx-training -c training_source=efs`"):
        practice.modes_for(contract.FsxTrainingOptions())
    efs = contract.FsxTrainingOptions(source=contract.TrainingSource.EFS)
    assert ft.FsxTrainingPractice(None).modes_for(efs) == ("file", "fastfile", "efs")


# -- Service Quotas --------------------------------------------------------------------

def quota(name, value):
    return {"ServiceCode": "sagemaker", "QuotaCode": "L-1", "QuotaName": name, "Value": value}


def test_a_spot_quota_of_zero_stops_with_the_quota_name_and_alternatives():
    quotas = client("service-quotas")
    with Stubber(quotas) as stub:
        stub.add_response("list_service_quotas", {"Quotas": [
            quota("ml.p3.2xlarge for training job usage", 2.0),
            quota("ml.p3.2xlarge for spot training job usage", 0.0)]}, {"ServiceCode": "sagemaker"})
        with pytest.raises(LabError) as refused:
            fq.check_quota(quotas, "ml.p3.2xlarge", spot=True, region=REGION, out=lambda _: None)
    message = str(refused.value)
    assert '"ml.p3.2xlarge for spot training job usage" is 0 in us-east-1' in message
    assert "ml.g5.xlarge" in message and "ml.g4dn.xlarge" in message and "\n" not in message


def test_a_quota_found_only_among_the_defaults_is_used():
    quotas, lines = client("service-quotas"), []
    with Stubber(quotas) as stub:
        stub.add_response("list_service_quotas", {"Quotas": []}, {"ServiceCode": "sagemaker"})
        stub.add_response("list_aws_default_service_quotas", {"Quotas": [
            quota("ml.g5.xlarge for training job usage", 0.0),
            quota("ml.g5.xlarge for spot training job usage", 4.0)]}, {"ServiceCode": "sagemaker"})
        assert fq.check_quota(quotas, "ml.g5.xlarge", spot=True, region=REGION, out=lines.append) == 4.0
        with pytest.raises(LabError, match="training job usage\" is 0"):
            stub.add_response("list_service_quotas", {"Quotas": []}, {"ServiceCode": "sagemaker"})
            stub.add_response("list_aws_default_service_quotas", {"Quotas": [
                quota("ml.g5.xlarge for training job usage", 0.0)]}, {"ServiceCode": "sagemaker"})
            fq.check_quota(quotas, "ml.g5.xlarge", spot=False, region=REGION, out=lines.append)
    assert lines == ['quota: "ml.g5.xlarge for spot training job usage" = 4; '
                     '"ml.g5.xlarge for training job usage" = 0']


def test_an_instance_type_without_a_training_quota_is_not_offered():
    quotas = client("service-quotas")
    with Stubber(quotas) as stub:
        stub.add_response("list_service_quotas", {"Quotas": []}, {"ServiceCode": "sagemaker"})
        stub.add_response("list_aws_default_service_quotas", {"Quotas": []}, {"ServiceCode": "sagemaker"})
        with pytest.raises(LabError, match="not offered for training"):
            fq.check_quota(quotas, "ml.p3.2xlarge", spot=True, region=REGION)


def test_a_denied_quota_api_warns_and_goes_on():
    quotas, lines = client("service-quotas"), []
    with Stubber(quotas) as stub:
        stub.add_client_error("list_service_quotas", "AccessDeniedException", "not authorized",
                              expected_params={"ServiceCode": "sagemaker"})
        assert fq.check_quota(quotas, "ml.p3.2xlarge", spot=True, region=REGION, out=lines.append) is None
    assert len(lines) == 1 and "AccessDeniedException" in lines[0] and "ml.g5.xlarge" in lines[0]


# -- the job script ----------------------------------------------------------------------

def shards(directory, count=3, size=4096):
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        (directory / f"part-{number:04d}.bin").write_bytes(bytes([number]) * size)
    (directory / job_script.MANIFEST).write_text("{}")


def test_the_read_job_reads_every_shard_and_resumes_after_an_interruption(tmp_path):
    data, checkpoints = tmp_path / "data", tmp_path / "ckpt"
    shards(data)
    checkpoints.mkdir()
    # the first attempt read part-0000 (4096 bytes in 2 s) before managed spot interrupted it
    (checkpoints / "progress.json").write_text(json.dumps(
        {"done": ["part-0000.bin"], "bytes": 4096, "seconds": 2.0, "attempts": 1}))
    lines, ticks = [], itertools.count(100.0, 0.5)
    result = job_script.read_all(data, checkpoints, tmp_path / "model", expected=3, out=lines.append,
                                 clock=lambda: next(ticks))
    assert lines[0] == "MLREF_RESUMED from checkpoint: 1 files already read"
    assert lines[1].startswith("MLREF_READ_START epoch=100.") and lines[1].endswith(" attempt=2")
    done = fr.READ_DONE.search(lines[2])
    assert (int(done.group(1)), int(done.group(2)), int(done.group(5))) == (3, 3 * 4096, 2)
    assert result["seconds"] == pytest.approx(2.0 + 2 * 0.5)  # the manifest is not read
    assert "read_seconds=3.0;" in lines[3]
    assert json.loads((tmp_path / "model" / "summary.json").read_text())["attempts"] == 2


def test_the_read_job_waits_a_bounded_time_for_the_file_system_to_list_the_shards(tmp_path):
    shards(tmp_path / "data", count=2)
    ticks, lines = itertools.count(0.0, 5.0), []
    with pytest.raises(SystemExit, match=r"2 of 3 shards under .* after 60 s"):
        job_script.read_all(tmp_path / "data", tmp_path / "c", tmp_path / "m", expected=3, wait_seconds=60,
                            out=lines.append, clock=lambda: next(ticks), sleep=lambda _: None)
    assert lines[0].startswith("MLREF_WAITED seconds=")


def test_the_data_set_job_writes_whole_incompressible_shards_then_the_manifest_and_keeps_them(tmp_path):
    target, efs, staging = tmp_path / "checkpoints", tmp_path / "efs" / "train" / "random-1gib", tmp_path / "stage"
    lines = []
    manifest = job_script.prepare(target, 0.001, efs=efs, efs_id="fs-1", shard_bytes=1 << 19, staging=staging,
                                  out=lines.append)
    assert manifest["shards"] == ["part-0000.bin", "part-0001.bin", "part-0002.bin"]
    assert sorted(p.name for p in target.iterdir()) == [job_script.MANIFEST, *manifest["shards"]]
    assert json.loads((efs / job_script.MANIFEST).read_text())["efs_file_system"] == "fs-1"
    body = (target / "part-0001.bin").read_bytes()
    assert len(body) == 1 << 19 and len(zlib.compress(body)) > 0.99 * len(body)
    assert (efs / "part-0001.bin").read_bytes() == body and body != (target / "part-0000.bin").read_bytes()
    assert lines[-1].startswith("MLREF_PREPARED files=3 bytes=1572864 written=3 efs_copied=3")
    job_script.prepare(target, 0.001, efs=efs, efs_id="fs-1", shard_bytes=1 << 19, staging=staging, out=lines.append)
    assert "written=0 efs_copied=0" in lines[-1]


def test_the_read_job_runs_as_a_process_on_the_train_channel(tmp_path):
    shards(tmp_path / "train", count=2)
    run = subprocess.run([sys.executable, str(plan.JOB_DIR / "train.py"), "--mode", "read", "--expect-files", "2"],
                         capture_output=True, text=True, check=True,
                         env={"SM_CHANNEL_TRAIN": str(tmp_path / "train"), "MLREF_CHECKPOINTS": str(tmp_path / "c"),
                              "SM_MODEL_DIR": str(tmp_path / "m"), "PATH": "/usr/bin"})
    assert "MLREF_READ_DONE files=2 bytes=8192" in run.stdout


# -- the data set in S3 ------------------------------------------------------------------

def test_a_set_counts_as_there_only_with_every_shard_and_its_manifest():
    s3, data = client("s3"), data_module.DataSet("b", "train/", 1)
    listing = {"Contents": [{"Key": f"train/random-1gib/{name}", "Size": data_module.SHARD_BYTES}
                            for name in data.shard_names]}
    params = {"Bucket": "b", "Prefix": "train/random-1gib/"}
    manifest = {"Bucket": "b", "Key": "train/random-1gib/_manifest.json"}
    body = json.dumps({"efs_file_system": "fs-1"}).encode()
    with Stubber(s3) as stub:
        stub.add_response("list_objects_v2", {"Contents": listing["Contents"][:3]}, params)
        assert data_module.missing_from(s3, data) == "1 of 4 shards are not at s3://b/train/random-1gib/"
        stub.add_response("list_objects_v2", listing, params)
        stub.add_client_error("get_object", "NoSuchKey", expected_params=manifest)
        assert "has no _manifest.json" in data_module.missing_from(s3, data)
        for efs_id, expected in (("fs-1", None), ("fs-2", "the set is not in EFS fs-2 yet")):
            stub.add_response("list_objects_v2", listing, params)
            stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(body), len(body))}, manifest)
            assert data_module.missing_from(s3, data, efs_id=efs_id) == expected


# -- measuring a job -----------------------------------------------------------------------

CREATED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def phases(*steps):
    """SecondaryStatusTransitions from (status, start second, end second or None)."""
    return [{"Status": status, "StartTime": CREATED + timedelta(seconds=start),
             **({"EndTime": CREATED + timedelta(seconds=end)} if end is not None else {})}
            for status, start, end in steps]


def described(name, status="Completed", billable=300, training=900, transitions=(), reason=None):
    return {"TrainingJobName": name, "TrainingJobStatus": status, "CreationTime": CREATED,
            "BillableTimeInSeconds": billable, "TrainingTimeInSeconds": training,
            "SecondaryStatusTransitions": list(transitions), **({"FailureReason": reason} if reason else {})}


def start(second, attempt=1):
    return f"MLREF_READ_START epoch={CREATED.timestamp() + second:.3f} attempt={attempt}"


def done(megabytes, seconds, attempts=1):
    return (f"MLREF_READ_DONE files=16 bytes={megabytes * 1_000_000} seconds={seconds} "
            f"mb_per_s={megabytes / seconds:.2f} attempts={attempts} device='Tesla V100-SXM2-16GB'")


FILE_MODE = phases(("Starting", 0, 90), ("Downloading", 90, 230), ("Training", 230, 290), ("Uploading", 290, 300),
                   ("Completed", 300, 300))


def test_file_mode_splits_the_wait_into_provisioning_and_download():
    report = fr.job_report(described("mlref-file-1", transitions=FILE_MODE), [start(245), done(4295, 10.0)],
                           label="S3 File", instance_type="ml.p3.2xlarge", spot=True)
    assert (report.first_byte, report.provisioning, report.download, report.after_ready) == (245, 90, 140, 155)
    assert (report.megabytes, report.read_seconds, report.mb_per_s) == (4295, 10.0, 429.5)
    assert report.cost == pytest.approx(price("sagemaker_ml_p3_2xlarge_hour") * 300 / 3600)
    line = report.line()
    assert "first byte 245 s after CreateTrainingJob" in line and "read 4295 MB in 10.0 s (430 MB/s)" in line
    assert "spot saved 67%" in line and "Downloading 140 s" in line


def test_a_job_that_failed_keeps_its_reason_and_what_it_measured():
    failed = described("mlref-fsx-first-1", status="Failed", billable=120, reason="ClientError: no files under",
                       transitions=phases(("Starting", 0, 80), ("Training", 80, 200), ("Failed", 200, 200)))
    report = fr.job_report(failed, [start(150)], label="FSx for Lustre, first run", instance_type="ml.p3.2xlarge",
                           spot=True)
    assert not report.completed and report.first_byte == 150 and report.read_seconds is None
    assert report.line() == ("FSx for Lustre, first run (mlref-fsx-first-1): Failed: ClientError: no files under")


def test_a_spot_interruption_and_resume_from_checkpoint_keep_the_first_attempts_first_byte():
    transitions = phases(("Starting", 0, 60), ("Downloading", 60, 70), ("Training", 70, 200),
                         ("Interrupted", 200, 500), ("Starting", 500, 560), ("Training", 560, 700),
                         ("Uploading", 700, 710), ("Completed", 710, 710))
    logs = [start(80), "MLREF_RESUMED from checkpoint: 9 files already read", start(580, attempt=2),
            done(4295, 30.0, attempts=2)]
    report = fr.job_report(described("mlref-fastfile-1", transitions=transitions), logs, label="S3 FastFile",
                           instance_type="ml.p3.2xlarge", spot=True)
    assert (report.first_byte, report.provisioning, report.download) == (80, 60, 10)
    assert report.interrupted and report.attempts == 2 and report.read_seconds == 30.0
    assert "interrupted, resumed from its checkpoint (2 attempts)" in report.line()
    lines = fr.table([report])
    assert lines[1].startswith("S3 FastFile *")
    assert any(line.startswith("* interrupted by managed spot") for line in lines)


def test_log_lines_come_back_in_time_order_across_a_resumed_jobs_streams():
    logs = client("logs")
    with Stubber(logs) as stub:
        stub.add_response("filter_log_events", {"events": [
            {"logStreamName": "j/algo-1-2", "timestamp": 2000, "message": start(580, attempt=2)},
            {"logStreamName": "j/algo-1-1", "timestamp": 1000, "message": start(80)}]},
            {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamNamePrefix": "j/", "filterPattern": '"MLREF_"'})
        assert ft.job_log_messages(logs, "j") == [start(80), start(580, attempt=2)]
        stub.add_client_error("filter_log_events", "ResourceNotFoundException")
        assert ft.job_log_messages(logs, "j") == []


# -- the table and the claim ---------------------------------------------------------------

def fixed_reports():
    row = {"instance_type": "ml.g5.xlarge", "spot": True, "status": "Completed", "megabytes": 4295.0,
           "provisioning": 100.0}
    return [
        fr.JobReport("S3 File", "j1", first_byte=330.0, download=150.0, read_seconds=10.0, billable_seconds=320, **row),
        fr.JobReport("S3 FastFile", "j2", first_byte=200.0, read_seconds=40.0, billable_seconds=210, **row),
        fr.JobReport("FSx for Lustre, first run", "j3", first_byte=190.0, read_seconds=43.0, billable_seconds=215,
                     waited=12.0, **row),
        fr.JobReport("FSx for Lustre, repeated run", "j4", first_byte=185.0, read_seconds=8.6, billable_seconds=180,
                     **row),
    ]


def test_the_table_on_fixed_inputs():
    g5 = price("sagemaker_ml_g5_xlarge_hour")
    assert fr.table(fixed_reports()) == [
        "input mode                    first byte  provisioning  download     read    MB/s  billable              cost",
        "S3 File                            330 s         100 s     150 s   10.0 s     430     320 s  "
        f"{f'${g5 * 320 / 3600:.3f} spot':>16}",
        "S3 FastFile                        200 s         100 s         -   40.0 s     107     210 s  "
        f"{f'${g5 * 210 / 3600:.3f} spot':>16}",
        "FSx for Lustre, first run          190 s         100 s         -   43.0 s     100     215 s  "
        f"{f'${g5 * 215 / 3600:.3f} spot':>16}",
        "FSx for Lustre, repeated run       185 s         100 s         -    8.6 s     499     180 s  "
        f"{f'${g5 * 180 / 3600:.3f} spot':>16}",
        "FSx for Lustre, first run: waited 12 s for the file system to list the new files",
        f"read jobs billed: ${g5 * (320 + 210 + 215 + 180) / 3600:.3f} (BillableTimeInSeconds at pricing/prices.toml's "
        "rates)",
    ]


def test_the_claim_line_restates_the_notes_with_the_measured_ratios():
    assert fr.claim_line(fixed_reports()) == (
        "The notes' claim, measured: FSx for Lustre skipped S3 File mode's 150 s download and reached the first byte "
        "2.6x as soon (90 s vs 230 s after the instance was ready); the repeated FSx run read the same files 5.0x "
        "as fast as the first (499 vs 100 MB/s): nothing was downloaded again; S3 FastFile, streaming, reached it "
        "2.3x as soon as File mode but reads from S3 on every run (107 MB/s).")
    efs = fr.JobReport("EFS", "j5", instance_type="ml.g5.xlarge", spot=True, status="Completed", megabytes=4295.0,
                       provisioning=100.0, first_byte=215.0, read_seconds=20.0)
    file_and_efs = [fixed_reports()[0], efs]
    assert fr.claim_line(file_and_efs) == ("The notes' claim, measured: EFS reached the first byte 2.0x as soon as "
                                           "S3 File mode without moving any data (115 s vs 230 s).")
    failed = fr.JobReport("FSx for Lustre, first run", "j3", instance_type="ml.g5.xlarge", spot=True, status="Failed")
    assert fr.claim_line([fixed_reports()[0], failed]).startswith("the claim cannot be restated")
    assert fr.table([failed])[1].endswith("Failed: no MLREF_READ_DONE line in its log")


# -- the cost estimate ---------------------------------------------------------------------

def expected_cost(source, modes, spot, gib=4, instance_type="ml.p3.2xlarge", prepare=True):
    """The estimate, computed independently: per job a 5-minute overhead plus its passes over the set at
    100 MB/s; on EFS also the bytes its Elastic Throughput bills (read by the EFS row, written by the set's job)."""

    def minutes(passes):
        return 5 + passes * gib * 1024 / 100 / 60

    rate = price(contract.instance_price_key(instance_type)) / 60 * (0.3 if spot else 1.0)
    rows = {"file": [2], "fastfile": [1], "fsx": [1, 1], "efs": [1]}
    total = sum(rate * minutes(passes) for mode in modes for passes in rows[mode])
    gigabytes = gib * 1.073741824
    total += price("efs_elastic_read_gb") * gigabytes if "efs" in modes else 0.0
    if prepare and source is contract.TrainingSource.FSX:
        total += price("sagemaker_ml_m5_large_hour") / 60 * minutes(2)
    elif prepare:
        total += price("sagemaker_ml_m5_large_hour") / 60 * minutes(3) + price("efs_elastic_write_gb") * gigabytes
    return total


COMBINATIONS = [(source, modes) for source, file_system in ((contract.TrainingSource.FSX, "fsx"),
                                                              (contract.TrainingSource.EFS, "efs"))
                for count in (1, 2, 3) for modes in itertools.combinations(("file", "fastfile", file_system), count)]


@pytest.mark.parametrize("source, modes", COMBINATIONS)
def test_the_estimate_covers_every_mode_combination_spot_and_on_demand(source, modes):
    options = contract.FsxTrainingOptions(source=source)
    for spot, prepare in itertools.product((True, False), (True, False)):
        assert contract.run_cost(options, modes=modes, spot=spot, prepare=prepare) == pytest.approx(
            expected_cost(source, modes, spot, prepare=prepare))
    rows = [job.label for job in contract.run_estimate(options, modes=modes)]
    assert rows == ["writing the data set"] + [row for mode in modes for row in contract.MODE_ROWS[mode]]


def test_the_default_run_stays_at_or_below_sixty_cents_on_spot_and_is_the_labs_run_cost():
    options = contract.FsxTrainingOptions()
    default = contract.run_cost(options)
    assert default == pytest.approx(expected_cost(contract.TrainingSource.FSX, ("file", "fastfile", "fsx"), True))
    assert default <= 0.60
    assert contract.cost(options).per_practice_run == default
    assert contract.run_cost(options, dataset_gib=16, instance_type="ml.g5.xlarge") == pytest.approx(
        expected_cost(contract.TrainingSource.FSX, ("file", "fastfile", "fsx"), True, gib=16,
                      instance_type="ml.g5.xlarge"))
    assert contract.run_cost(options, instance_type="ml.trn1.2xlarge") is None


# -- the poll helper ------------------------------------------------------------------------

def test_poll_reports_changes_skips_missing_answers_and_times_out_by_the_clock():
    answers, seen, now = iter([None, "a", "a", "b"]), [], [0.0]
    result = polling.poll(lambda: next(answers), lambda a: a == "b", timeout=100, interval=10, clock=lambda: now[0],
                          sleep=lambda s: now.__setitem__(0, now[0] + s), on_change=seen.append)
    assert (result, seen, now[0]) == ("b", ["a", "b"], 30.0)
    with pytest.raises(polling.WaitTimedOut, match="still waiting after 25 s") as timed_out:
        polling.poll(lambda: "a", lambda a: False, timeout=25, interval=10, clock=lambda: now[0],
                     sleep=lambda s: now.__setitem__(0, now[0] + s), message=lambda t: f"still waiting after {t:.0f} s")
    assert isinstance(timed_out.value, LabError)


# -- a whole run against moto ----------------------------------------------------------------

class Session(boto3.Session):
    """moto for S3, IAM, KMS, SageMaker; a Stubber client for Service Quotas."""

    def __init__(self, quotas):
        super().__init__(region_name=REGION)
        self._quotas = quotas

    def client(self, name, *args, **kwargs):
        return self._quotas if name == "service-quotas" else super().client(name, *args, **kwargs)


@pytest.fixture
def deployed(monkeypatch):
    """A deployed FSx variant in moto: buckets, key, role, the stack's outputs and tags, a 1 GiB set."""
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        s3 = session.client("s3")
        for bucket in ("data-b", "out-b"):
            s3.create_bucket(Bucket=bucket)
        key = session.client("kms").create_key()["KeyMetadata"]["Arn"]
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
        role = session.client("iam").create_role(RoleName="lab-training",
                                                 AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        outputs = {**plan.PLACEHOLDER_OUTPUTS, contract.DATA_BUCKET: "data-b", contract.OUTPUT_BUCKET: "out-b",
                   contract.KEY: key, contract.EXECUTION_ROLE: role, contract.DIRECTORY_ROOT: "/abcd1234",
                   contract.SUBNET: "subnet-0a1b2c3d", contract.SECURITY_GROUP: "sg-0a1b2c3d",
                   contract.INSTANCE_TYPE_OUTPUT: "ml.g5.xlarge"}
        tags = {"lab": "fsx-training", "profile": "sandbox", "owner": "tester", "expires-at": "x"}
        monkeypatch.setattr(ft, "deployed_stack", lambda *_: (outputs, tags))
        data = plan.data_set(outputs, 1)
        for name in data.shard_names:  # what the data-set job leaves (small stand-ins for the shards)
            s3.put_object(Bucket="data-b", Key=data.key_prefix + name, Body=b"shard")
        yield session


def quotas_stub(*instance_types):
    quotas = client("service-quotas")
    stub = Stubber(quotas)
    for instance_type in instance_types:
        stub.add_response("list_service_quotas", {"Quotas": [
            quota(f"{instance_type} for training job usage", 1.0),
            quota(f"{instance_type} for spot training job usage", 1.0)]}, {"ServiceCode": "sagemaker"})
    return quotas, stub


def test_a_whole_run_writes_the_set_runs_each_mode_in_turn_tagged_and_prints_the_table(deployed, monkeypatch):
    missing = iter(["4 of 4 shards are not at s3://data-b/train/random-1gib/"])
    monkeypatch.setattr(ft, "missing_from", lambda *_, **__: next(missing, None))
    reads = {"file": 10.0, "fastfile": 40.0, "fsx-first": 43.0, "fsx-repeated": 8.6}

    def logs(_client, name):
        created = deployed.client("sagemaker").describe_training_job(TrainingJobName=name)["CreationTime"]
        kind = name.removeprefix("mlref-").rsplit("-", 1)[0]
        return [] if kind == "prepare" else [
            f"MLREF_READ_START epoch={created.timestamp() + 200:.3f} attempt=1",
            f"MLREF_READ_DONE files=4 bytes=1073741824 seconds={reads[kind]} mb_per_s=1.0 attempts=1"]

    monkeypatch.setattr(ft, "job_log_messages", logs)
    names = iter(f"{base}-{n}" for n, base in enumerate(
        ["mlref-prepare", "mlref-file", "mlref-fastfile", "mlref-fsx-first", "mlref-fsx-repeated"]))
    monkeypatch.setattr("sagemaker.train.model_trainer._get_unique_name", lambda base, **_: next(names))
    quotas, stub = quotas_stub("ml.g5.xlarge", "ml.m5.large")
    questions, lines = [], []
    with stub:
        reports = ft.FsxTrainingPractice(Session(quotas), out=lines.append, sleep=lambda _: None, dataset_gib=1,
                                         ask=lambda q: questions.append(q) or True).run()
        stub.assert_no_pending_responses()
    sagemaker, s3 = deployed.client("sagemaker"), deployed.client("s3")
    jobs = {s["TrainingJobName"]: sagemaker.describe_training_job(TrainingJobName=s["TrainingJobName"])
            for s in sagemaker.list_training_jobs()["TrainingJobSummaries"]}
    assert sorted(jobs) == ["mlref-fastfile-2", "mlref-file-1", "mlref-fsx-first-3", "mlref-fsx-repeated-4",
                            "mlref-prepare-0"]
    for job in jobs.values():
        tags = sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
        assert {t["Key"]: t["Value"] for t in tags} == {"lab": "fsx-training", "profile": "sandbox", "owner": "tester"}
    assert jobs["mlref-prepare-0"]["CheckpointConfig"]["S3Uri"] == "s3://data-b/train/random-1gib/"
    cold = jobs["mlref-fsx-first-3"]["InputDataConfig"][0]["DataSource"]["FileSystemDataSource"]["DirectoryPath"]
    assert cold == jobs["mlref-fsx-repeated-4"]["InputDataConfig"][0]["DataSource"]["FileSystemDataSource"][
        "DirectoryPath"] and cold.startswith("/abcd1234/train/cold/")
    copies = s3.list_objects_v2(Bucket="data-b", Prefix=cold.removeprefix("/abcd1234/") + "/")["Contents"]
    assert len(copies) == 4
    assert questions == ["start the data-set job and 4 read jobs?"]
    assert [r.label for r in reports] == ["S3 File", "S3 FastFile", "FSx for Lustre, first run",
                                          "FSx for Lustre, repeated run"]
    estimate = lines.index("estimated cost (fsx variant, pricing/prices.toml):")
    assert lines[estimate + 1].startswith("  writing the data set: ml.m5.large on demand")
    assert [step for step, _ in announced_steps(lines)] == [e.step for e in contract.CONTRACT.exercises]
    assert lines.index(next(line for line in lines if line.startswith("starting"))) > estimate
    table_start = lines.index("ml.g5.xlarge, spot, 1074 MB (1 GiB) in 4 shards:")
    assert lines[table_start + 1].startswith("input mode") and lines[table_start + 2].startswith("S3 File")
    assert lines[-1].startswith("The notes' claim, measured:") and "read the same files 5.0x as fast" in lines[-1]


def test_without_a_terminal_or_yes_it_refuses_before_starting_anything(deployed, monkeypatch):
    monkeypatch.setattr(ft, "missing_from", lambda *_, **__: None)
    quotas, stub = quotas_stub("ml.g5.xlarge")
    lines = []
    with stub, pytest.raises(LabError, match=r"^cannot ask before starting billable training jobs \(no terminal\): "
                                             r"rerun with --yes"):
        ft.FsxTrainingPractice(Session(quotas), out=lines.append, dataset_gib=1).run()
    assert any(line.startswith("  total: ~$") for line in lines)
    assert deployed.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
    quotas, stub = quotas_stub("ml.g5.xlarge")
    with stub:
        practice = ft.FsxTrainingPractice(Session(quotas), out=lines.append, dataset_gib=1, ask=lambda _: False)
        assert practice.run() is None
    assert lines[-1] == "nothing started"


def test_ctrl_c_stops_the_running_job():
    stopped = []

    class SageMaker:
        def describe_training_job(self, TrainingJobName):  # the API's name
            raise KeyboardInterrupt

        def stop_training_job(self, TrainingJobName):
            stopped.append(TrainingJobName)

    class Trainer:
        class _latest_training_job:  # the SDK's attribute
            training_job_name = "mlref-file-7"

        def train(self, wait, logs):
            assert (wait, logs) == (False, False)

    class Plan:
        mode, step, instance_type, managed_spot, base_job_name = "file", "", "ml.g5.xlarge", True, "mlref-file"

        def trainer(self, *_):
            return Trainer()

    session = type("S", (), {"region_name": REGION, "client": lambda self, name: SageMaker()})()
    lines = []
    with pytest.raises(KeyboardInterrupt):
        ft.FsxTrainingPractice(session, out=lines.append).run_job(Plan(), sagemaker_session=None)
    assert stopped == ["mlref-file-7"] and lines[-1] == "stopped mlref-file-7"
