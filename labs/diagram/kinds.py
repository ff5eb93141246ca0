"""What each resource type means in a diagram: its label, and whether it is a node. Pure data.

Labels read ``"S3 bucket\\nRawZone"``: ``kind_of`` the type, then ``name_of`` the resource
(its construct path without the stack and generic tails, ``RawZone/Bucket/Resource`` ->
``RawZone``, or the logical id without its hash when there is no path metadata). Grants are
labelled by ``summarize_actions``.

Which resources are no nodes: aws-cdk-lib's helpers (``is_cdk_helper``), policies and
permissions (drawn as grant edges), the ``EDGE_RESOURCES`` (drawn as edges), and the
plumbing in ``FOLDED_INTO`` (folded into the resource a property names). ``NAMED_TYPES`` say
where a type's literal physical name is, so literal names and ARNs can be matched to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Resource kinds whose name alone does not read well when generated from the type.
_KIND_NAMES = {
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::KMS::Key": "KMS key",
    "AWS::IAM::Role": "IAM role",
    "AWS::IAM::User": "IAM user",
    "AWS::IAM::Group": "IAM group",
    "AWS::Lambda::Function": "Lambda function",
    "AWS::Logs::LogGroup": "Log group",
    "AWS::Kinesis::Stream": "Kinesis data stream",
    "AWS::KinesisFirehose::DeliveryStream": "Firehose stream",
    "AWS::RedshiftServerless::Namespace": "Redshift Serverless namespace",
    "AWS::RedshiftServerless::Workgroup": "Redshift Serverless workgroup",
    "AWS::LakeFormation::Resource": "Lake Formation location",
    "AWS::LakeFormation::DataLakeSettings": "Lake Formation settings",
    "AWS::Scheduler::Schedule": "EventBridge schedule",
    "AWS::Events::Rule": "EventBridge rule",
    "AWS::EC2::VPC": "VPC",
    "AWS::EC2::VPCEndpoint": "VPC endpoint",
    "AWS::EC2::SecurityGroup": "Security group",
    "AWS::EC2::InternetGateway": "Internet gateway",
    "AWS::EC2::NatGateway": "NAT gateway",
    "AWS::EC2::FlowLog": "VPC flow log",
    "AWS::SecretsManager::Secret": "Secret",
    "AWS::Athena::WorkGroup": "Athena workgroup",
    "AWS::SageMaker::FeatureGroup": "Feature group",
    "AWS::EFS::FileSystem": "EFS file system",
    "AWS::Budgets::Budget": "Cost budget",
}

_SERVICE_NAMES = {
    "Logs": "CloudWatch Logs",
    "LakeFormation": "Lake Formation",
    "KinesisFirehose": "Data Firehose",
    "RedshiftServerless": "Redshift Serverless",
    "Scheduler": "EventBridge",
    "Events": "EventBridge",
    "EC2": "VPC",
    "SecretsManager": "Secrets Manager",
    "StepFunctions": "Step Functions",
    "CloudWatch": "CloudWatch",
    "Custom": "Custom resource",
}

_HASH_SUFFIX = re.compile(r"(?<=.)[0-9A-F]{8}$")
_GENERIC_TAILS = {"resource", "default"}


def _words(name: str) -> list[str]:
    return re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", name)


def service_of(resource_type: str) -> str:
    """The service a type belongs to, as shown in the legend: ``AWS::S3::Bucket`` -> ``S3``."""
    parts = resource_type.split("::")
    if parts[0] == "Custom" or resource_type == "AWS::CloudFormation::CustomResource":
        return "Custom resource"
    service = parts[1] if len(parts) > 1 else resource_type
    return _SERVICE_NAMES.get(service, service)


def kind_of(resource_type: str) -> str:
    """The first line of a label: ``AWS::Glue::Crawler`` -> ``Glue crawler``."""
    if resource_type in _KIND_NAMES:
        return _KIND_NAMES[resource_type]
    parts = resource_type.split("::")
    if parts[0] == "Custom":
        return resource_type if len(resource_type) <= 26 else "Custom resource"
    words = _words(parts[-1])
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return f"{service_of(resource_type)} {text}"


def name_of(logical_id: str, resource: dict) -> str:
    """The second line of a label: the construct path without stack and generic tails.

    ``mlref-data-lake/RawZone/Bucket/Resource`` -> ``RawZone``; without path metadata the
    logical id without its hash and type (``RawZoneBucketD23CD850`` -> ``RawZone``).
    """
    tail = resource["Type"].split("::")[-1]
    tail_words = [w.lower() for w in _words(tail)]
    # a custom type names what the resource does, not a kind of resource: keep its words
    generic = set() if resource["Type"].startswith("Custom::") else set(tail_words) | {tail.lower()}
    path = resource.get("Metadata", {}).get("aws:cdk:path")
    if isinstance(path, str) and "/" in path:
        segments = path.split("/")[1:]
        while len(segments) > 1 and segments[-1].lower() in _GENERIC_TAILS:
            segments.pop()
        if len(segments) > 1 and segments[-1].lower() in generic:
            segments.pop()
        return "/".join(segments[-2:])
    name = _HASH_SUFFIX.sub("", logical_id)
    words = _words(name)
    if "".join(words) != name:  # not plain camel case: leave it as it is
        return name
    # strip the type from the end unless too little is left (RawZoneBucket -> RawZone, RawDatabase stays)
    if generic and len(words) > len(tail_words) and [w.lower() for w in words[-len(tail_words):]] == tail_words:
        rest = "".join(words[: -len(tail_words)])
        if len(rest) >= 6:
            return rest
    return name


_VERB_ORDER = ("GetObject", "PutObject", "PutRecord", "Get", "Put", "Invoke", "SELECT", "Select", "Query",
               "Decrypt", "Encrypt", "Send", "Describe", "List")


def summarize_actions(actions: Iterable[str]) -> str:
    """One representative action per service, ``…`` when it has more: ``kms:Decrypt, s3:GetObject…``."""
    by_service: dict[str, list[str]] = {}
    for action in sorted(set(actions)):
        by_service.setdefault(action.split(":")[0], []).append(action)
    return ", ".join(_representative(group) for _, group in sorted(by_service.items()))


def _representative(unique: list[str]) -> str:
    """The most telling of one service's actions (reads before writes before the rest)."""

    def rank(action: str) -> tuple[int, str]:
        verb = action.split(":")[-1]
        for index, prefix in enumerate(_VERB_ORDER):
            if verb.startswith(prefix):
                return index, action
        return len(_VERB_ORDER), action

    best = min(unique, key=rank)
    return best + ("…" if len(unique) > 1 else "")


