"""``labs.templates.cfn_text``: CloudFormation values as text, and the references in them."""

from __future__ import annotations

from labs.templates import cfn_text as cfn


def test_render_writes_each_intrinsic_as_text():
    assert cfn.render({"Ref": "Bucket"}) == "<Bucket>"
    assert cfn.render({"Fn::GetAtt": ["Bucket", "Arn"]}) == cfn.render({"Fn::GetAtt": "Bucket.Arn"}) == "<Bucket.Arn>"
    assert cfn.render({"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Name}", {"Name": "x"}]}) == \
        "arn:${AWS::Partition}:s3:::${Name}"
    assert cfn.render({"Fn::Select": [0, {"Fn::GetAZs": ""}]}) == "<AZs>[0]"
    assert cfn.render({"Fn::Join": [",", {"Ref": "Subnets"}]}) == "<Subnets>"  # a list parameter, joined
    assert cfn.render(["a", {"Ref": "B"}]) == "a, <B>"


def test_what_render_cannot_write_goes_to_unknown():
    conditional = {"Fn::If": ["IsProd", "arn:aws:s3:::prod", {"Ref": "AWS::NoValue"}]}
    assert cfn.render(conditional) == '{"Fn::If": ["IsProd", "arn:aws:s3:::prod", {"Ref": "AWS::NoValue"}]}'
    assert cfn.render(5) == "5" and cfn.render(True) == "true"
    assert cfn.render(conditional, cfn.nothing) == "" and cfn.render({"Fn::Join": ["", ["a", conditional]]},
                                                                     cfn.nothing) == "a"


def test_references_name_resources_with_the_keys_leading_to_them():
    value = {"Environment": {"Variables": {
        "A": {"Fn::Sub": "${Queue.QueueName}/${!Literal}/${AWS::Region}"},
        "B": {"Fn::Sub": ["${Alias}", {"Alias": {"Ref": "Topic"}}]},
        "C": {"Fn::If": ["Cond", {"Fn::GetAtt": ["Table", "Arn"]}, "x"]}}}}
    assert list(cfn.references(value)) == [
        ("Queue", ("Environment", "Variables", "A")), ("AWS::Region", ("Environment", "Variables", "A")),
        ("Topic", ("Environment", "Variables", "B")), ("Table", ("Environment", "Variables", "C"))]


def test_strings_are_whole_literal_property_values_outside_intrinsics_and_tags():
    value = {"DatabaseName": "raw", "Tags": [{"Key": "lab", "Value": "x"}], "Role": {"Fn::Sub": "literal"},
             "Targets": [{"Path": "s3://bucket/"}]}
    assert list(cfn.strings(value)) == [("raw", ("DatabaseName",)), ("s3://bucket/", ("Targets", "Path"))]
