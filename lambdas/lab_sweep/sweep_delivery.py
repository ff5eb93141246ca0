"""Leftovers of a delivery pipeline (the mlops lab): CodePipeline runs, CodeBuild builds, and the
buckets a CloudTrail trail writes to.

- A CodePipeline pipeline tagged for the lab and proven its own: its running executions are stopped
  (abandoned: a run waiting for approval or a Lambda action does not hold the stop), then it is
  deleted once none is active.
- Builds still running in the deleted stack's CodeBuild projects (the stack's own resource list names
  them; builds carry no tags): stopped, since deleting a project does not stop its builds.
- A bucket a trail still writes to is never emptied: the trail keeps delivering while it exists, so
  the bucket waits for the trail to be gone (``Sweeper.buckets``).
"""

from __future__ import annotations

from functools import cached_property

from botocore.exceptions import ClientError

try:  # in the Lambda asset the modules sit side by side
    from lab_names import LAB_TAG
    from sweep_base import Leftover, error_code
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.lab_sweep.sweep_base import Leftover, error_code
    from lambdas.shared.lab_names import LAB_TAG

ACTIVE_RUNS = {"InProgress", "Stopping"}
BATCH = 100  # BatchGetBuilds takes at most 100 ids


class DeliveryKinds:
    """Mixed into ``Sweeper``; uses ``SweepBase``'s client, scope, tags, proof, ``attempt`` and ``stop``."""

    def code_pipelines(self) -> None:
        codepipeline = self.client("codepipeline")
        pages = self.client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
            TagFilters=[{"Key": LAB_TAG, "Values": [self.lab]}], ResourceTypeFilters=["codepipeline"])
        for mapping in (m for page in pages for m in page["ResourceTagMappingList"]):
            arn = mapping["ResourceARN"]
            name = arn.rsplit(":", 1)[-1]
            item = Leftover("CodePipeline pipeline", name, arn=arn)
            if not self.owns_arn(arn) or not self.ours(item, mapping.get("Tags"), name):
                continue
            runs = [e for page in codepipeline.get_paginator("list_pipeline_executions").paginate(pipelineName=name)
                    for e in page["pipelineExecutionSummaries"] if e["status"] in ACTIVE_RUNS]
            for run in [r for r in runs if r["status"] == "InProgress"]:
                execution = run["pipelineExecutionId"]
                self.stop(Leftover("CodePipeline run", execution, f"of {name}", arn),
                          lambda e=execution, n=name: codepipeline.stop_pipeline_execution(
                              pipelineName=n, pipelineExecutionId=e, abandon=True,
                              reason="the lab's stack is deleted: swept by the mlref janitor"))
            if runs:
                self.wait(item, "runs stopping", "deleted once no run is active")
                continue
            self.attempt(item, lambda n=name: codepipeline.delete_pipeline(name=n),
                         lambda n=name: self.absent(lambda: codepipeline.get_pipeline(name=n),
                                                    "PipelineNotFoundException"))

    def builds(self) -> None:
        """Running builds of the deleted stack's own CodeBuild projects."""
        projects = set(self.stack_ids_of("AWS::CodeBuild::Project"))
        if not projects:
            return
        codebuild = self.client("codebuild")
        ids = [build_id for page in codebuild.get_paginator("list_builds").paginate(sortOrder="DESCENDING")
               for build_id in page.get("ids", []) if build_id.split(":", 1)[0] in projects]
        for start in range(0, len(ids), BATCH):
            for build in codebuild.batch_get_builds(ids=ids[start:start + BATCH])["builds"]:
                if build["buildStatus"] == "IN_PROGRESS":
                    build_id = build["id"]
                    self.stop(Leftover("CodeBuild build", build_id, "of a project of the deleted stack",
                                       build.get("arn", "")),
                              lambda b=build_id: codebuild.stop_build(id=b))

    @cached_property
    def _trail_buckets(self) -> dict[str, str] | None:
        """Bucket -> the trail writing to it, for the trails this region knows (shadow trails included);
        None when the trails cannot be read."""
        try:
            trails = self.client("cloudtrail").describe_trails(includeShadowTrails=True)["trailList"]
        except ClientError as error:
            self.log(f"could not read the trails ({error_code(error)}): no bucket is emptied")
            return None
        return {t["S3BucketName"]: t.get("Name", "?") for t in trails if t.get("S3BucketName")}

    def trail_writing_to(self, bucket: str) -> str | None:
        """The trail that writes to ``bucket`` (or why it cannot be told), None when none does."""
        found = self._trail_buckets
        if found is None:
            return "trails unreadable"
        return found.get(bucket)
