"""The fsx-training lab's template: isolation, Lustre/NFS ports only, one subnet for jobs and data."""

from __future__ import annotations

import pytest

from tests.conftest import resources_of


@pytest.fixture(scope="module")
def fsx(sandbox):
    return sandbox.templates["fsx-training"]


@pytest.fixture(scope="module")
def efs(variants):
    return variants["sandbox-efs"].templates["fsx-training"]


def one(template, resource_type):
    (resource,) = resources_of(template, resource_type).values()
    return resource


def group_id(template, description_start):
    return next(k for k, g in resources_of(template, "AWS::EC2::SecurityGroup").items()
                if g["Properties"]["GroupDescription"].startswith(description_start))


def execution_policy(template):
    return next(p for k, p in resources_of(template, "AWS::IAM::ManagedPolicy").items()
                if k.startswith("SageMakerExecution"))


def rules(template, kind):
    """(group, peer group or CIDR, from port, to port) for every ingress or egress rule."""
    found = []
    for name, group in resources_of(template, "AWS::EC2::SecurityGroup").items():
        for rule in group["Properties"].get(f"Security{kind}", []):
            found.append((name, rule.get("CidrIp"), rule.get("FromPort"), rule.get("ToPort")))
    resource_type = f"AWS::EC2::Security{'GroupIngress' if kind == 'GroupIngress' else 'GroupEgress'}"
    for rule in resources_of(template, resource_type).values():
        props = rule["Properties"]
        peer = props.get("SourceSecurityGroupId") or props.get("DestinationSecurityGroupId") or props.get("CidrIp")
        found.append((props["GroupId"]["Fn::GetAtt"][0], peer if isinstance(peer, str) else peer["Fn::GetAtt"][0],
                      props["FromPort"], props["ToPort"]))
    return found


def test_the_vpc_is_isolated_with_an_s3_gateway_endpoint_and_flow_logs(fsx):
    for forbidden in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"):
        assert resources_of(fsx, forbidden) == {}, forbidden
    endpoint = one(fsx, "AWS::EC2::VPCEndpoint")["Properties"]
    assert endpoint["VpcEndpointType"] == "Gateway"
    assert endpoint["ServiceName"]["Fn::Join"][1][-1] == ".s3"
    assert one(fsx, "AWS::EC2::FlowLog")["Properties"]["LogDestinationType"] == "cloud-watch-logs"


def test_lustre_is_reachable_from_training_on_988_and_1018_1023_only(fsx):
    training = group_id(fsx, "SageMaker training instances")
    file_system = group_id(fsx, "The training file system")
    ingress = {(group, peer, low, high) for group, peer, low, high in rules(fsx, "GroupIngress")}
    assert ingress == {(file_system, training, 988, 988), (file_system, training, 1018, 1023),
                       (file_system, file_system, 988, 988), (file_system, file_system, 1018, 1023)}
    egress = {(group, peer, low, high) for group, peer, low, high in rules(fsx, "GroupEgress")}
    assert (training, file_system, 988, 988) in egress and (training, file_system, 1018, 1023) in egress
    assert (training, "0.0.0.0/0", 443, 443) in egress
    assert all(peer != "0.0.0.0/0" or (low, high) in {(443, 443), (252, 86)} for _, peer, low, high in egress)


def test_jobs_run_in_the_file_systems_subnet_and_the_mount_name_is_exported(fsx):
    file_system = one(fsx, "AWS::FSx::FileSystem")
    (fs_id,) = resources_of(fsx, "AWS::FSx::FileSystem")
    assert fsx["Outputs"]["SubnetId"]["Value"] == file_system["Properties"]["SubnetIds"][0]
    mount_name = {"Fn::GetAtt": [fs_id, "LustreMountName"]}
    assert fsx["Outputs"]["MountName"]["Value"] == mount_name
    assert fsx["Outputs"]["DirectoryRoot"]["Value"] == {"Fn::Join": ["", ["/", mount_name]]}
    training = group_id(fsx, "SageMaker training instances")
    assert fsx["Outputs"]["SecurityGroupId"]["Value"] == {"Fn::GetAtt": [training, "GroupId"]}
    assert fsx["Outputs"]["InstanceType"]["Value"] == "ml.p3.2xlarge"


