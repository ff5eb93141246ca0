"""Constructs of the mlops lab only: the CodeBuild projects, the CodePipeline and its Lambda actions,
retraining, the audit trail and the teardown."""
