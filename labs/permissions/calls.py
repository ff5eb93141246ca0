"""Every call ``labs permissions LAB`` proves, gathered from the lab's own sources: the practice's
requests (its dry run, run offline: the requests the tests check against botocore's models), what AWS
does with each lab role (the contract's ``calls``), the calls every lab shares (expiry, the janitor's
sweep; catalog/shared_calls.py) and the calls that must be refused. CDK-free.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from catalog.base import LabContract
from catalog.calls import CALLER, Call
from labs.engine.errors import LabError
from labs.permissions.dry_run_calls import Fields, followed_by, iam_calls
from labs.practice.common.dry_run import printed_calls
from labs.templates.policies import Policies, Role, policies_of
from labs.templates.resolved import EXAMPLE_ACCOUNT, TemplateValues
from lambdas.shared.lab_names import JANITOR_STACK_NAME

EXTERNAL_LOCATION = re.compile(r"external_location\s*=\s*'s3://([^/']+)/([^']*)'")


@dataclass
class LabTemplate:
    """The lab's template and the janitor's, resolved for the example account."""

    values: TemplateValues
    policies: Policies
    janitor: TemplateValues | None
    janitor_policies: Policies | None
    options: Any

    @classmethod
    def read(cls, lab: LabContract, assembly: Path) -> LabTemplate:
        from labs.engine.cdk_cli import read_stack, stack_artifact
        from labs.templates.inspection import options_of, region_of

        template, _ = read_stack(assembly, lab.stack_name)
        region = region_of(assembly, lab.stack_name)
        # a stack synthesized for an account names it in literal ARNs: the example account is that one
        environment = (stack_artifact(assembly, lab.stack_name) or {}).get("environment", "")
        account = environment.removeprefix("aws://").split("/")[0]
        account = account if account.isdigit() else EXAMPLE_ACCOUNT
        values = TemplateValues(template, stack_name=lab.stack_name, region=region, account=account)
        janitor = None
        if stack_artifact(assembly, JANITOR_STACK_NAME) is not None:
            janitor = TemplateValues(read_stack(assembly, JANITOR_STACK_NAME)[0], stack_name=JANITOR_STACK_NAME,
                                     region=region, account=account)
        return cls(values, policies_of(values), janitor, policies_of(janitor) if janitor else None,
                   options_of(lab, template, region)[0])

    def role(self, who: str) -> Role:
        """The lab role ``who`` names: an ARN, or a logical-id pattern of the lab's template or the janitor's."""
        for values, policies in ((self.values, self.policies), (self.janitor, self.janitor_policies)):
            if values is None or policies is None:
                continue
            if who.startswith("arn:"):
                if (role := policies.role_of(who)) is not None:
                    return role
                continue
            if [logical_id for logical_id in values.matching(who) if logical_id in policies.roles]:
                return policies.roles[values.logical_id(who)]
        raise LabError(f"{self.values.stack_name} (and the janitor) has no role {who}: check the lab's calls "
                       f"in catalog/ against `labs inspect`")

    def has(self, pattern: str) -> bool:
        return bool(self.values.matching(pattern))

    def text(self, text: str) -> str:
        """A call's resource or condition value with ``${...}`` and ``<Output>`` resolved."""
        resolved = self.values.sub(text)
        return re.sub(r"<([A-Za-z][A-Za-z0-9]*)>", lambda m: self.values.output(m.group(1))
                      if m.group(1) in self.values.template.get("Outputs", {}) else m.group(0), resolved)

    def bucket_key(self, bucket: str) -> str:
        """The KMS key ARN of the template's bucket named ``bucket`` (SSE-KMS by default), else ''."""
        for logical_id, item in self.values.resources.items():
            if item["Type"] == "AWS::S3::Bucket" and self.values.name(logical_id) == bucket:
                encryption = item.get("Properties", {}).get("BucketEncryption", {})
                rules = encryption.get("ServerSideEncryptionConfiguration", [])
                for rule in rules:
                    key = rule.get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
                    if key is not None:
                        return str(self.values.resolve(key))
        return ""

    def governed(self) -> bool:
        """Whether Lake Formation governs the lab's data (it registers S3 locations)."""
        return any(item["Type"] == "AWS::LakeFormation::Resource" for item in self.values.resources.values())

    def table_location(self, database: str, table: str) -> str:
        """The S3 location of the template's Glue table ``database.table``, else ''."""
        for item in self.values.resources.values():
            props = self.values.resolve(item.get("Properties", {})) if item["Type"] == "AWS::Glue::Table" else {}
            if props.get("DatabaseName") == database and props.get("TableInput", {}).get("Name") == table:
                return str(props["TableInput"].get("StorageDescriptor", {}).get("Location", ""))
        return ""

    def workgroup_output(self, name: str) -> tuple[str, str]:
        """(output location, KMS key ARN or '') of the template's Athena workgroup ``name``."""
        for logical_id, item in self.values.resources.items():
            if item["Type"] == "AWS::Athena::WorkGroup" and self.values.name(logical_id) == name:
                result = self.values.resolve(item.get("Properties", {}).get("WorkGroupConfiguration", {})) \
                    .get("ResultConfiguration", {})
                return str(result.get("OutputLocation", "")), str(
                    result.get("EncryptionConfiguration", {}).get("KmsKey", ""))
        return "", ""


