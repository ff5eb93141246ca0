"""What AWS does with the mlops lab's roles and resource policies, and what they must refuse
(``labs permissions mlops``), each call citing the page that says it is made. CDK-free data.

Not proven here: CloudTrail's GenerateDataKey on the lab key, whose condition is on
``kms:EncryptionContext:aws:cloudtrail:arn``, a key whose name holds colons that iam-simulate does not
carry into the request (as for CloudWatch Logs' statement, catalog/shared_calls.py).
"""

from __future__ import annotations

from catalog.calls import acting_as, arn, assumed, refused, via

CONNECTION_EXAMPLE = "arn:aws:codeconnections:us-east-1:111122223333:connection/0a1b2c3d-4e5f-4a1b-8c2d-3e4f5a6b7c8d"
PIPELINE_ROLE = "https://docs.aws.amazon.com/codepipeline/latest/userguide/security-iam.html#how-to-custom-role"
S3_SOURCE = "https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3.html"
CONNECTION = "https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html"
CONNECTION_ACL = "https://github.com/aws/aws-cdk/issues/13557"  # the connection source action puts its zip with an ACL
CODEBUILD_ACTION = "https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html"
LAMBDA_ACTION = "https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-Lambda.html"
APPROVAL = "https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-configure-notifications.html"
BUILD_ROLE = "https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html"
EVENTS_TARGET = "https://docs.aws.amazon.com/codepipeline/latest/userguide/create-cloudtrail-S3-source-cfn.html"
EVENTS_LAMBDA = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html"
GUARDRAILS = "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html"
TRAIL_BUCKET = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html"
TRAIL_KEY = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html"
TRAIL_LOGS = ("https://docs.aws.amazon.com/awscloudtrail/latest/userguide/"
              "cloudtrail-required-policy-for-cloudwatch-logs.html")
HOSTING = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms"
TEARDOWN = "lambdas/mlops_teardown (the stack's deletion), per the service authorization reference"

KEY, ARTIFACTS = "${MlopsKey*.Arn}", "${ArtifactsBucket*.Arn}"
CODE_PIPELINE = arn("codepipeline", "mlref-mlops")
TRAIL = arn("cloudtrail", "trail/mlref-mlops-audit")
TRAIL_FILES = "${AuditTrailBucket*.Arn}/AWSLogs/${AWS::AccountId}/CloudTrail/${AWS::Region}/2026/12/01/"
STORED = f"{ARTIFACTS}/mlref-mlops/Code/AbCdEf1.zip"  # a source artifact in the pipeline's artifact store


def _s3_source(options) -> bool:
    return not options.github


def _github(options) -> bool:
    return options.github


def _drift(options) -> bool:
    return options.drift


