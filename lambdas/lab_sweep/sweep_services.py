"""Leftovers outside SageMaker: S3, CloudWatch Logs, Glue, EMR Serverless, EC2 interfaces."""

from __future__ import annotations

from botocore.exceptions import ClientError

try:  # in the Lambda asset the modules sit side by side
    from lab_names import LAB_TAG, STACK_PREFIX
    from sweep_base import Leftover, error_code
    from sweep_sagemaker import ENDPOINT_LOG_PREFIX
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.lab_sweep.sweep_base import Leftover, error_code
    from lambdas.lab_sweep.sweep_sagemaker import ENDPOINT_LOG_PREFIX
    from lambdas.shared.lab_names import LAB_TAG, STACK_PREFIX

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


class ServiceKinds:
    """Mixed into ``Sweeper``; uses ``SweepBase``'s client, scope, tags and ``attempt``."""

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

    def log_groups(self) -> None:
        """Groups tagged for the lab; an endpoint's group waits until its endpoint is gone."""
        logs = self.client("logs")
        for page in logs.get_paginator("describe_log_groups").paginate():
            for group in page["logGroups"]:
                arn = group["arn"].removesuffix(":*")
                if not self.owns_arn(arn):
                    continue
                if not self.carries_tag(logs.list_tags_for_resource(resourceArn=arn).get("tags")):
                    continue
                name = group["logGroupName"]
                item = Leftover("log group", name, arn=arn)
                endpoint = name.removeprefix(ENDPOINT_LOG_PREFIX)
                if name.startswith(ENDPOINT_LOG_PREFIX) and self.endpoint_exists(endpoint):
                    self.wait(item, "endpoint still there", f"deleted once endpoint {endpoint} is gone")
                    continue
                self.attempt(item, lambda n=name: logs.delete_log_group(logGroupName=n))

    # -- S3 -------------------------------------------------------------------------------

    def has_objects(self, bucket: str, prefix: str = "") -> bool:
        page = self.client("s3").list_object_versions(Bucket=bucket, Prefix=prefix, MaxKeys=1,
                                                      ExpectedBucketOwner=self.account)
        return bool(page.get("Versions") or page.get("DeleteMarkers"))

    def delete_objects(self, bucket: str, prefix: str = "") -> int:
        """Deletes every version of every object under ``prefix``; returns how many."""
        s3 = self.client("s3")
        count = 0
        pages = s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket, Prefix=prefix, ExpectedBucketOwner=self.account)
        for page in pages:
            batch = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for start in range(0, len(batch), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": batch[start:start + 1000], "Quiet": True},
                                  ExpectedBucketOwner=self.account)
            count += len(batch)
        return count

    def buckets(self) -> None:
        """Buckets of this region (ListBuckets by region, then each bucket's own location checked),
        owned by this account (ExpectedBucketOwner on every call) and tagged for the lab."""
        s3 = self.client("s3")
        pages = s3.get_paginator("list_buckets").paginate(BucketRegion=self.region)
        for bucket in [b for page in pages for b in page.get("Buckets", [])]:
            name = bucket["Name"]
            if bucket.get("BucketRegion", self.region) != self.region or not self.bucket_in_scope(name):
                continue
            try:
                tags = s3.get_bucket_tagging(Bucket=name, ExpectedBucketOwner=self.account)["TagSet"]
            except ClientError:
                continue  # no tags (NoSuchTagSet) or not ours to read
            if self.carries_tag(tags):
                def empty_and_delete(n=name):
                    self.delete_objects(n)
                    s3.delete_bucket(Bucket=n, ExpectedBucketOwner=self.account)
                self.attempt(Leftover("bucket", name, arn=f"arn:{self.partition}:s3:::{name}"), empty_and_delete)

    # -- Glue -----------------------------------------------------------------------------

    def glue_databases(self) -> None:
        glue = self.client("glue")
        for page in glue.get_paginator("get_databases").paginate():
            for database in page["DatabaseList"]:
                name = database["Name"]
                arn = f"arn:{self.partition}:glue:{self.region}:{self.account}:database/{name}"
                if self.carries_tag(glue.get_tags(ResourceArn=arn).get("Tags")):
                    self.attempt(Leftover("glue database", name, arn=arn), lambda n=name: glue.delete_database(Name=n))

    def glue_jobs(self) -> None:
        """Tagged jobs: running runs stopped; each run's streams deleted from the groups it wrote to
        (in the shared /aws-glue/jobs/* groups only the streams named by the run's id); then the job.
        Then the log groups named after the deleted stack's own security configurations."""
        glue = self.client("glue")
        pages = glue.get_paginator("list_jobs").paginate(Tags={LAB_TAG: self.lab})
        for name in [n for page in pages for n in page["JobNames"]]:
            arn = f"arn:{self.partition}:glue:{self.region}:{self.account}:job/{name}"
            if not self.carries_tag(glue.get_tags(ResourceArn=arn).get("Tags")):
                continue
            item = Leftover("glue job", name, arn=arn)
            runs = [r for page in glue.get_paginator("get_job_runs").paginate(JobName=name) for r in page["JobRuns"]]
            active = [r["Id"] for r in runs if r["JobRunState"] in GLUE_ACTIVE_RUNS]
            if active:
                self.attempt(Leftover("glue job runs", f"{name}: {', '.join(active)}", "stopped", arn),
                             lambda n=name, ids=active: glue.batch_stop_job_run(JobName=n, JobRunIds=ids))
            if active or any(r["JobRunState"] == "STOPPING" for r in runs):
                self.wait(item, "runs stopping", "its run logs and the job go once no run is active")
                continue
            if all([self._delete_run_streams(run) for run in runs]):
                self.attempt(item, lambda n=name: glue.delete_job(JobName=n))
        self._security_configuration_log_groups()

    def _delete_run_streams(self, run: dict) -> bool:
        logs = self.client("logs")
        base = (run.get("LogGroupName") or GLUE_LOG_GROUP).rstrip("/")
        gone = True
        for group in [f"{base}/{suffix}" for suffix in GLUE_LOG_SUFFIXES]:
            for stream in self.log_streams(group, run["Id"]):
                gone &= self.attempt(Leftover("log stream", f"{group}/{stream}", f"of glue job run {run['Id']}"),
                                     lambda g=group, s=stream: logs.delete_log_stream(logGroupName=g, logStreamName=s))
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
                                 lambda n=name: logs.delete_log_group(logGroupName=n))

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
                self._remove_application(application)
        if seen:
            self._note_emr_sync_rule()

    def _emr_state(self, application_id: str) -> str:
        return self.client("emr-serverless").get_application(applicationId=application_id)["application"]["state"]

    def _remove_application(self, application: dict) -> None:
        emr, app_id = self.client("emr-serverless"), application["applicationId"]
        item = Leftover("EMR Serverless application", app_id, application.get("name", ""), application["arn"])
        state = application["state"]
        if state in {"CREATING", "STARTING", "STOPPING"}:
            self.wait(item, state, "deleted once it is stopped")
            return
        if state == "STARTED":
            pages = emr.get_paginator("list_job_runs").paginate(applicationId=app_id, states=EMR_ACTIVE_RUNS)
            runs = [r for page in pages for r in page["jobRuns"]]
            for run in [r for r in runs if r["state"] != "CANCELLING"]:
                run_item = Leftover("EMR Serverless job run", f"{app_id}/{run['id']}", "cancelled", run.get("arn", ""))
                self.attempt(run_item,
                             lambda r=run["id"]: emr.cancel_job_run(applicationId=app_id, jobRunId=r))
            if not self.attempt(Leftover("EMR Serverless application", app_id, "stopped", item.arn),
                                lambda: emr.stop_application(applicationId=app_id)):
                return
            if not self.poll(lambda: self._emr_state(app_id) in {"STOPPED", "CREATED"}, timeout=EMR_STOP_SECONDS):
                self.wait(item, "STOPPING", f"not stopped within {EMR_STOP_SECONDS} s; deleted next round")
                return
        self.attempt(item, lambda: emr.delete_application(applicationId=app_id))

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
        ec2 = self.client("ec2")
        pages = ec2.get_paginator("describe_security_groups").paginate(Filters=self.tag_filters())
        groups = [g["GroupId"] for page in pages for g in page["SecurityGroups"]
                  if g.get("OwnerId", self.account) == self.account]
        if not groups:
            return
        for page in ec2.get_paginator("describe_network_interfaces").paginate(
                Filters=[{"Name": "group-id", "Values": groups}, {"Name": "status", "Values": ["available"]}]):
            for eni in page["NetworkInterfaces"]:
                if eni.get("OwnerId", self.account) != self.account:
                    continue
                eni_id = eni["NetworkInterfaceId"]
                self.attempt(Leftover("network interface", eni_id, "detached, in a lab security group"),
                             lambda i=eni_id: ec2.delete_network_interface(NetworkInterfaceId=i))
