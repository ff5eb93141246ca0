"""`labs permissions`: every lab and variant proven against its synthesized template (one Node.js
process for them all), and the proof failing, naming the call, when a needed statement is taken away."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from catalog import LABS
from labs.cli import main as cli
from labs.permissions.proof import evaluate, prove, prove_many, text_report
from tests.practice.conftest import unproven
from tests.unit.test_catalog import loaded_modules


@pytest.fixture(scope="module")
def proofs(variants) -> dict[str, object]:
    """Each lab of each profile and variant ("sandbox-streaming/clickstream"), proven in one process."""
    pairs = [(f"{name}/{lab}", LABS[lab], synth.outdir) for name, synth in variants.items() for lab in synth.templates
             if lab in LABS]
    reports = prove_many([(lab, outdir) for _, lab, outdir in pairs])
    return {name: report for (name, _, _), report in zip(pairs, reports, strict=True)}


def test_every_lab_and_variant_allows_what_it_does_and_refuses_what_it_must(proofs):
    assert len(proofs) >= 2 * len(LABS) + 2 * sum(len(lab.variants) for lab in LABS.values())
    failing = {name: [line for line in text_report(report) if line.startswith(("not as expected", "  "))
                      and "ok  " not in line] for name, report in proofs.items() if report.failures}
    assert failing == {}


def test_the_proof_covers_practice_aws_and_refused_calls_for_every_lab(proofs):
    for name, report in proofs.items():
        whos = {v.who for v in report.verdicts}
        assert "caller (a sandbox administrator)" in whos, name
        assert any(w.endswith(".amazonaws.com") for w in whos), name
        assert any(v.expected == "refused" for v in report.verdicts), name


def test_the_athena_practice_of_data_lake_and_feature_store_may_use_its_output_location(proofs):
    for name, role in (("sandbox/data-lake", "AnalystRole"), ("sandbox/feature-store", "ConsumerRole"),
                       ("production/data-lake", "DataEngineerRole")):
        location = [v for v in proofs[name].verdicts if v.who.startswith(role) and "queryresults" in v.resource]
        assert {v.action for v in location} >= {"s3:GetBucketLocation", "s3:ListBucket", "s3:PutObject", "s3:GetObject"}
        assert all(v.result == "Allowed" for v in location), name


# -- the proof fails, naming the call, when a needed statement is gone ------------------------------

@pytest.fixture
def data_lake(sandbox, tmp_path) -> Path:
    """A copy of the sandbox assembly's data-lake and janitor stacks, to take statements away from."""
    manifest = json.loads((sandbox.outdir / "manifest.json").read_text())
    for name, artifact in manifest["artifacts"].items():
        template = artifact.get("properties", {}).get("templateFile")
        if template and name in {"mlref-data-lake", "mlref-janitor"}:
            shutil.copy(sandbox.outdir / template, tmp_path / template)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def edit(assembly: Path, change) -> None:
    path = assembly / "mlref-data-lake.template.json"
    template = json.loads(path.read_text())
    change(template["Resources"])
    path.write_text(json.dumps(template))


def one(resources: dict, prefix: str) -> dict:
    (found,) = [r for name, r in resources.items() if name.startswith(prefix) and name[len(prefix):].isalnum()
                and len(name) == len(prefix) + 8]
    return found


def statements(resource: dict, key: str = "PolicyDocument") -> list:
    return resource["Properties"][key]["Statement"]


def drop(found: list, test) -> None:
    kept = [s for s in found if not test(s)]
    assert len(kept) < len(found), "nothing to take away"
    found[:] = kept


def names(statement: dict, action: str) -> bool:
    actions = statement["Action"]
    return action in (actions if isinstance(actions, list) else [actions])


def fails_on(assembly: Path, who: str, action: str) -> list[str]:
    report = prove(LABS["data-lake"], assembly)
    named = [v for v in report.failures if v.who.startswith(who) and v.action == action]
    assert named, [f"{v.who} {v.action}" for v in report.failures]
    return [line for line in text_report(report)
            if line.startswith((f"not as expected: {named[0].who} {action}", "  "))]


def test_without_the_identity_statement_the_analyst_cannot_locate_the_results_bucket(data_lake):
    edit(data_lake, lambda r: drop(statements(one(r, "AnalystPolicy")),
                                   lambda s: names(s, "s3:GetBucketLocation") and "Condition" not in s))
    lines = fails_on(data_lake, "AnalystRole", "s3:GetBucketLocation")
    assert any("no statement names s3:GetBucketLocation" in line for line in lines)


