"""``labs diagram``: the graph read from each lab's template, its layout, and the files drawn."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree

import pytest

from catalog import LABS, UnknownLab
from labs.cli import main as cli
from labs.diagram.command import (
    EDGE_KINDS,
    NODE_HEIGHT,
    NODE_WIDTH,
    Edge,
    Graph,
    Node,
    build_graph,
    diagram_lab,
    layout,
    render,
    route,
    summarize_actions,
)
from labs.engine.atomic_write import write_atomically
from labs.engine.errors import LabError

LAB_NAMES = ["data-lake", "clickstream", "fsx-training", "feature-store"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- helpers


def node(graph: Graph, resource_type: str, text: str) -> Node:
    """The one node of a type whose label contains ``text`` (or, among several, is named ``text``)."""
    found = [n for n in graph.nodes.values() if n.type == resource_type and text in n.label]
    if len(found) > 1:
        found = [n for n in found if n.label.split("\n", 1)[1] == text]
    assert len(found) == 1, f"{resource_type} with {text!r}: {[n.label for n in found]} in " \
                            f"{sorted(n.label for n in graph.nodes.values() if n.type == resource_type)}"
    return found[0]


def edge(graph: Graph, source: Node, target: Node, kind: str | None = None) -> Edge:
    """The edge between two nodes (of a kind, if given)."""
    found = [e for e in graph.edges if e.source == source.id and e.target == target.id
             and (kind is None or e.kind == kind)]
    assert found, f"no {kind or ''} edge {source.label!r} -> {target.label!r}; from it: " \
                  f"{[(e.target, e.kind) for e in graph.edges if e.source == source.id]}"
    return found[0]


def kinds_between(graph: Graph, source: Node, target: Node) -> set[str]:
    return {e.kind for e in graph.edges if {e.source, e.target} == {source.id, target.id}}


@pytest.fixture(scope="module")
def graphs(synthesized) -> dict[str, Graph]:
    return {lab: build_graph(synthesized["sandbox"].templates[lab]) for lab in LAB_NAMES}


def role(name: str) -> dict:
    return {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}, "RoleName": name}}


# --------------------------------------------------------------------------- references, in small templates


def test_references_are_found_in_ref_getatt_sub_and_join_parts_anywhere_in_properties():
    template = {
        "Parameters": {"Stage": {"Type": "String"}},
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key"},
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Table": {"Type": "AWS::DynamoDB::Table"},
            "Bucket": {"Type": "AWS::S3::Bucket"},
            "Function": {"Type": "AWS::Lambda::Function", "Properties": {
                "Role": {"Fn::GetAtt": ["Key", "Arn"]},
                "Environment": {"Variables": {
                    "QUEUE": {"Fn::Sub": "https://sqs/${AWS::Region}/${Queue.QueueName}/${!NotARef}"},
                    "TOPIC": {"Fn::Sub": ["${Alias}-${Stage}", {"Alias": {"Ref": "Topic"}}]},
                    "TABLE": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":", {"Fn::GetAtt": "Table.Arn"}]]},
                    "DEEP": [{"Nested": [{"Fn::If": ["IsProd", {"Ref": "Bucket"}, {"Ref": "AWS::NoValue"}]}]}],
                    "STAGE": {"Ref": "Stage"},
                    "REGION": {"Ref": "AWS::Region"},
                }},
            }},
        },
    }
    graph = build_graph(template)
    targets = {(e.target, e.kind) for e in graph.edges if e.source == "Function"}
    assert targets == {("Key", "reference"), ("Queue", "reference"), ("Topic", "reference"),
                       ("Table", "reference"), ("Bucket", "reference")}
    # neither parameters nor pseudo parameters nor ${!literals} are nodes or edge ends
    ends = {e.source for e in graph.edges} | {e.target for e in graph.edges}
    not_nodes = {"Stage", "AWS::Region", "AWS::Partition", "AWS::NoValue", "NotARef", "Alias"}
    assert not not_nodes & (ends | set(graph.nodes))


def test_depends_on_is_its_own_kind_and_dropped_where_a_reference_already_links_the_two():
    template = {"Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Key": {"Type": "AWS::KMS::Key"},
        "Function": {"Type": "AWS::Lambda::Function", "DependsOn": ["Bucket", "Key"],
                     "Properties": {"Environment": {"Variables": {"B": {"Ref": "Bucket"}}}}},
    }}
    graph = build_graph(template)
    assert [(e.source, e.target, e.kind) for e in graph.edges] == [
        ("Function", "Bucket", "reference"), ("Function", "Key", "depends_on")]


def test_a_policy_is_no_node_but_grant_edges_from_its_roles_labelled_with_an_action():
    template = {"Resources": {
        "Reader": role("reader"),
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Key": {"Type": "AWS::KMS::Key"},
        "Other": {"Type": "AWS::S3::Bucket"},
        "Policy": {"Type": "AWS::IAM::Policy", "Properties": {
            "Roles": [{"Ref": "Reader"}],
            "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
                 "Resource": [{"Fn::GetAtt": ["Bucket", "Arn"]},
                              {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]}]},
                {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Fn::Sub": "${Key.Arn}"}},
                {"Effect": "Deny", "Action": "s3:*", "Resource": {"Fn::GetAtt": ["Other", "Arn"]}},
                {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"},
            ]},
        }},
        "Crawler": {"Type": "AWS::Glue::Crawler", "DependsOn": "Policy",
                    "Properties": {"Role": {"Fn::GetAtt": ["Reader", "Arn"]}}},
    }}
    graph = build_graph(template)
    assert "Policy" not in graph.nodes and "policy" in graph.omitted["Policy"].lower()
    grants = {(e.source, e.target): e.label for e in graph.edges_of("grant")}
    assert grants == {("Reader", "Bucket"): "s3:GetObject…", ("Reader", "Key"): "kms:Decrypt"}
    # DependsOn on the policy lands on its role, where the reference already says it
    assert [(e.source, e.target, e.kind) for e in graph.edges if e.source == "Crawler"] == [
        ("Crawler", "Reader", "reference")]


def test_managed_policy_attached_through_the_role_and_literal_arns_of_named_resources():
    template = {"Resources": {
        "Writer": {"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": [{"Ref": "Managed"}]}},
        "Group": {"Type": "AWS::SageMaker::FeatureGroup", "Properties": {"FeatureGroupName": "Customer-Profile"}},
        "Database": {"Type": "AWS::Glue::Database", "Properties": {"DatabaseInput": {"Name": "lake_raw"}}},
        "Managed": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": "sagemaker:PutRecord",
             "Resource": {"Fn::Join": ["", ["arn:aws:sagemaker:us-east-1:", {"Ref": "AWS::AccountId"},
                                            ":feature-group/customer-profile"]]}},
            {"Effect": "Allow", "Action": "glue:GetTable",
             "Resource": "arn:aws:glue:us-east-1:123456789012:table/lake_raw/*"},
            {"Effect": "Allow", "Action": "glue:GetTable",
             "Resource": "arn:aws:glue:us-east-1:123456789012:database/lake_raw_other"},
        ]}}},
        "Crawler": {"Type": "AWS::Glue::Crawler",
                    "Properties": {"DatabaseName": "lake_raw", "Description": "lake_raw"}},
    }}
    graph = build_graph(template)
    assert {(e.source, e.target, e.kind) for e in graph.edges} == {
        ("Writer", "Group", "grant"), ("Writer", "Database", "grant"), ("Crawler", "Database", "reference")}


def test_event_sources_become_event_edges_in_the_direction_data_flows():
    function = {"Type": "AWS::Lambda::Function", "Properties": {}}
    template = {"Resources": {
        "Stream": {"Type": "AWS::Kinesis::Stream"},
        "Handler": function,
        "Transform": function,
        "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": {"Fn::GetAtt": ["Stream", "Arn"]}, "FunctionName": {"Ref": "Handler"}}},
        "Uploads": {"Type": "AWS::S3::Bucket", "Properties": {"NotificationConfiguration": {
            "LambdaConfigurations": [{"Event": "s3:ObjectCreated:*",
                                      "Function": {"Fn::GetAtt": ["Handler", "Arn"]}}]}}},
        "Permission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": "Handler"}, "Principal": "s3.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": ["Uploads", "Arn"]}}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"Targets": [
            {"Arn": {"Fn::GetAtt": ["Handler", "Arn"]}, "Id": "t"}]}},
        "Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {"Target": {
            "Arn": {"Fn::GetAtt": ["Handler", "Arn"]}, "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}}}},
        "Role": role("firehose"),
        "Reports": {"Type": "AWS::S3::Bucket"},
        "ReportsNotifications": {"Type": "Custom::S3BucketNotifications", "Properties": {
            "ServiceToken": {"Fn::GetAtt": ["BucketNotificationsHandler050a0587b7544547bf325f094a3db8347ECC3691",
                                            "Arn"]},
            "BucketName": {"Ref": "Reports"},
            "NotificationConfiguration": {"LambdaFunctionConfigurations": [
                {"Events": ["s3:ObjectCreated:*"], "LambdaFunctionArn": {"Fn::GetAtt": ["Transform", "Arn"]}}]}}},
        "BucketNotificationsHandler050a0587b7544547bf325f094a3db8347ECC3691": {
            "Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Delivery": {"Type": "AWS::S3::Bucket"},
        "Firehose": {"Type": "AWS::KinesisFirehose::DeliveryStream", "Properties": {
            "KinesisStreamSourceConfiguration": {"KinesisStreamARN": {"Fn::GetAtt": ["Stream", "Arn"]},
                                                 "RoleARN": {"Fn::GetAtt": ["Role", "Arn"]}},
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": {"Fn::GetAtt": ["Delivery", "Arn"]}, "RoleARN": {"Fn::GetAtt": ["Role", "Arn"]},
                "ProcessingConfiguration": {"Processors": [{"Type": "Lambda", "Parameters": [
                    {"ParameterName": "LambdaArn", "ParameterValue": {"Fn::GetAtt": ["Transform", "Arn"]}}]}]}}}},
    }}
    graph = build_graph(template)
    events = {(e.source, e.target): e.label for e in graph.edges_of("event")}
    assert events == {
        ("Stream", "Handler"): "event source",
        ("Uploads", "Handler"): "notifies, invokes",  # the notification and the permission behind it
        ("Rule", "Handler"): "triggers",
        ("Schedule", "Handler"): "invokes",
        ("Stream", "Firehose"): "source",
        ("Firehose", "Delivery"): "delivers to",
        ("Firehose", "Transform"): "transform",
        ("Reports", "Transform"): "notifies",  # through aws-cdk-lib's notifications handler, which is dropped
    }
    assert not {"Mapping", "Permission", "ReportsNotifications"} & set(graph.nodes)
    assert not [n for n in graph.nodes if n.startswith("BucketNotificationsHandler")]
    # the role the Firehose and the schedule use stays a plain reference
    assert {(e.source, e.kind) for e in graph.edges if e.target == "Role"} == {
        ("Firehose", "reference"), ("Schedule", "reference")}
    # one edge between two resources: the event, not also the reference behind it
    assert kinds_between(graph, graph.nodes["Stream"], graph.nodes["Firehose"]) == {"event"}


def test_cdk_helpers_and_metadata_are_dropped_and_plumbing_folds_into_its_owner():
    template = {"Resources": {
        "CDKMetadata": {"Type": "AWS::CDK::Metadata"},
        "Data": {"Type": "AWS::S3::Bucket"},
        "DataPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Data"}, "PolicyDocument": {"Statement": [{"Principal": {"AWS": {
                "Fn::GetAtt": ["CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092", "Arn"]}}}]}}},
        "DataAutoDelete": {"Type": "Custom::S3AutoDeleteObjects", "DependsOn": ["DataPolicy"], "Properties": {
            "ServiceToken": {"Fn::GetAtt": ["CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F", "Arn"]},
            "BucketName": {"Ref": "Data"}}},
        "CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092": role("provider"),
        "CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Role": {"Fn::GetAtt": ["CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092",
                                                   "Arn"]}}},
        "Vpc": {"Type": "AWS::EC2::VPC"},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Association": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
            "SubnetId": {"Ref": "Subnet"}, "RouteTableId": {"Ref": "Table"}}},
        "Clients": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Servers": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "FromClients": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["Servers", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 988, "ToPort": 988,
            "SourceSecurityGroupId": {"Fn::GetAtt": ["Clients", "GroupId"]}}},
        "Cache": {"Type": "AWS::ElastiCache::CacheCluster", "Properties": {
            "VpcSecurityGroupIds": [{"Ref": "Servers"}], "CacheSubnetGroupName": {"Ref": "Subnet"}}},
    }}
    graph = build_graph(template)
    assert set(graph.nodes) == {"Data", "Vpc", "Clients", "Servers", "Cache"}
    assert graph.omitted["CDKMetadata"] == "CDK metadata"
    assert graph.omitted["DataAutoDelete"] == graph.omitted[
        "CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092"] == "aws-cdk-lib helper"
    assert graph.omitted["Association"] == "folded into Subnet"
    assert {(e.source, e.target, e.kind, e.label) for e in graph.edges} == {
        ("Clients", "Vpc", "reference", ""), ("Servers", "Vpc", "reference", ""),
        ("Clients", "Servers", "reference", "tcp 988"),  # the ingress rule, drawn from client to server
        ("Cache", "Servers", "reference", ""), ("Cache", "Vpc", "reference", ""),  # the subnet is the VPC's
    }


def test_summarize_actions_names_one_action_per_service():
    assert summarize_actions(["s3:ListBucket", "s3:GetObject", "s3:PutObject"]) == "s3:GetObject…"
    assert summarize_actions(["kms:Decrypt"]) == "kms:Decrypt"
    assert summarize_actions(["glue:GetTable", "lakeformation:SELECT", "lakeformation:DESCRIBE"]) == \
        "glue:GetTable, lakeformation:SELECT…"


def test_the_graph_is_deterministic(synthesized):
    template = synthesized["sandbox"].templates["clickstream"]
    first, second = build_graph(template), build_graph(json.loads(json.dumps(template)))
    assert first == second
    assert list(first.nodes) == sorted(first.nodes)
    assert first.edges == sorted(first.edges)


# --------------------------------------------------------------------------- each lab


@pytest.mark.parametrize("profile", ["sandbox", "production"])
@pytest.mark.parametrize("lab", LAB_NAMES)
def test_every_lab_graph_is_clean(synthesized, lab, profile):
    template = synthesized[profile].templates[lab]
    graph = build_graph(template)
    resources = template["Resources"]
    ends = [end for e in graph.edges for end in (e.source, e.target)]
    assert set(ends) <= set(graph.nodes), "an edge refers to a node that is not drawn"
    assert not set(graph.nodes) & set(graph.omitted)
    assert set(graph.nodes) | set(graph.omitted) == set(resources)
    assert all(e.kind in EDGE_KINDS and e.source != e.target for e in graph.edges)
    assert len({(e.source, e.target, e.kind) for e in graph.edges}) == len(graph.edges)
    types = {n.type for n in graph.nodes.values()}
    assert not types & {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::CDK::Metadata",
                        "AWS::LakeFormation::PrincipalPermissions", "AWS::S3::BucketPolicy",
                        "Custom::S3AutoDeleteObjects", "Custom::LogRetention", "Custom::VpcRestrictDefaultSG"}
    assert not [n for n in graph.nodes if n.startswith(("CustomS3AutoDeleteObjects", "LogRetention",
                                                        "CustomVpcRestrictDefaultSG"))]
    # every policy became grant edges, from roles
    assert any(r["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} for r in resources.values())
    grants = graph.edges_of("grant")
    assert grants and all(graph.nodes[e.source].type == "AWS::IAM::Role" and ":" in e.label for e in grants)
    # pseudo parameters and template parameters are never nodes
    assert not [n for n in graph.nodes if n.startswith("AWS::") or n in template.get("Parameters", {})]
    # every lab expires by schedule in sandbox
    if profile == "sandbox":
        schedule = node(graph, "AWS::Scheduler::Schedule", "Expiry")
        expire = node(graph, "AWS::Lambda::Function", "Expire")
        assert edge(graph, schedule, expire, "event").label == "invokes"


def test_data_lake_graph(graphs):
    graph = graphs["data-lake"]
    key = node(graph, "AWS::KMS::Key", "DataLake")
    raw = node(graph, "AWS::S3::Bucket", "RawZone")
    crawler = node(graph, "AWS::Glue::Crawler", "RawCrawler")
    raw_database = node(graph, "AWS::Glue::Database", "RawDatabase")
    curated_database = node(graph, "AWS::Glue::Database", "Curated")
    # the crawler reads the raw zone into the raw database (a literal DatabaseName)
    edge(graph, crawler, raw, "reference")
    edge(graph, crawler, raw_database, "reference")
    edge(graph, crawler, node(graph, "AWS::IAM::Role", "RawCrawlerAccess"), "reference")
    # every zone bucket and the query results are encrypted with the lab key
    for zone in ("RawZone", "CuratedZone", "ArchiveZone", "QueryResults"):
        edge(graph, node(graph, "AWS::S3::Bucket", zone), key, "reference")
    athena = node(graph, "AWS::Athena::WorkGroup", "Analytics")
    edge(graph, athena, node(graph, "AWS::S3::Bucket", "QueryResults"), "reference")
    edge(graph, athena, key, "reference")
    # Lake Formation: registered locations and grants, the permissions folded into grant edges
    edge(graph, node(graph, "AWS::LakeFormation::Resource", "RawLocation"), raw, "reference")
    engineer = node(graph, "AWS::IAM::Role", "DataEngineer")
    analyst = node(graph, "AWS::IAM::Role", "Analyst")
    assert "lakeformation:SELECT" in edge(graph, engineer, curated_database, "grant").label
    assert "lakeformation:SELECT" in edge(graph, analyst, curated_database, "grant").label
    crawler_role = node(graph, "AWS::IAM::Role", "RawCrawlerAccess")
    assert "lakeformation:DATA_LOCATION_ACCESS" in edge(graph, crawler_role, raw, "grant").label
    assert "s3:GetObject" in edge(graph, crawler_role, raw, "grant").label
    assert "lakeformation:" in edge(graph, crawler_role, raw_database, "grant").label
    assert sum(reason.startswith("Lake Formation permissions") for reason in graph.omitted.values()) == 8
    # the analyst was granted nothing on the raw zone
    assert not [e for e in graph.edges if e.source == analyst.id and e.target in {raw.id, raw_database.id}]


def test_clickstream_graph(graphs):
    graph = graphs["clickstream"]
    stream = node(graph, "AWS::Kinesis::Stream", "ClickStream")
    firehose = node(graph, "AWS::KinesisFirehose::DeliveryStream", "Firehose")
    transform = node(graph, "AWS::Lambda::Function", "FirehoseTransform")
    bucket = node(graph, "AWS::S3::Bucket", "Delivery")
    workgroup = node(graph, "AWS::RedshiftServerless::Workgroup", "Warehouse")
    namespace = node(graph, "AWS::RedshiftServerless::Namespace", "Warehouse")
    firehose_role = node(graph, "AWS::IAM::Role", "Firehose")
    assert edge(graph, stream, firehose, "event").label == "source"
    assert edge(graph, firehose, transform, "event").label == "transform"
    assert edge(graph, firehose, bucket, "event").label == "delivers to"
    assert edge(graph, firehose, workgroup, "event").label == "delivers to"
    assert kinds_between(graph, stream, firehose) == {"event"}
    edge(graph, firehose, firehose_role, "reference")
    assert edge(graph, firehose_role, stream, "grant").label.startswith("kinesis:")
    assert edge(graph, firehose_role, bucket, "grant").label.startswith("s3:")
    assert "lambda:" in edge(graph, firehose_role, transform, "grant").label
    edge(graph, workgroup, namespace, "reference")  # NamespaceName, a literal name
    key = node(graph, "AWS::KMS::Key", "Clickstream")
    for encrypted in (stream, bucket, namespace):
        edge(graph, encrypted, key, "reference")
    schema = node(graph, "Custom::RedshiftSql", "Schema")
    edge(graph, schema, workgroup, "reference")
    edge(graph, firehose, schema, "depends_on")  # the table exists before Firehose COPYs into it
    # the VPC plumbing folds into the VPC; its internet gateway stays
    vpc = node(graph, "AWS::EC2::VPC", "Network")
    edge(graph, vpc, node(graph, "AWS::EC2::InternetGateway", "IGW"), "reference")
    edge(graph, workgroup, vpc, "reference")
    assert not {"AWS::EC2::Subnet", "AWS::EC2::Route", "AWS::EC2::RouteTable"} & {n.type for n in graph.nodes.values()}


def test_fsx_training_graph(graphs):
    graph = graphs["fsx-training"]
    lustre = node(graph, "AWS::FSx::FileSystem", "Lustre")
    data = node(graph, "AWS::S3::Bucket", "TrainingData")
    output = node(graph, "AWS::S3::Bucket", "TrainingOutput")
    file_system_group = node(graph, "AWS::EC2::SecurityGroup", "LustreFileSystem")
    training_group = node(graph, "AWS::EC2::SecurityGroup", "LustreTraining")
    assert edge(graph, lustre, data, "reference").label == "data repository"  # ImportPath s3://<data bucket>
    edge(graph, lustre, file_system_group, "reference")
    ports = edge(graph, training_group, file_system_group, "reference").label
    assert "988" in ports and "1018-1023" in ports  # the Lustre ports, from the ingress and egress rules
    vpc = node(graph, "AWS::EC2::VPC", "Network")
    for group in (training_group, file_system_group):
        edge(graph, group, vpc, "reference")
    sagemaker = node(graph, "AWS::IAM::Role", "SageMakerExecution")
    assert edge(graph, sagemaker, data, "grant").label.startswith("s3:GetObject")
    assert "s3:PutObject" in edge(graph, sagemaker, output, "grant").label or \
        edge(graph, sagemaker, output, "grant").label.startswith("s3:")
    key = node(graph, "AWS::KMS::Key", "Training")
    assert edge(graph, sagemaker, key, "grant").label.startswith("kms:")
    for bucket in (data, output):
        edge(graph, bucket, key, "reference")


def test_feature_store_graph(graphs):
    graph = graphs["feature-store"]
    key = node(graph, "AWS::KMS::Key", "FeatureStore")
    offline = node(graph, "AWS::S3::Bucket", "OfflineStore")
    writer = node(graph, "AWS::IAM::Role", "OfflineStoreWriter")
    ingestion = node(graph, "AWS::IAM::Role", "Ingestion")
    consumer = node(graph, "AWS::IAM::Role", "Consumer")
    catalog = node(graph, "AWS::Glue::Database", "Catalog")
    for name in ("CustomerProfile", "ClickActivity"):
        group = node(graph, "AWS::SageMaker::FeatureGroup", name)
        edge(graph, group, key, "reference")  # online and offline store encryption
        edge(graph, group, offline, "reference")
        edge(graph, group, writer, "reference")
        edge(graph, group, catalog, "reference")  # DataCatalogConfig.Database, a literal name
        edge(graph, group, node(graph, "AWS::Glue::Table", f"{name}Offline"), "reference")
        # feature groups are granted by literal ARNs (…:feature-group/<name>)
        assert edge(graph, ingestion, group, "grant").label == "sagemaker:PutRecord…"
        assert edge(graph, consumer, group, "grant").label.startswith("sagemaker:GetRecord")
    assert edge(graph, writer, offline, "grant").label.startswith("s3:")
    assert edge(graph, writer, key, "grant").label.startswith("kms:")
    edge(graph, node(graph, "AWS::Athena::WorkGroup", "OfflineQueries"), node(graph, "AWS::S3::Bucket", "QueryResults"))


# --------------------------------------------------------------------------- layout and drawing


def test_layout_puts_each_node_in_its_own_cell_and_routes_edges_around_boxes(graphs):
    for lab, graph in graphs.items():
        plan = layout(graph)
        assert set(plan.cells) == set(graph.nodes)
        assert len(set(plan.cells.values())) == len(plan.cells), lab
        assert layout(graph) == plan  # deterministic
        boxes = {n: (plan.centre(n)[0] - NODE_WIDTH / 2, plan.centre(n)[0] + NODE_WIDTH / 2,
                     plan.centre(n)[1] - NODE_HEIGHT / 2, plan.centre(n)[1] + NODE_HEIGHT / 2) for n in graph.nodes}
        for item, path in route(graph, plan).items():
            if path.curve:  # neighbouring columns: the curve stays in the channel between them
                xs = [x for x, _ in path.points]
                assert not any(boxes[n][0] < min(xs) - 1e-9 < max(xs) + 1e-9 < boxes[n][1] for n in graph.nodes)
                continue
            for (x0, y0), (x1, y1) in zip(path.points[1:-2], path.points[2:-1], strict=True):  # inner segments
                for other, (left, right, bottom, top) in boxes.items():
                    crosses = min(x0, x1) < right and max(x0, x1) > left and min(y0, y1) < top and max(y0, y1) > bottom
                    assert not crosses, f"{lab}: {item} runs across {other}"


@pytest.mark.parametrize("lab", LAB_NAMES)
def test_render_writes_a_valid_svg_and_png_with_every_node_label(graphs, lab, tmp_path):
    graph = graphs[lab]
    svg, png = render(graph, tmp_path, lab)
    assert (svg.name, png.name) == (f"{lab}.svg", f"{lab}.png")
    root = ElementTree.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for item in graph.nodes.values():
        kind, name = item.label.split("\n", 1)
        assert kind in texts
        if not item.minor:
            assert name.replace("/", "") in texts.replace("/", "").replace(" ", "") or name[:12] in texts, name
    for heading in ("Storage & catalog", "IAM roles"):
        assert heading in texts
    assert "event / data flow" in texts or not graph.edges_of("event")
    assert "Not drawn as boxes" in texts and "aws-cdk-lib helper" in texts
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC) and 30_000 < len(data) < 400_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 1000 and height > 400


def test_the_svg_is_byte_identical_across_renders(graphs, tmp_path):
    first = render(graphs["clickstream"], tmp_path / "one", "clickstream")
    second = render(graphs["clickstream"], tmp_path / "two", "clickstream")
    assert first[0].read_bytes() == second[0].read_bytes()
    assert b"<dc:date>" not in first[0].read_bytes()


# --------------------------------------------------------------------------- diagram_lab


def test_diagram_lab_reads_the_template_from_a_cloud_assembly(synthesized, tmp_path):
    paths = diagram_lab("feature-store", synthesized["sandbox"].outdir, tmp_path / "out")
    assert [p.name for p in paths] == ["feature-store.svg", "feature-store.png"]
    svg = paths[0].read_text()
    assert "feature-store (mlref-feature-store)" in svg and "OfflineStore" in svg


def test_diagram_lab_without_a_synthesized_assembly_says_to_synthesize(tmp_path):
    with pytest.raises(LabError) as missing:
        diagram_lab("clickstream", tmp_path / "cdk.out", tmp_path / "out")
    message = str(missing.value)
    assert "run `labs synth clickstream` first" in message and "\n" not in message
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": {}}))
    with pytest.raises(LabError, match=r"mlref-data-lake.*run `labs synth data-lake` first"):
        diagram_lab("data-lake", tmp_path / "other", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_diagram_lab_of_an_unknown_lab_lists_the_labs(tmp_path):
    with pytest.raises(UnknownLab) as unknown:
        diagram_lab("data-swamp", tmp_path, tmp_path / "out")
    assert "data-swamp" in str(unknown.value)
    assert all(lab in str(unknown.value) for lab in LABS)


def test_out_pointing_at_a_file_is_one_line_saying_out_takes_a_folder(tmp_path, capsys):
    existing = tmp_path / "feature-store.svg"
    existing.write_text("kept")
    with pytest.raises(LabError) as raised:
        diagram_lab("feature-store", tmp_path / "no-assembly", existing)
    message = str(raised.value)
    assert message.startswith(f"{existing} is a file, not a folder: --out takes the folder") and "\n" not in message
    with pytest.raises(LabError, match=rf"^{re.escape(str(existing))} \(in .*sub\) is a file, not a folder"):
        diagram_lab("feature-store", tmp_path / "no-assembly", existing / "sub")
    assert existing.read_text() == "kept"
    # through the command: exit status 1 and the one line, no traceback
    assert cli.main(["diagram", "feature-store", "--assembly", str(tmp_path), "--out", str(existing)]) == 1
    error = capsys.readouterr().err
    assert "is a file, not a folder" in error and "Traceback" not in error and len(error.strip().splitlines()) == 1


def small_graph() -> Graph:
    return build_graph({"Resources": {
        "Data": {"Type": "AWS::S3::Bucket", "Properties": {"BucketEncryption": {"KmsKeyId": {"Ref": "Key"}}}},
        "Key": {"Type": "AWS::KMS::Key"},
    }})


def test_an_interrupted_render_leaves_the_previous_files_and_no_temporary_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    svg, png = render(small_graph(), tmp_path, "small")
    before = svg.read_bytes(), png.read_bytes()

    def interrupted(self, file, **kwargs):
        file.write(b"<svg half-written")
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    monkeypatch.setattr(Figure, "savefig", interrupted)
    with pytest.raises(KeyboardInterrupt):
        render(small_graph(), tmp_path, "small")
    assert (svg.read_bytes(), png.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.png", "small.svg"]


def test_write_atomically_replaces_the_file_whole_and_keeps_its_mode(tmp_path):
    target = tmp_path / "table.txt"
    target.write_bytes(b"old")
    target.chmod(0o640)
    assert write_atomically(target, lambda file: file.write(b"new")) == target
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o640

    def failing(file):
        file.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomically(target, failing)
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["table.txt"]