# aws-cdk-lib's own helper machinery: dropped with its edges.
HELPER_ID_PREFIXES = (
    "CustomS3AutoDeleteObjects",
    "AWS679f53fac002430cb0da5b7982bd2287",
    "LogRetention",
    "BucketNotificationsHandler",
    "CustomCDKBucketDeployment",
    "CustomVpcRestrictDefaultSG",
    "CustomCrossRegionExportReader",
    "CustomCrossRegionExportWriter",
)
HELPER_TYPES = {
    "Custom::S3AutoDeleteObjects",
    "Custom::VpcRestrictDefaultSG",
    "Custom::LogRetention",
    "Custom::CDKBucketDeployment",
    "Custom::AWS",
    "Custom::S3BucketNotifications",
    "Custom::CrossRegionExportReader",
    "Custom::CrossRegionExportWriter",
}
_HELPER_PATH = re.compile(r"/(Custom::\w+CustomResourceProvider|LogRetention[0-9a-f]{32}|"
                          r"BucketNotificationsHandler[0-9a-f]{32}|AWS679f53fac002430cb0da5b7982bd2287)(/|$)")

# Resources folded into the resource a property names (first reference in it).
FOLDED_INTO = {
    "AWS::S3::BucketPolicy": "Bucket",
    "AWS::SQS::QueuePolicy": "Queues",
    "AWS::SNS::TopicPolicy": "Topics",
    "AWS::EC2::SecurityGroupIngress": "GroupId",
    "AWS::EC2::SecurityGroupEgress": "GroupId",
    "AWS::EC2::Subnet": "VpcId",
    "AWS::EC2::RouteTable": "VpcId",
    "AWS::EC2::Route": "RouteTableId",
    "AWS::EC2::SubnetRouteTableAssociation": "SubnetId",
    "AWS::EC2::VPCGatewayAttachment": "VpcId",
    "AWS::EC2::NetworkAcl": "VpcId",
    "AWS::EC2::NetworkAclEntry": "NetworkAclId",
    "AWS::EC2::SubnetNetworkAclAssociation": "SubnetId",
    "AWS::Logs::LogStream": "LogGroupName",
    "AWS::KMS::Alias": "TargetKeyId",
    "AWS::IAM::InstanceProfile": "Roles",
    "AWS::Lambda::Version": "FunctionName",
    "AWS::Lambda::Alias": "FunctionName",
}