def test_a_condition_the_action_never_carries_is_named_with_its_statement(data_lake):
    def condition(resources):
        for statement in statements(one(resources, "AnalystPolicy")):
            if names(statement, "s3:GetBucketLocation"):
                statement["Condition"] = {"StringLike": {"s3:prefix": ["athena/*"]}}
    edit(data_lake, condition)
    lines = fails_on(data_lake, "AnalystRole", "s3:GetBucketLocation")
    assert any("meant to allow it: identity AnalystPolicy" in line and "condition StringLike s3:prefix (not in the "
               "request)" in line for line in lines)


def test_without_the_trust_statement_glue_cannot_assume_the_crawler_role(data_lake):
    edit(data_lake, lambda r: drop(statements(one(r, "RawCrawlerAccessRole"), "AssumeRolePolicyDocument"),
                                   lambda s: True))
    fails_on(data_lake, "glue.amazonaws.com", "sts:AssumeRole")


def test_without_the_key_policy_statement_for_the_account_no_role_may_use_the_key(data_lake):
    edit(data_lake, lambda r: drop(statements(one(r, "DataLakeKey"), "KeyPolicy"),
                                   lambda s: ":root" in json.dumps(s.get("Principal"))))
    fails_on(data_lake, "AnalystRole", "kms:Decrypt")


def test_without_the_bucket_policy_statement_s3_cannot_deliver_access_logs(data_lake):
    edit(data_lake, lambda r: drop(statements(one(r, "AccessLogsBucketPolicy")),
                                   lambda s: "RawZone" in json.dumps(s.get("Resource"))))
    fails_on(data_lake, "logging.s3.amazonaws.com", "s3:PutObject")


def test_a_refused_call_that_is_allowed_fails_the_proof(data_lake):
    edit(data_lake, lambda r: statements(one(r, "AnalystPolicy")).append(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))
    report = prove(LABS["data-lake"], data_lake)
    assert any(v.expected == "refused" and v.who.startswith("AnalystRole") and v.result == "Allowed"
               for v in report.failures)


# -- the command line ------------------------------------------------------------------------------

def test_the_command_exits_0_and_lists_the_calls_grouped_by_who_makes_them(sandbox, capsys):
    assert cli.main(["permissions", "feature-store", "--assembly", str(sandbox.outdir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("feature-store (mlref-feature-store): ") and out[0].endswith(" 0 not as expected")
    assert [line for line in out if line.startswith("ConsumerRole")] == ["ConsumerRoleE2904DDD:"]


def test_the_command_exits_1_naming_principal_action_resource_and_statement(data_lake, capsys):
    edit(data_lake, lambda r: drop(statements(one(r, "AnalystPolicy")),
                                   lambda s: names(s, "s3:GetBucketLocation") and "Condition" not in s))
    assert cli.main(["permissions", "data-lake", "--assembly", str(data_lake), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    failing = [v for v in report["verdicts"] if v["action"] == "s3:GetBucketLocation" and not v["holds"]]
    assert failing and failing[0]["who"].startswith("AnalystRole") and "queryresults" in failing[0]["resource"]


def test_no_node_is_one_line_that_says_what_to_install(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(Exception, match=r"^Node.js is not installed \(node not on PATH\): install Node.js"):
        evaluate([{"simulation": {}, "resourcePolicyName": None}])


def test_a_failing_node_process_is_one_line(monkeypatch):
    def broken(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "Error: Cannot find module\nat line 3\n")

    with pytest.raises(Exception, match=r"^iam-simulate failed: at line 3 \(reinstall with `npm ci`\)$"):
        evaluate([{"simulation": {}, "resourcePolicyName": None}], run=broken)


def test_a_lab_not_synthesized_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["permissions", "endpoint", "--assembly", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == (f"error: mlref-endpoint is not in {tmp_path}: synthesize it with "
                                               "`labs synth`")


def test_the_command_never_loads_the_cdk(sandbox):
    """`labs permissions` reads the template and the contract, runs the dry run and Node.js: no aws-cdk-lib
    (fsx-training's dry run loads the SageMaker SDK, the heaviest of them)."""
    commands = [["permissions", lab, "--assembly", str(sandbox.outdir)] for lab in ("data-lake", "fsx-training")]
    for loaded in loaded_modules(commands):
        assert loaded["code"] in (0, None) and loaded["cdk"] == [] and not loaded["app"], loaded


def test_a_practice_call_missing_from_the_dry_run_is_named():
    calls = {("athena", "StartQueryExecution"), ("glue", "DeleteTable")}
    assert unproven("data-lake", calls) == [("glue", "DeleteTable")]