def test_sandbox_lustre_is_scratch_linked_to_the_data_bucket_and_destroyable(fsx, production):
    file_system = one(fsx, "AWS::FSx::FileSystem")
    lustre = file_system["Properties"]["LustreConfiguration"]
    assert (lustre["DeploymentType"], file_system["Properties"]["StorageCapacity"]) == ("SCRATCH_2", 1200)
    assert lustre["AutoImportPolicy"] == "NEW_CHANGED"
    (data_bucket,) = [k for k in resources_of(fsx, "AWS::S3::Bucket") if k.startswith("TrainingData")]
    assert lustre["ImportPath"] == {"Fn::Join": ["", ["s3://", {"Ref": data_bucket}]]}
    assert file_system["DeletionPolicy"] == "Delete"
    persistent = production.templates["fsx-training"]
    prod_fs = one(persistent, "AWS::FSx::FileSystem")
    assert prod_fs["Properties"]["LustreConfiguration"]["DeploymentType"] == "PERSISTENT_2"
    assert "ImportPath" not in prod_fs["Properties"]["LustreConfiguration"] and prod_fs["DeletionPolicy"] == "Retain"
    association = one(persistent, "AWS::FSx::DataRepositoryAssociation")["Properties"]
    assert association["FileSystemPath"] == "/" and association["BatchImportMetaDataOnCreate"] is True


def test_deploying_never_starts_a_training_job(fsx, efs):
    for template in (fsx, efs):
        types = {r["Type"] for r in template["Resources"].values()}
        assert not any(t.startswith("AWS::SageMaker::") for t in types)


def test_the_execution_role_is_limited_to_the_lab(fsx):
    policy = execution_policy(fsx)
    statements = {s.get("Sid", f"#{i}"): s for i, s in enumerate(policy["Properties"]["PolicyDocument"]["Statement"])}
    assert list(statements["NetworkInterfacesInTheLabVpcOnly"]["Condition"]["ArnEqualsIfExists"]) == ["ec2:Vpc"]
    for statement in statements.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a.endswith(":*") or a == "*" for a in actions)
        if statement["Resource"] == "*":
            assert statement.get("Condition") or all(":Describe" in a or a == "ecr:GetAuthorizationToken"
                                                     for a in actions)


def test_the_efs_variant_mounts_in_the_same_subnet_over_nfs_only(efs):
    assert resources_of(efs, "AWS::FSx::FileSystem") == {}
    file_system = one(efs, "AWS::EFS::FileSystem")["Properties"]
    assert file_system["Encrypted"] is True and file_system["KmsKeyId"]
    target = one(efs, "AWS::EFS::MountTarget")["Properties"]
    assert efs["Outputs"]["SubnetId"]["Value"] == target["SubnetId"]
    training = group_id(efs, "SageMaker training instances")
    file_system_group = group_id(efs, "The training file system")
    assert set(rules(efs, "GroupIngress")) == {(file_system_group, training, 2049, 2049)}
    assert efs["Outputs"]["FileSystemType"]["Value"] == "EFS" and "MountName" not in efs["Outputs"]
    assert efs["Outputs"]["InstanceType"]["Value"] == "ml.g5.xlarge"


def test_the_role_reads_the_whole_data_bucket_and_writes_only_its_training_prefix(fsx):
    """S3 File and FastFile inputs need GetObject and ListBucket on the set; the data-set job writes it."""
    policy = execution_policy(fsx)
    (data_bucket,) = [k for k in resources_of(fsx, "AWS::S3::Bucket") if k.startswith("TrainingData")]
    arn = {"Fn::GetAtt": [data_bucket, "Arn"]}
    objects, listing = set(), []
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            if resource == arn and "s3:ListBucket" in actions:
                listing.append(statement.get("Condition"))
            elif isinstance(resource, dict) and resource.get("Fn::Join", ["", [None]])[1][0] == arn:
                objects.add((resource["Fn::Join"][1][1], "s3:GetObject" in actions, "s3:PutObject" in actions))
    assert objects == {("/*", True, False), ("/train/*", True, True)}
    assert sorted(listing, key=str) == [None, {"StringLike": {"s3:prefix": ["train/*"]}}]


def test_fsx_may_use_the_data_key_only_as_its_s3_role_through_s3(fsx, efs):
    """FSx imports SSE-KMS objects of the linked bucket as AWSServiceRoleForFSxS3Access_<id>: the key must allow it."""
    def fsx_statements(template):
        (key,) = resources_of(template, "AWS::KMS::Key").values()
        return [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid", "").startswith("AllowFsx")]

    (statement,) = fsx_statements(fsx)
    assert statement["Principal"] == {"AWS": "*"} and statement["Effect"] == "Allow"
    conditions = statement["Condition"]
    assert conditions["StringEquals"]["kms:CallerAccount"] == {"Ref": "AWS::AccountId"}
    assert conditions["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    principal = conditions["ArnLike"]["aws:PrincipalArn"]["Fn::Join"][1]
    assert principal[-1].endswith(":role/aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/"
                                  "AWSServiceRoleForFSxS3Access_*")
    assert fsx_statements(efs) == []