POLICY_TYPES = {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
LF_PERMISSION_TYPES = {"AWS::LakeFormation::PrincipalPermissions", "AWS::LakeFormation::Permissions"}
# Resources that become edges: type -> (property of the edge's source, of its target, kind, label).
EDGE_RESOURCES = {
    "AWS::Lambda::EventSourceMapping": ("EventSourceArn", "FunctionName", "event", "event source"),
    "AWS::Lambda::Permission": ("SourceArn", "FunctionName", "event", "invokes"),
    "AWS::SNS::Subscription": ("TopicArn", "Endpoint", "event", "subscription"),
    "AWS::FSx::DataRepositoryAssociation": ("FileSystemId", "DataRepositoryPath", "reference", "data repository"),
}

# Types that serve a data flow without being part of it (a Firehose's role, key, logs).
SUPPORT_TYPES = {"AWS::IAM::Role", "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::Logs::LogStream",
                  "AWS::SecretsManager::Secret", "AWS::EC2::SecurityGroup", "AWS::EC2::Subnet"}
NOTIFICATION_KEYS = {"Function", "Queue", "Topic", "LambdaFunctionArn", "QueueArn", "TopicArn"}

# Physical names given literally: type -> (property path of the name, ARN fragments before the name).
NAMED_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "AWS::S3::Bucket": (("BucketName",), (":::",)),
    "AWS::Glue::Database": (("DatabaseInput", "Name"), (":database/", ":table/")),
    "AWS::Glue::Table": (("TableInput", "Name"), ()),
    "AWS::Glue::Crawler": (("Name",), (":crawler/",)),
    "AWS::Glue::SecurityConfiguration": (("Name",), ()),
    "AWS::Athena::WorkGroup": (("Name",), (":workgroup/",)),
    "AWS::Kinesis::Stream": (("Name",), (":stream/",)),
    "AWS::KinesisFirehose::DeliveryStream": (("DeliveryStreamName",), (":deliverystream/",)),
    "AWS::Logs::LogGroup": (("LogGroupName",), (":log-group:",)),
    "AWS::Lambda::Function": (("FunctionName",), (":function:",)),
    "AWS::IAM::Role": (("RoleName",), (":role/",)),
    "AWS::SageMaker::FeatureGroup": (("FeatureGroupName",), (":feature-group/",)),
    "AWS::RedshiftServerless::Namespace": (("NamespaceName",), ()),
    "AWS::RedshiftServerless::Workgroup": (("WorkgroupName",), ()),
    "AWS::SecretsManager::Secret": (("Name",), (":secret:",)),
    "AWS::DynamoDB::Table": (("TableName",), (":table/",)),
    "AWS::ECR::Repository": (("RepositoryName",), (":repository/",)),
}


def is_cdk_helper(logical_id: str, resource: dict) -> bool:
    """A resource aws-cdk-lib adds for its own machinery rather than the lab's architecture."""
    if resource.get("Type") in HELPER_TYPES or logical_id.startswith(HELPER_ID_PREFIXES):
        return True
    path = resource.get("Metadata", {}).get("aws:cdk:path", "")
    return bool(isinstance(path, str) and _HELPER_PATH.search(path))