def dry_run_lines(lab: LabContract, region: str) -> list[str]:
    """What ``labs practice LAB --dry-run`` prints, run here offline (nothing is sent)."""
    from labs.engine.session import offline_session

    lines: list[str] = []
    lab.practice_class()(offline_session(region), dry_run=True, out=lines.append).run()
    return lines


def practice_calls(lab: LabContract, template: LabTemplate) -> Iterator[Call]:
    """The practice's requests, each as its principal makes it (the caller, or the lab role the
    dry run names with ``as <Output>``), then what AWS does next with the same credentials."""
    examples = sorted(lab.practice_class().dry_run_outputs(template.values.region).items(),
                      key=lambda item: -len(str(item[1])))
    fields: dict[str, Fields] = {}
    for number, request in enumerate(printed_calls(dry_run_lines(lab, template.values.region)), 1):
        calls = _request_calls(lab, request, examples, template, fields)
        if request.refused:  # shown failing on purpose: refused when any of its calls is
            calls = (replace(call, refused=request.title or "the practice shows it refused", group=f"request {number}")
                     for call in calls)
        yield from calls


def _request_calls(lab: LabContract, request: Any, examples: list, template: LabTemplate,
                   fields: dict[str, Fields]) -> Iterator[Call]:
    """One printed request as the calls it is, with what AWS does next."""
    params = _with_outputs(request.params, examples, template)
    who = CALLER if not request.role else template.values.output(request.role)
    known = fields.setdefault(who, Fields(partition=template.values.partition, region=template.values.region,
                                          account=template.values.account,
                                          StackArn=template.values.pseudo["AWS::StackId"]))
    source = f"labs practice {lab.name} --dry-run: {request.service} {request.operation}"
    for action, resource, context in iam_calls(request.service, request.operation, params, known):
        yield Call(who, action, resource, source, context, purpose=request.title or "the practice")
    yield from followed_by(who, request.service, request.operation, params, template)
    if location := EXTERNAL_LOCATION.search(str(params.get("QueryString", ""))):
        yield Call(who, "s3:PutObject", f"arn:${{AWS::Partition}}:s3:::{location[1]}/{location[2]}part-0.parquet",
                   source, purpose="Athena CTAS writes the new table's data")


def _with_outputs(value: Any, examples: list[tuple[str, Any]], template: LabTemplate) -> Any:
    """The dry run's example outputs (or placeholders) replaced by the template's resolved outputs."""
    if isinstance(value, dict):
        return {k: _with_outputs(v, examples, template) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_outputs(v, examples, template) for v in value]
    if not isinstance(value, str):
        return value
    for key, example in examples:
        if str(example) and str(example) in value and key in template.values.template.get("Outputs", {}):
            value = value.replace(str(example), template.values.output(key))
    return value


def all_calls(lab: LabContract, template: LabTemplate) -> list[Call]:
    """The practice's calls, the lab's own (its contract) and the shared ones, for this variant."""
    from catalog.shared_calls import shared_calls

    declared = [call for call in (*lab.calls, *shared_calls(lab))
                if call.applies_to(template.options) and (not call.present or template.has(call.present))]
    return [*practice_calls(lab, template), *declared]


def resolved(call: Call, template: LabTemplate) -> Call:
    """``call`` with its resource and condition values resolved against the template."""
    return replace(call, who=template.text(call.who) if "${" in call.who else call.who,
                   resource=template.text(call.resource),
                   context={k: template.text(v) for k, v in call.context.items()})
