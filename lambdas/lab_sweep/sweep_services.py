"""Leftovers outside SageMaker: S3, CloudWatch Logs, Glue, EMR Serverless, EC2 interfaces."""

from __future__ import annotations

from botocore.exceptions import ClientError

try:  # in the Lambda asset the modules sit side by side
    from lab_names import ENDPOINT_LOG_GROUP_PREFIX, LAB_TAG, STACK_PREFIX
    from sweep_base import Leftover, NotDeleted, error_code, tags_of
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.lab_sweep.sweep_base import Leftover, NotDeleted, error_code, tags_of
    from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX, LAB_TAG, STACK_PREFIX

# Glue writes every job's runs into these shared groups (or, with a security configuration that
# encrypts logs, into /aws-glue/jobs-<role>-<security configuration>/...), one stream per run id.
GLUE_LOG_GROUP = "/aws-glue/jobs"
GLUE_LOG_SUFFIXES = ("output", "error", "logs-v2")
GLUE_ACTIVE_RUNS = {"STARTING", "RUNNING", "WAITING"}
# Step Functions creates this rule for EMR Serverless .sync tasks, once per account and region,
# and every state machine there that runs such a task shares it.
EMR_SYNC_RULE = "StepFunctionsGetEventsForEMRServerlessJobRule"
EMR_LIVE_STATES = ["CREATING", "CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED"]
EMR_ACTIVE_RUNS = ["SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED", "CANCELLING"]
EMR_STOP_SECONDS = 120
ERRORS_SHOWN = 3  # of the keys DeleteObjects refused, named in the report