CALLS = (
    # CodePipeline runs the stages with its one role.
    assumed("DeliveryRole*", "codepipeline.amazonaws.com", PIPELINE_ROLE),
    *acting_as("DeliveryRole*", S3_SOURCE, [
        ("s3:GetObject", "${SourceBucket*.Arn}/source/model-code.zip"),
        ("s3:GetBucketVersioning", "${SourceBucket*.Arn}"),
        ("kms:Decrypt", KEY, via("s3")),
    ], when=_s3_source, purpose="the S3 source action"),
    *acting_as("DeliveryRole*", CONNECTION, [("codeconnections:UseConnection", CONNECTION_EXAMPLE)],
               when=_github, purpose="the GitHub source action"),
    *acting_as("DeliveryRole*", CONNECTION_ACL, [("s3:PutObjectAcl", STORED)], when=_github,
               purpose="the GitHub source action's upload of the repository zip"),
    *acting_as("DeliveryRole*", PIPELINE_ROLE, [
        ("s3:PutObject", STORED), ("s3:GetObject", STORED), ("kms:GenerateDataKey", KEY, via("s3")),
    ], purpose="the artifact store"),
    *acting_as("DeliveryRole*", CODEBUILD_ACTION, [
        ("codebuild:StartBuild", "${BuildsBuild*.Arn}"), ("codebuild:BatchGetBuilds", "${BuildsIntegration*.Arn}"),
    ], purpose="the build and test actions"),
    *acting_as("DeliveryRole*", LAMBDA_ACTION, [
        ("lambda:InvokeFunction", "${ActionsTrainFunction*.Arn}"),
        ("lambda:InvokeFunction", "${ActionsDeployFunction*.Arn}"),
    ], purpose="the Train, Staging and Production actions"),
    *acting_as("DeliveryRole*", APPROVAL, [("sns:Publish", "${DeliveryApprovals*}"),
                                           ("kms:GenerateDataKey", KEY, via("sns"))],
               present="DeliveryApprovals*", purpose="the approval's e-mail"),
    refused("DeliveryRole*", "lambda:InvokeFunction", "${RetrainingStartFunction*.Arn}",
            "the pipeline invokes its own action functions only", present="RetrainingStartFunction*"),
    # EventBridge starts the pipeline when the source zip changes.
    assumed("DeliveryTriggerRole*", "events.amazonaws.com", EVENTS_TARGET, present="DeliveryTriggerRole*"),
    *acting_as("DeliveryTriggerRole*", EVENTS_TARGET, [("codepipeline:StartPipelineExecution", CODE_PIPELINE)],
               present="DeliveryTriggerRole*", purpose="a new source version starts a run"),
    # The two CodeBuild projects.
    *(assumed(role, "codebuild.amazonaws.com", BUILD_ROLE, source_arn=arn("codebuild", f"project/{project}"))
      for role, project in (("BuildsBuildRole*", "mlref-mlops-build-test"),
                            ("BuildsIntegrationRole*", "mlref-mlops-integration"))),
    refused("codebuild.amazonaws.com", "sts:AssumeRole", "${BuildsBuildRole*.Arn}",
            "another CodeBuild project of the account cannot take the unit-test build's role", BUILD_ROLE,
            context={"aws:SourceAccount": "${AWS::AccountId}",
                     "aws:SourceArn": arn("codebuild", "project/someone-elses-project")}),
    *acting_as("BuildsBuildRole*", BUILD_ROLE, [
        ("s3:GetObject", STORED), ("kms:Decrypt", KEY, via("s3")),
        ("logs:CreateLogStream", "${BuildsLogs*.Arn}"),
        ("logs:PutLogEvents", arn("logs", "log-group:${BuildsLogs*}:log-stream:0a1b2c3d")),
        ("sagemaker:DescribePipeline", arn("sagemaker", "pipeline/mlref-mlops-build")),
        ("s3:PutObject", f"{ARTIFACTS}/code/0a1b2c3d/preprocess.py"), ("kms:GenerateDataKey", KEY, via("s3")),
    ], purpose="unit tests, the pipeline lint, the scripts' upload"),
    *acting_as("BuildsIntegrationRole*", BUILD_ROLE, [
        ("s3:GetObject", STORED), ("s3:GetObject", f"{ARTIFACTS}/runs/x/preprocess/test/test.csv"),
        ("sagemaker:InvokeEndpoint", arn("sagemaker", "endpoint/mlref-mlops-staging")),
    ], purpose="the integration test on staging"),
    refused("BuildsIntegrationRole*", "sagemaker:InvokeEndpoint", arn("sagemaker", "endpoint/mlref-mlops-prod"),
            "the integration test invokes staging, never production"),
    refused("BuildsBuildRole*", "sagemaker:InvokeEndpoint", arn("sagemaker", "endpoint/mlref-mlops-staging"),
            "the unit tests run offline: the build role invokes no endpoint"),
    # The Lambda actions.
    *(assumed(role, "lambda.amazonaws.com", LAMBDA_ACTION) for role in (
        "ActionsTrainExecutionRole*", "ActionsDeployExecutionRole*")),
    *acting_as("ActionsTrainExecutionRole*", LAMBDA_ACTION, [
        ("sagemaker:StartPipelineExecution", arn("sagemaker", "pipeline/mlref-mlops-build")),
        ("sagemaker:DescribePipelineExecution", arn("sagemaker", "pipeline/mlref-mlops-build/execution/abc123")),
        ("sagemaker:UpdateModelPackage", arn("sagemaker", "model-package/mlref-mlops-models/3")),
        ("s3:GetObject", f"{ARTIFACTS}/runs/abc123/evaluation/evaluation.json"), ("kms:Decrypt", KEY, via("s3")),
        ("codepipeline:PutJobSuccessResult", "*"),
    ], purpose="the Train action"),
    *acting_as("ActionsDeployExecutionRole*", LAMBDA_ACTION, [
        ("sagemaker:CreateModel", arn("sagemaker", "model/mlref-mlops-prod-v3")),
        ("sagemaker:CreateEndpointConfig", arn("sagemaker", "endpoint-config/mlref-mlops-prod-v3")),
        ("sagemaker:UpdateEndpoint", arn("sagemaker", "endpoint/mlref-mlops-prod")),
        ("sagemaker:CreateEndpoint", arn("sagemaker", "endpoint/mlref-mlops-staging")),
        ("sagemaker:UpdateModelPackage", arn("sagemaker", "model-package/mlref-mlops-models/3")),
        ("iam:PassRole", "${ActionsModelRole*.Arn}", {"iam:PassedToService": "sagemaker.amazonaws.com"}),
        ("codepipeline:ListActionExecutions", CODE_PIPELINE),
        ("codepipeline:PutJobFailureResult", "*"),
    ], purpose="the Staging and Production actions"),
    *acting_as("ActionsDeployExecutionRole*", GUARDRAILS, [
        ("cloudwatch:DescribeAlarms", "${ActionsRollbackAlarm*.Arn}"),
    ], purpose="UpdateEndpoint's blue/green guardrails read the rollback alarm"),
    refused("ActionsDeployExecutionRole*", "sagemaker:UpdateEndpoint",
            arn("sagemaker", "endpoint/mlref-endpoint-0a1b2c3d"),
            "the deploy action updates the lab's two endpoints and no other"),
    assumed("ActionsModelRole*", "sagemaker.amazonaws.com", HOSTING),
    *acting_as("ActionsModelRole*", HOSTING, [
        ("s3:GetObject", f"{ARTIFACTS}/runs/abc123/model/pipelines-abc123-TrainModel-x/output/model.tar.gz"),
        ("ecr:BatchGetImage", "arn:${AWS::Partition}:ecr:${AWS::Region}:683313688378:repository/sagemaker-xgboost"),
    ], purpose="SageMaker hosts the approved model"),
    # Retraining.
    assumed("RetrainingStartExecutionRole*", "lambda.amazonaws.com", EVENTS_LAMBDA, present="RetrainingStart*"),
    *acting_as("RetrainingStartExecutionRole*", EVENTS_LAMBDA, [
        ("codepipeline:StartPipelineExecution", CODE_PIPELINE),
    ], present="RetrainingStart*", purpose="a retraining run, with its reason"),
    *acting_as("events.amazonaws.com", EVENTS_LAMBDA, [
        ("lambda:InvokeFunction", "${RetrainingStartFunction*.Arn}", {"aws:SourceArn": "${RetrainingOnDrift*.Arn}"}),
    ], when=_drift, purpose="the drift alarm's rule invokes the retraining function"),
    refused("RetrainingStartExecutionRole*", "codepipeline:StopPipelineExecution", CODE_PIPELINE,
            "the retraining function starts runs and stops none", present="RetrainingStart*"),
    # The audit trail.
    *acting_as("cloudtrail.amazonaws.com", TRAIL_BUCKET, [
        ("s3:GetBucketAcl", "${AuditTrailBucket*.Arn}", {"aws:SourceArn": TRAIL}),
        ("s3:PutObject", f"{TRAIL_FILES}x.json.gz",
         {"aws:SourceArn": TRAIL, "s3:x-amz-acl": "bucket-owner-full-control"}),
    ], purpose="the trail delivers its log files"),
    *acting_as("cloudtrail.amazonaws.com", TRAIL_KEY, [("kms:DescribeKey", KEY, {"aws:SourceArn": TRAIL})],
               purpose="the trail checks its key"),
    refused("cloudtrail.amazonaws.com", "s3:PutObject", f"{TRAIL_FILES}y.json.gz",
            "another trail may not write into the lab's trail bucket", TRAIL_BUCKET,
            context={"aws:SourceArn": arn("cloudtrail", "trail/someone-elses"),
                     "s3:x-amz-acl": "bucket-owner-full-control"}),
    assumed("AuditLogsRole*", "cloudtrail.amazonaws.com", TRAIL_LOGS),
    *acting_as("AuditLogsRole*", TRAIL_LOGS, [
        ("logs:PutLogEvents", arn("logs", "log-group:${AuditLogs*}:log-stream:111122223333_CloudTrail_us-east-1")),
    ], purpose="the trail's copy in CloudWatch Logs"),
    # The teardown.
    *acting_as("TeardownClearFunctionExecutionRole*", TEARDOWN, [
        ("codepipeline:StopPipelineExecution", CODE_PIPELINE),
        ("codebuild:StopBuild", "${BuildsBuild*.Arn}"),
        ("sagemaker:DeleteEndpoint", arn("sagemaker", "endpoint/mlref-mlops-prod")),
        ("sagemaker:DeleteModelPackage", arn("sagemaker", "model-package/mlref-mlops-models/3")),
    ], purpose="the stack's deletion stops runs and clears endpoints"),
)
