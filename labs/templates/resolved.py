"""A synthesized template's values as they would be once deployed: every intrinsic function resolved
to plain text for one example account and region. CDK-free, pure.

The IAM linter (tests) and ``labs permissions`` read policies with it: ``Ref Bucket`` becomes the
bucket's name, ``Fn::GetAtt Bucket.Arn`` its ARN, ``Fn::Join``/``Fn::Sub`` the joined text. A
resource without a name property gets the name CloudFormation would generate,
``<stack>-<LogicalId>-<suffix>`` (lower-case for buckets). ``${Pattern*.Attr}`` in a ``Fn::Sub``
text names the one resource whose logical id matches the shell pattern: the lab contracts name
resources that way without copying the hash aws-cdk-lib appends.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from labs.engine.errors import LabError

EXAMPLE_ACCOUNT = "111122223333"
SUFFIX = "EXAMPLE1A2B"
SUB = re.compile(r"\$\{([^}]+)\}")

# The property that names a resource, where it is not "<type name>Name" or "Name".
NAME_PROPERTY = {"AWS::S3::Bucket": "BucketName", "AWS::IAM::Role": "RoleName", "AWS::Athena::WorkGroup": "Name",
                 "AWS::KMS::Key": None, "AWS::SQS::Queue": "QueueName", "AWS::SNS::Topic": "TopicName",
                 "AWS::Kinesis::Stream": "Name", "AWS::Events::Rule": "Name",
                 "AWS::SageMaker::DataQualityJobDefinition": "JobDefinitionName"}
# Names inside an input structure: {type: (structure, key)}.
NESTED_NAME = {"AWS::Glue::Database": ("DatabaseInput", "Name"), "AWS::Glue::Table": ("TableInput", "Name")}
# What Ref returns when it is not the name: {type: format of the value, from name / arn}.
REF_IS = {"AWS::SQS::Queue": "https://sqs.{region}.amazonaws.com/{account}/{name}", "AWS::SNS::Topic": "{arn}",
          "AWS::SecretsManager::Secret": "{arn}", "AWS::StepFunctions::StateMachine": "{arn}",
          "AWS::IAM::ManagedPolicy": "{arn}", "AWS::SageMaker::Model": "{arn}", "AWS::SageMaker::Endpoint": "{arn}",
          "AWS::SageMaker::EndpointConfig": "{arn}", "AWS::SageMaker::ModelPackageGroup": "{arn}",
          "AWS::SageMaker::MonitoringSchedule": "{arn}", "AWS::SageMaker::DataQualityJobDefinition": "{arn}"}
# ARN of each resource type the lab templates name by ARN ({name}: its physical name).
ARN = {
    "AWS::S3::Bucket": "arn:{partition}:s3:::{name}",
    "AWS::IAM::Role": "arn:{partition}:iam::{account}:role/{name}",
    "AWS::IAM::ManagedPolicy": "arn:{partition}:iam::{account}:policy/{name}",
    "AWS::KMS::Key": "arn:{partition}:kms:{region}:{account}:key/{name}",
    "AWS::Logs::LogGroup": "arn:{partition}:logs:{region}:{account}:log-group:{name}:*",
    "AWS::SQS::Queue": "arn:{partition}:sqs:{region}:{account}:{name}",
    "AWS::SNS::Topic": "arn:{partition}:sns:{region}:{account}:{name}",
    "AWS::Kinesis::Stream": "arn:{partition}:kinesis:{region}:{account}:stream/{name}",
    "AWS::KinesisFirehose::DeliveryStream": "arn:{partition}:firehose:{region}:{account}:deliverystream/{name}",
    "AWS::Lambda::Function": "arn:{partition}:lambda:{region}:{account}:function:{name}",
    "AWS::Events::Rule": "arn:{partition}:events:{region}:{account}:rule/{name}",
    "AWS::StepFunctions::StateMachine": "arn:{partition}:states:{region}:{account}:stateMachine:{name}",
    "AWS::SecretsManager::Secret": "arn:{partition}:secretsmanager:{region}:{account}:secret:{name}-AbCdEf",
    "AWS::Glue::Crawler": "arn:{partition}:glue:{region}:{account}:crawler/{name}",
    "AWS::Glue::Job": "arn:{partition}:glue:{region}:{account}:job/{name}",
    "AWS::Athena::WorkGroup": "arn:{partition}:athena:{region}:{account}:workgroup/{name}",
    "AWS::Scheduler::Schedule": "arn:{partition}:scheduler:{region}:{account}:schedule/default/{name}",
    "AWS::RedshiftServerless::Workgroup": "arn:{partition}:redshift-serverless:{region}:{account}:workgroup/{name}",
    "AWS::RedshiftServerless::Namespace": "arn:{partition}:redshift-serverless:{region}:{account}:namespace/{name}",
    "AWS::EMRServerless::Application": "arn:{partition}:emr-serverless:{region}:{account}:/applications/{name}",
    "AWS::SageMaker::Model": "arn:{partition}:sagemaker:{region}:{account}:model/{lower}",
    "AWS::SageMaker::Endpoint": "arn:{partition}:sagemaker:{region}:{account}:endpoint/{lower}",
    "AWS::SageMaker::EndpointConfig": "arn:{partition}:sagemaker:{region}:{account}:endpoint-config/{lower}",
    "AWS::SageMaker::FeatureGroup": "arn:{partition}:sagemaker:{region}:{account}:feature-group/{lower}",
    "AWS::SageMaker::Pipeline": "arn:{partition}:sagemaker:{region}:{account}:pipeline/{lower}",
    "AWS::SageMaker::ModelPackageGroup": "arn:{partition}:sagemaker:{region}:{account}:model-package-group/{lower}",
    "AWS::SageMaker::MonitoringSchedule": "arn:{partition}:sagemaker:{region}:{account}:monitoring-schedule/{lower}",
    "AWS::SageMaker::DataQualityJobDefinition":
        "arn:{partition}:sagemaker:{region}:{account}:data-quality-job-definition/{lower}",
    "AWS::CloudWatch::Alarm": "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}",
    "AWS::CodeBuild::Project": "arn:{partition}:codebuild:{region}:{account}:project/{name}",
    "AWS::CodePipeline::Pipeline": "arn:{partition}:codepipeline:{region}:{account}:{name}",
    "AWS::CloudTrail::Trail": "arn:{partition}:cloudtrail:{region}:{account}:trail/{name}",
}
# Attributes other than Arn: {attribute suffix: format}.
ATTRIBUTES = {"Name": "{name}", "WorkgroupName": "{name}", "WorkgroupArn": "{arn}", "NamespaceArn": "{arn}",
              "EndpointName": "{name}", "FeatureGroupName": "{name}", "PipelineName": "{name}",
              "ModelPackageGroupArn": "{arn}", "JobDefinitionArn": "{arn}", "MonitoringScheduleArn": "{arn}",
              "ModelName": "{name}", "EndpointConfigName": "{name}", "KeyId": "{name}", "QueueUrl": "{ref}",
              "QueueName": "{name}", "TopicName": "{name}", "StreamName": "{name}"}


class TemplateValues:
    """Resolves the values of one stack's template (see the module docstring)."""

    def __init__(self, template: Mapping[str, Any], *, stack_name: str, region: str = "us-east-1",
                 account: str = EXAMPLE_ACCOUNT, partition: str = "aws") -> None:
        self.template, self.stack_name = template, stack_name
        self.resources: Mapping[str, dict] = template.get("Resources", {})
        self.region, self.account, self.partition = region, account, partition
        self.pseudo = {"AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": partition,
                       "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None, "AWS::StackName": stack_name,
                       "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/"
                                       "00000000-0000-4000-8000-000000000000"}

    # -- resources ---------------------------------------------------------------------------

    def logical_id(self, name: str) -> str:
        """``name`` itself, or the one logical id its pattern (``RawZoneBucket*``, see ``matching``) names."""
        if "*" not in name and "?" not in name:
            if name not in self.resources:
                raise LabError(f"{self.stack_name} has no resource {name}: synthesize the lab again")
            return name
        found = self.matching(name)
        if len(found) != 1:
            raise LabError(f"{name} matches {len(found) or 'no'} resources of {self.stack_name}"
                           + (f" ({', '.join(found)})" if found else "") + ": name one resource of its template")
        return found[0]

    def matching(self, pattern: str) -> list[str]:
        """The logical ids ``pattern`` names: ``Name*`` is first read as Name with aws-cdk-lib's 8-character
        hash (``RawZoneBucketD23CD850``, not ``RawZoneBucketPolicy1B9F8BCC``), then as a shell pattern."""
        if pattern.endswith("*") and not any(c in pattern[:-1] for c in "*?["):
            hashed = re.compile(re.escape(pattern[:-1]) + "[0-9A-F]{8}")
            exact = [logical_id for logical_id in self.resources if hashed.fullmatch(logical_id)]
            if exact:
                return exact
        return [logical_id for logical_id in self.resources if fnmatch.fnmatchcase(logical_id, pattern)]

    def name(self, logical_id: str) -> str:
        """The physical name: the name property's value, else the name CloudFormation generates."""
        resource = self.resources[logical_id]
        kind, props = resource["Type"], resource.get("Properties", {})
        short = kind.rsplit("::", 1)[-1]
        if kind in NESTED_NAME:
            structure, key = NESTED_NAME[kind]
            props = props.get(structure, {})
        for key in (NAME_PROPERTY.get(kind, f"{short}Name"), "Name"):
            if key and isinstance(props.get(key), (str, dict)):
                return str(self.resolve(props[key]))
        if kind == "AWS::KMS::Key":
            digest = hashlib.sha256(logical_id.encode()).hexdigest()
            return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"
        generated = f"{self.stack_name}-{re.sub(r'[0-9A-F]{8}$', '', logical_id)}-{SUFFIX}"
        return generated.lower()[:63] if kind == "AWS::S3::Bucket" else generated[:64]

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        if kind not in ARN:
            raise LabError(f"{self.stack_name}: no ARN format for {kind} ({logical_id}) in labs/templates/resolved.py")
        name = self.name(logical_id)
        return ARN[kind].format(partition=self.partition, region=self.region, account=self.account, name=name,
                                lower=name.lower())

    def ref(self, name: str) -> str | None:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.template.get("Parameters", {}):
            return str(self.template["Parameters"][name].get("Default", f"<{name}>"))
        logical_id = self.logical_id(name)
        kind = self.resources[logical_id]["Type"]
        if kind in REF_IS:
            return REF_IS[kind].format(arn=self.arn(logical_id), name=self.name(logical_id), region=self.region,
                                       account=self.account)
        return self.name(logical_id)

    def get_att(self, name: str, attribute: str) -> str:
        logical_id = self.logical_id(name)
        if attribute == "Arn":
            return self.arn(logical_id)
        last = attribute.rsplit(".", 1)[-1]
        if last not in ATTRIBUTES:
            return f"{self.name(logical_id)}-{last.lower()}"  # an id or a mount name: any stable text
        arn = self.arn(logical_id) if "{arn}" in ATTRIBUTES[last] else ""
        return ATTRIBUTES[last].format(name=self.name(logical_id), arn=arn, ref=self.ref(logical_id))

    def output(self, key: str) -> str:
        outputs = self.template.get("Outputs", {})
        if key not in outputs:
            raise LabError(f"{self.stack_name} has no output {key}: synthesize the lab again")
        return str(self.resolve(outputs[key]["Value"]))

    # -- values --------------------------------------------------------------------------------

    def sub(self, text: str, variables: Mapping[str, Any] | None = None) -> str:
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if variables and name in variables:
                return str(self.resolve(variables[name]))
            if name in self.pseudo or "." not in name:
                return str(self.ref(name))
            resource, attribute = name.split(".", 1)
            return self.get_att(resource, attribute)

        return SUB.sub(one, text)

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function resolved; plain values as they are."""
        if isinstance(value, list):
            return [resolved for inner in value if (resolved := self.resolve(inner)) is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (function, argument), = value.items()
            if function in FUNCTIONS:
                return FUNCTIONS[function](self, argument)
        return {key: self.resolve(inner) for key, inner in value.items()}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))


def _get_att(values: TemplateValues, argument: Any) -> str:
    name, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
    return values.get_att(name, values.resolve(attribute))


def _sub(values: TemplateValues, argument: Any) -> str:
    text, variables = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
    return values.sub(text, variables)


def _select(values: TemplateValues, argument: list) -> Any:
    return values.resolve(argument[1])[int(values.resolve(argument[0]))]


FUNCTIONS = {
    "Ref": lambda values, name: values.ref(name),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": lambda values, a: str(a[0]).join(str(part) for part in values.resolve(a[1])),
    "Fn::Select": _select,
    "Fn::Split": lambda values, a: str(values.resolve(a[1])).split(a[0]),
    "Fn::FindInMap": lambda values, a: values.template["Mappings"][values.resolve(a[0])][values.resolve(a[1])][
        values.resolve(a[2])],
    "Fn::GetAZs": lambda values, _: [f"{values.region}{zone}" for zone in "abc"],
    "Fn::Base64": lambda values, a: values.resolve(a),
    "Fn::ToJsonString": lambda values, a: json.dumps(values.resolve(a), separators=(",", ":")),
    "Fn::If": lambda values, a: values.resolve(a[1] if values.condition(a[0]) else a[2]),
    "Fn::Equals": lambda values, a: values.resolve(a[0]) == values.resolve(a[1]),
    "Fn::Not": lambda values, a: not values.resolve(a[0]),
    "Fn::And": lambda values, a: all(values.resolve(a)),
    "Fn::Or": lambda values, a: any(values.resolve(a)),
    "Condition": lambda values, name: values.condition(name),
}
