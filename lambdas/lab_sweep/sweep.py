"""Find and remove what a lab leaves behind after its stack is deleted.

Used by the janitor's sweep Lambda (after CloudFormation reports DELETE_COMPLETE)
and by ``labs destroy``. The rule: nothing is deleted unless it carries the lab's
tag (``lab=<name>``), or is an artifact named by a resource that carries it (the
log streams and output of a tagged training job, the offline store of a tagged
feature group, the network interfaces left in a tagged security group).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

try:
    from lab_names import LAB_TAG, PROFILE_TAG, SWEPT_PROFILE, TRAINING_LOG_GROUP  # in the Lambda asset
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.shared.lab_names import LAB_TAG, PROFILE_TAG, SWEPT_PROFILE, TRAINING_LOG_GROUP

TAG_KEY, PROFILE_TAG_KEY = LAB_TAG, PROFILE_TAG


@dataclass(frozen=True)
class Leftover:
    kind: str
    identifier: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.identifier}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class SweepReport:
    lab: str
    deleted: list[Leftover] = field(default_factory=list)
    failed: list[Leftover] = field(default_factory=list)
    left: list[Leftover] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.failed and not self.left

    def lines(self) -> list[str]:
        return (
            [f"deleted {item}" for item in self.deleted]
            + [f"could not delete {item}" for item in self.failed]
            + [f"left, delete by hand: {item}" for item in self.left]
        )


def _tags(pairs: Iterable[dict] | dict | None) -> dict[str, str]:
    if isinstance(pairs, dict):
        return dict(pairs)
    return {p.get("Key", p.get("key")): p.get("Value", p.get("value")) for p in pairs or []}


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix


class Sweeper:
    """Sweeps one lab in one account and region, with a boto3 session."""

    KINDS = ("feature_groups", "training_jobs", "glue_databases", "network_interfaces", "log_groups", "buckets")

    def __init__(
        self, session: Any, lab: str, *, log: Callable[[str], None] = print,
        kinds: Iterable[str] = KINDS, clients: dict[str, Any] | None = None,
        profile: str | None = SWEPT_PROFILE,
    ) -> None:
        """``profile``: only resources tagged ``profile=<profile>`` are deleted; None: any profile."""
        self.session = session
        self.lab = lab
        self.profile = profile
        self.log = log
        self.kinds = tuple(kinds)
        unknown = set(self.kinds) - set(self.KINDS)
        if unknown:
            raise ValueError(f"unknown leftover kinds {sorted(unknown)}; known: {', '.join(self.KINDS)}")
        self.report = SweepReport(lab=lab)
        self._clients: dict[str, Any] = dict(clients or {})

    def client(self, name: str) -> Any:
        if name not in self._clients:
            self._clients[name] = self.session.client(name)
        return self._clients[name]

    def carries_tag(self, tags: Iterable[dict] | dict | None) -> bool:
        tags = _tags(tags)
        return tags.get(TAG_KEY) == self.lab and (self.profile is None or tags.get(PROFILE_TAG_KEY) == self.profile)

    def tag_filters(self) -> list[dict]:
        filters = [{"Name": f"tag:{TAG_KEY}", "Values": [self.lab]}]
        if self.profile is not None:
            filters.append({"Name": f"tag:{PROFILE_TAG_KEY}", "Values": [self.profile]})
        return filters

    def _attempt(self, item: Leftover, action: Callable[[], Any]) -> bool:
        try:
            action()
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in {"ResourceNotFoundException", "NoSuchBucket", "EntityNotFoundException",
                        "InvalidNetworkInterfaceID.NotFound"}:
                return True  # already gone: nothing to do
            self.report.failed.append(Leftover(item.kind, item.identifier, f"{code}: {error.response['Error'].get('Message', '')}"))
            self.log(f"could not delete {item}: {code}")
            return False
        self.report.deleted.append(item)
        self.log(f"deleted {item}")
        return True

    # -- kinds -------------------------------------------------------------------------

    def log_groups(self) -> None:
        logs = self.client("logs")
        for page in logs.get_paginator("describe_log_groups").paginate():
            for group in page["logGroups"]:
                arn = group["arn"].removesuffix(":*")
                if self.carries_tag(logs.list_tags_for_resource(resourceArn=arn).get("tags")):
                    name = group["logGroupName"]
                    self._attempt(Leftover("log group", name), lambda n=name: logs.delete_log_group(logGroupName=n))

    def delete_objects(self, bucket: str, prefix: str = "") -> int:
        """Deletes every version of every object under ``prefix``; returns how many."""
        s3 = self.client("s3")
        count = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            batch = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for start in range(0, len(batch), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": batch[start:start + 1000], "Quiet": True})
            count += len(batch)
        return count

    def buckets(self) -> None:
        s3 = self.client("s3")
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            try:
                tags = s3.get_bucket_tagging(Bucket=name)["TagSet"]
            except ClientError:
                continue  # no tags (NoSuchTagSet) or not ours to read
            if self.carries_tag(tags):
                def empty_and_delete(n=name):
                    self.delete_objects(n)
                    s3.delete_bucket(Bucket=n)
                self._attempt(Leftover("bucket", name), empty_and_delete)

    def training_jobs(self) -> None:
        sagemaker, logs = self.client("sagemaker"), self.client("logs")
        for page in sagemaker.get_paginator("list_training_jobs").paginate():
            for summary in page["TrainingJobSummaries"]:
                if not self.carries_tag(sagemaker.list_tags(ResourceArn=summary["TrainingJobArn"]).get("Tags")):
                    continue
                name = summary["TrainingJobName"]
                streams = self._training_log_streams(name)
                for stream in streams:
                    self._attempt(Leftover("log stream", f"{TRAINING_LOG_GROUP}/{stream}"),
                                  lambda s=stream: logs.delete_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=s))
                job = sagemaker.describe_training_job(TrainingJobName=name)
                output = job.get("OutputDataConfig", {}).get("S3OutputPath")
                if output:
                    bucket, prefix = _split_s3_uri(output.rstrip("/") + f"/{name}/")
                    self._attempt(Leftover("training artifacts", f"s3://{bucket}/{prefix}"),
                                  lambda b=bucket, p=prefix: self.delete_objects(b, p))

    def _training_log_streams(self, job_name: str) -> list[str]:
        try:
            pages = self.client("logs").get_paginator("describe_log_streams").paginate(
                logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix=f"{job_name}/")
            return [s["logStreamName"] for page in pages for s in page["logStreams"]]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return []
            raise

    def feature_groups(self) -> None:
        sagemaker, glue = self.client("sagemaker"), self.client("glue")
        for page in sagemaker.get_paginator("list_feature_groups").paginate():
            for summary in page["FeatureGroupSummaries"]:
                arn, name = summary["FeatureGroupArn"], summary["FeatureGroupName"]
                if not self.carries_tag(sagemaker.list_tags(ResourceArn=arn).get("Tags")):
                    continue
                group = sagemaker.describe_feature_group(FeatureGroupName=name)
                offline = group.get("OfflineStoreConfig", {})
                self._attempt(Leftover("feature group", name), lambda n=name: sagemaker.delete_feature_group(FeatureGroupName=n))
                uri = offline.get("S3StorageConfig", {}).get("ResolvedOutputS3Uri") or \
                    offline.get("S3StorageConfig", {}).get("S3Uri")
                if uri:
                    bucket, prefix = _split_s3_uri(uri.rstrip("/") + "/")
                    self._attempt(Leftover("offline store data", f"s3://{bucket}/{prefix}"),
                                  lambda b=bucket, p=prefix: self.delete_objects(b, p))
                catalog = offline.get("DataCatalogConfig")
                if catalog:
                    self._attempt(Leftover("glue table", f"{catalog['Database']}.{catalog['TableName']}"),
                                  lambda c=catalog: glue.delete_table(DatabaseName=c["Database"], Name=c["TableName"]))

    def glue_databases(self) -> None:
        glue = self.client("glue")
        account = self.client("sts").get_caller_identity()["Account"]
        region = self.session.region_name
        for page in glue.get_paginator("get_databases").paginate():
            for database in page["DatabaseList"]:
                name = database["Name"]
                arn = f"arn:aws:glue:{region}:{account}:database/{name}"
                if self.carries_tag(glue.get_tags(ResourceArn=arn).get("Tags")):
                    self._attempt(Leftover("glue database", name), lambda n=name: glue.delete_database(Name=n))

    def network_interfaces(self) -> None:
        ec2 = self.client("ec2")
        groups = [g["GroupId"] for page in ec2.get_paginator("describe_security_groups").paginate(
            Filters=self.tag_filters()) for g in page["SecurityGroups"]]
        if not groups:
            return
        for page in ec2.get_paginator("describe_network_interfaces").paginate(
                Filters=[{"Name": "group-id", "Values": groups}, {"Name": "status", "Values": ["available"]}]):
            for eni in page["NetworkInterfaces"]:
                eni_id = eni["NetworkInterfaceId"]
                self._attempt(Leftover("network interface", eni_id, "detached, in a lab security group"),
                              lambda i=eni_id: ec2.delete_network_interface(NetworkInterfaceId=i))

    def remaining_tagged(self) -> None:
        """Anything else still tagged for the lab: reported, never deleted blindly.

        The Tagging API can list a resource for a few minutes after it is deleted:
        ``verify`` again later before treating such a line as a real leftover.
        """
        for arn in verify(self.session, self.lab):
            self.report.left.append(Leftover("resource", arn))

    def run(self) -> SweepReport:
        for step in [getattr(self, kind) for kind in self.kinds] + [self.remaining_tagged]:
            try:
                step()
            except ClientError as error:
                code = error.response["Error"]["Code"]
                self.report.failed.append(Leftover(step.__name__.replace("_", " "), "(listing)", code))
                self.log(f"could not sweep {step.__name__}: {code}")
        return self.report


# Every billable resource type the labs create, as Tagging API resource-type filters.
BILLABLE_TYPES = (
    "s3", "kms:key", "logs:log-group", "kinesis:stream", "firehose:deliverystream",
    "redshift:cluster", "redshift-serverless:workgroup", "redshift-serverless:namespace",
    "fsx:file-system", "elasticfilesystem:file-system", "sagemaker:feature-group",
    "sagemaker:training-job", "glue:crawler", "athena:workgroup", "secretsmanager:secret",
    "lambda:function", "ec2:natgateway", "ec2:vpc-endpoint", "ec2:network-interface",
    "ec2:vpc", "ec2:security-group",
)


def verify(session: Any, lab: str) -> list[str]:
    """ARNs of billable resources that still carry ``lab=<lab>``: empty means clean.

    KMS keys already pending deletion are not counted: they are on their way out
    and cannot be used.
    """
    tagging = session.client("resourcegroupstaggingapi")
    pages = tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": TAG_KEY, "Values": [lab]}], ResourceTypeFilters=list(BILLABLE_TYPES))
    arns = [m["ResourceARN"] for page in pages for m in page["ResourceTagMappingList"]]
    kms = session.client("kms")
    remaining = []
    for arn in arns:
        if ":kms:" in arn:
            try:
                state = kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]
            except ClientError:
                continue
            if state in {"PendingDeletion", "PendingReplicaDeletion"}:
                continue
        remaining.append(arn)
    return remaining


def sweep(session: Any, lab: str, *, log: Callable[[str], None] = print, **options: Any) -> SweepReport:
    return Sweeper(session, lab, log=log, **options).run()