class ServiceKinds:
    """Mixed into ``Sweeper``; uses ``SweepBase``'s client, scope, tags, proof and ``attempt``."""

    # -- CloudWatch Logs ------------------------------------------------------------------

    def log_streams(self, group: str, prefix: str) -> list[str]:
        try:
            pages = self.client("logs").get_paginator("describe_log_streams").paginate(
                logGroupName=group, logStreamNamePrefix=prefix)
            return [s["logStreamName"] for page in pages for s in page["logStreams"]]
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return []
            raise

    def log_group_exists(self, name: str) -> bool:
        groups = self.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        return any(group["logGroupName"] == name for group in groups)

    def log_groups(self) -> None:
        """Groups tagged for the lab; an endpoint's group waits until its endpoint is gone."""
        logs = self.client("logs")
        for page in logs.get_paginator("describe_log_groups").paginate():
            for group in page["logGroups"]:
                arn = group["arn"].removesuffix(":*")
                if not self.owns_arn(arn):
                    continue
                name = group["logGroupName"]
                item = Leftover("log group", name, arn=arn)
                if not self.ours(item, logs.list_tags_for_resource(resourceArn=arn).get("tags"), name):
                    continue
                endpoint = name.removeprefix(ENDPOINT_LOG_GROUP_PREFIX)
                if name.startswith(ENDPOINT_LOG_GROUP_PREFIX) and self.endpoint_exists(endpoint):
                    self.wait(item, "endpoint still there", f"deleted once endpoint {endpoint} is gone")
                    continue
                self.attempt(item, lambda n=name: logs.delete_log_group(logGroupName=n),
                             lambda n=name: not self.log_group_exists(n))

    # -- S3 -------------------------------------------------------------------------------

    def has_objects(self, bucket: str, prefix: str = "") -> bool:
        page = self.client("s3").list_object_versions(Bucket=bucket, Prefix=prefix, MaxKeys=1,
                                                      ExpectedBucketOwner=self.account)
        return bool(page.get("Versions") or page.get("DeleteMarkers"))

    def delete_objects(self, bucket: str, prefix: str = "") -> int:
        """Deletes every version of every object under ``prefix``; returns how many. NotDeleted when
        S3 refused any (DeleteObjects answers 200 with per-key Errors: legal hold, object lock,
        access denied), naming the first few."""
        s3 = self.client("s3")
        count, refused = 0, []
        pages = s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket, Prefix=prefix, ExpectedBucketOwner=self.account)
        for page in pages:
            batch = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for start in range(0, len(batch), 1000):
                answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch[start:start + 1000], "Quiet": True},
                                           ExpectedBucketOwner=self.account)
                refused += answer.get("Errors", [])
            count += len(batch)
        if refused:
            named = "; ".join(f"{e.get('Key')} ({e.get('Code')})" for e in refused[:ERRORS_SHOWN])
            more = f"; and {len(refused) - ERRORS_SHOWN} more" if len(refused) > ERRORS_SHOWN else ""
            raise NotDeleted(f"S3 refused {len(refused)} of {count} object version(s): {named}{more}")
        return count

    def bucket_tags(self, bucket: str) -> dict[str, str] | None:
        """The bucket's tags; None when it has none, or they are not this account's to read."""
        try:
            return tags_of(self.client("s3").get_bucket_tagging(Bucket=bucket, ExpectedBucketOwner=self.account)
                           ["TagSet"])
        except ClientError:
            return None

    def lab_owns_bucket(self, bucket: str) -> bool:
        """Tagged for the lab, and no live stack (nor another stack) holds it."""
        tags = self.bucket_tags(bucket)
        return tags is not None and self.carries_tag(tags) and self.problem(tags, bucket) is None

    def bucket_exists(self, name: str) -> bool:
        return not self.absent(lambda: self.client("s3").head_bucket(Bucket=name, ExpectedBucketOwner=self.account))

    def buckets(self) -> None:
        """Buckets of this region (ListBuckets by region, then each bucket's own location checked),
        owned by this account (ExpectedBucketOwner on every call), tagged for the lab and proven its own."""
        s3 = self.client("s3")
        pages = s3.get_paginator("list_buckets").paginate(BucketRegion=self.region)
        for bucket in [b for page in pages for b in page.get("Buckets", [])]:
            name = bucket["Name"]
            if bucket.get("BucketRegion", self.region) != self.region or not self.bucket_in_scope(name):
                continue
            item = Leftover("bucket", name, arn=f"arn:{self.partition}:s3:::{name}")
            if not self.ours(item, self.bucket_tags(name), name):
                continue
            if trail := self.trail_writing_to(name):  # emptied while a trail writes, it would never stay empty
                self.wait(item, f"trail {trail} writes to it", "emptied once the trail is gone")
                continue

            def empty_and_delete(n=name):
                self.delete_objects(n)
                s3.delete_bucket(Bucket=n, ExpectedBucketOwner=self.account)
            self.attempt(item, empty_and_delete, lambda n=name: not self.bucket_exists(n))

    # -- Glue -----------------------------------------------------------------------------

    def glue_databases(self) -> None:
        glue = self.client("glue")
        for page in glue.get_paginator("get_databases").paginate():
            for database in page["DatabaseList"]:
                name = database["Name"]
                item = Leftover("glue database", name,
                                arn=f"arn:{self.partition}:glue:{self.region}:{self.account}:database/{name}")
                if self.ours(item, glue.get_tags(ResourceArn=item.arn).get("Tags"), name):
                    self.attempt(item, lambda n=name: glue.delete_database(Name=n),
                                 lambda n=name: self.absent(lambda: glue.get_database(Name=n)))

    def glue_jobs(self) -> None:
        """Tagged jobs: running runs stopped; each run's streams deleted from the groups it wrote to
        (in the shared /aws-glue/jobs/* groups only the streams named by the run's id); then the job.
        Then the log groups named after the deleted stack's own security configurations."""
        glue = self.client("glue")
        pages = glue.get_paginator("list_jobs").paginate(Tags={LAB_TAG: self.lab})
        for name in [n for page in pages for n in page["JobNames"]]:
            item = Leftover("glue job", name, arn=f"arn:{self.partition}:glue:{self.region}:{self.account}:job/{name}")
            if not self.ours(item, glue.get_tags(ResourceArn=item.arn).get("Tags"), name):
                continue
            runs = [r for page in glue.get_paginator("get_job_runs").paginate(JobName=name) for r in page["JobRuns"]]
            active = [r["Id"] for r in runs if r["JobRunState"] in GLUE_ACTIVE_RUNS]
            if active:
                self.stop(Leftover("glue job runs", f"{name}: {', '.join(active)}", arn=item.arn),
                          lambda n=name, ids=active: glue.batch_stop_job_run(JobName=n, JobRunIds=ids))
            if active or any(r["JobRunState"] == "STOPPING" for r in runs):
                self.wait(item, "runs stopping", "its run logs and the job go once no run is active")
                continue
            if all([self._delete_run_streams(run) for run in runs]):  # noqa: C419 - every run is cleared
                self.attempt(item, lambda n=name: glue.delete_job(JobName=n),
                             lambda n=name: self.absent(lambda: glue.get_job(JobName=n)))
        self._security_configuration_log_groups()

    def _delete_run_streams(self, run: dict) -> bool:
        logs = self.client("logs")
        base = (run.get("LogGroupName") or GLUE_LOG_GROUP).rstrip("/")
        gone = True
        for group in [f"{base}/{suffix}" for suffix in GLUE_LOG_SUFFIXES]:
            for stream in self.log_streams(group, run["Id"]):
                gone &= self.attempt(Leftover("log stream", f"{group}/{stream}", f"of glue job run {run['Id']}"),
                                     lambda g=group, s=stream: logs.delete_log_stream(logGroupName=g, logStreamName=s),
                                     lambda g=group, s=stream: s not in self.log_streams(g, s))
        return gone

    def _security_configuration_log_groups(self) -> None:
        configurations = [name for name in self.stack_ids_of("AWS::Glue::SecurityConfiguration")
                          if name.startswith(STACK_PREFIX)]
        if not configurations:
            return
        logs = self.client("logs")
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=f"{GLUE_LOG_GROUP}-"):
            for group in page["logGroups"]:
                name = group["logGroupName"]
                if any(f"-{configuration}/" in name for configuration in configurations):
                    self.attempt(Leftover("log group", name, "of a security configuration of the deleted stack"),
                                 lambda n=name: logs.delete_log_group(logGroupName=n),
                                 lambda n=name: not self.log_group_exists(n))

    # -- EMR Serverless -------------------------------------------------------------------

    def emr_applications(self) -> None:
        """Tagged applications: runs cancelled, a started application stopped (waited for), then deleted."""
        emr = self.client("emr-serverless")
        seen = bool(self.stack_ids_of("AWS::EMRServerless::Application"))
        for page in emr.get_paginator("list_applications").paginate(states=EMR_LIVE_STATES):
            for summary in page["applications"]:
                if not self.owns_arn(summary["arn"]):
                    continue
                application = emr.get_application(applicationId=summary["id"])["application"]
                if not self.carries_tag(application.get("tags")):
                    continue
                seen = True
                item = Leftover("EMR Serverless application", application["applicationId"],
                                application.get("name", ""), application["arn"])
                if self.proven(item, tags_of(application.get("tags")), item.identifier):
                    self._remove_application(item, application["state"])
        if seen:
            self._note_emr_sync_rule()

    def _emr_state(self, application_id: str) -> str:
        return self.client("emr-serverless").get_application(applicationId=application_id)["application"]["state"]

    def _remove_application(self, item: Leftover, state: str) -> None:
        emr, app_id = self.client("emr-serverless"), item.identifier
        if state in {"CREATING", "STARTING", "STOPPING"}:
            self.wait(item, state, "deleted once it is stopped")
            return
        if state == "STARTED":
            pages = emr.get_paginator("list_job_runs").paginate(applicationId=app_id, states=EMR_ACTIVE_RUNS)
            runs = [r for page in pages for r in page["jobRuns"]]
            for run in [r for r in runs if r["state"] != "CANCELLING"]:
                self.stop(Leftover("EMR Serverless job run", f"{app_id}/{run['id']}", "cancelled", run.get("arn", "")),
                          lambda r=run["id"]: emr.cancel_job_run(applicationId=app_id, jobRunId=r))
            if not self.stop(item.but("stopped"), lambda: emr.stop_application(applicationId=app_id)):
                return
            if not self.poll(lambda: self._emr_state(app_id) in {"STOPPED", "CREATED"}, timeout=EMR_STOP_SECONDS):
                self.wait(item, "STOPPING", f"not stopped within {EMR_STOP_SECONDS} s; deleted next round")
                return
        self.attempt(item, lambda: emr.delete_application(applicationId=app_id), lambda: self._emr_gone(app_id))

    def _emr_gone(self, application_id: str) -> bool:
        try:
            return self._emr_state(application_id) == "TERMINATED"
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return True
            raise

    def _note_emr_sync_rule(self) -> None:
        """The rule is shared and free: deleting it would break other state machines' running
        .sync tasks, and nothing here can prove there are none. It is reported, never deleted."""
        try:
            rule = self.client("events").describe_rule(Name=EMR_SYNC_RULE)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return
            raise
        self.report.kept.append(Leftover(
            "EventBridge rule", EMR_SYNC_RULE, "managed by Step Functions and shared by every state machine here "
            "that runs EMR Serverless .sync tasks; bills nothing", rule.get("Arn", "")))

    # -- EC2 ------------------------------------------------------------------------------

    def network_interfaces(self) -> None:
        """Detached interfaces in a security group tagged for the lab and proven its own."""
        ec2 = self.client("ec2")
        pages = ec2.get_paginator("describe_security_groups").paginate(Filters=self.tag_filters())
        groups = [g["GroupId"] for page in pages for g in page["SecurityGroups"]
                  if g.get("OwnerId", self.account) == self.account and
                  self.proven(Leftover("security group", g["GroupId"]), tags_of(g.get("Tags")), g["GroupId"])]
        if not groups:
            return
        for page in ec2.get_paginator("describe_network_interfaces").paginate(
                Filters=[{"Name": "group-id", "Values": groups}, {"Name": "status", "Values": ["available"]}]):
            for eni in page["NetworkInterfaces"]:
                if eni.get("OwnerId", self.account) != self.account:
                    continue
                eni_id = eni["NetworkInterfaceId"]
                self.attempt(Leftover("network interface", eni_id, "detached, in a lab security group"),
                             lambda i=eni_id: ec2.delete_network_interface(NetworkInterfaceId=i),
                             lambda i=eni_id: self.absent(lambda: ec2.describe_network_interfaces(
                                 NetworkInterfaceIds=[i])))
