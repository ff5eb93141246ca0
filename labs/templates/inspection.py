"""``labs inspect LAB``: what a synthesized lab deploys, read from its template.

Resources by service; every IAM role with its trust and what it may do (wildcards
marked); network exposure (every ingress rule, public endpoints); the encryption of
every data store; checker findings and every acknowledgment with its reason; outputs;
cost from the price table.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labs.engine.errors import LabError
from labs.templates.cfn_text import render

# Data stores and where their encryption setting lives: (type, label, reader).
PUBLIC_CIDRS = {"0.0.0.0/0", "::/0"}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


@dataclass
class Permission:
    effect: str
    actions: list[str]
    resources: list[str]
    conditions: bool
    wildcard: bool


@dataclass
class RoleReport:
    role: str
    description: str
    trusted: list[str]
    permissions: list[Permission] = field(default_factory=list)

    @property
    def wildcards(self) -> int:
        return sum(p.wildcard for p in self.permissions)


@dataclass
class Exposure:
    resource: str
    kind: str  # ingress | public
    detail: str
    public: bool


@dataclass
class Encryption:
    resource: str
    type: str
    encryption: str

    @property
    def encrypted(self) -> bool:
        return not self.encryption.startswith("NOT ENCRYPTED")


@dataclass
class Acknowledgment:
    resource: str
    rule: str
    reason: str


@dataclass
class LabReport:
    lab: str
    stack: str
    resources_by_service: dict[str, int]
    roles: list[RoleReport]
    exposure: list[Exposure]
    encryption: list[Encryption]
    acknowledgments: list[Acknowledgment]
    open_findings: dict[str, int]
    outputs: dict[str, str]
    cost: dict[str, Any]

    def to_json(self) -> str:
        data = asdict(self)
        for role, report in zip(data["roles"], self.roles, strict=True):
            role["wildcards"] = report.wildcards
        return json.dumps(data, indent=1)


def _statements(document: dict) -> list[dict]:
    return _as_list(document.get("Statement", []))


def _permission(statement: dict) -> Permission:
    actions = [render(a) for a in _as_list(statement.get("Action", statement.get("NotAction", [])))]
    resources = [render(r) for r in _as_list(statement.get("Resource", statement.get("NotResource", "*")))]
    wildcard = any("*" in a for a in actions) or any(r == "*" or r.endswith("*") for r in resources)
    return Permission(effect=statement.get("Effect", "Allow"), actions=actions, resources=resources,
                      conditions="Condition" in statement, wildcard=wildcard)


def roles_of(resources: dict[str, dict]) -> list[RoleReport]:
    reports: dict[str, RoleReport] = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        props = resource.get("Properties", {})
        trusted = []
        for statement in _statements(props.get("AssumeRolePolicyDocument", {})):
            principal = statement.get("Principal", {})
            for kind, values in (principal.items() if isinstance(principal, dict) else [("AWS", principal)]):
                trusted += [f"{kind}:{render(v)}" for v in _as_list(values)]
        report = RoleReport(role=name, description=props.get("Description", ""), trusted=trusted)
        for policy in props.get("Policies", []):
            report.permissions += [_permission(s) for s in _statements(policy.get("PolicyDocument", {}))]
        reports[name] = report
    for resource in resources.values():
        if resource["Type"] not in {"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"}:
            continue
        props = resource.get("Properties", {})
        for role in props.get("Roles", []):
            target = role.get("Ref") if isinstance(role, dict) else None
            if target in reports:
                reports[target].permissions += [_permission(s) for s in _statements(props.get("PolicyDocument", {}))]
    return list(reports.values())


def exposure_of(resources: dict[str, dict]) -> list[Exposure]:
    found = []

    def ingress(owner: str, rule: dict) -> None:
        peer = rule.get("CidrIp") or rule.get("CidrIpv6") or rule.get("SourceSecurityGroupId") \
            or rule.get("SourcePrefixListId") or "?"
        ports = f"{rule.get('IpProtocol', '?')}/{rule.get('FromPort', 'all')}-{rule.get('ToPort', 'all')}"
        found.append(Exposure(owner, "ingress", f"{ports} from {render(peer)}",
                              public=render(peer) in PUBLIC_CIDRS))

    for name, resource in resources.items():
        props, kind = resource.get("Properties", {}), resource["Type"]
        if kind == "AWS::EC2::SecurityGroup":
            for rule in props.get("SecurityGroupIngress", []):
                ingress(name, rule)
        elif kind == "AWS::EC2::SecurityGroupIngress":
            ingress(render(props.get("GroupId")), props)
        elif kind == "AWS::EC2::InternetGateway":
            found.append(Exposure(name, "public", "internet gateway: public subnets route to the internet", True))
        elif kind == "AWS::EC2::Subnet" and props.get("MapPublicIpOnLaunch"):
            found.append(Exposure(name, "public", "subnet assigns public IPv4 addresses", True))
        elif kind == "AWS::RedshiftServerless::Workgroup" and props.get("PubliclyAccessible"):
            found.append(Exposure(name, "public", "Redshift Serverless endpoint is publicly accessible", True))
        elif kind == "AWS::Lambda::Url":
            found.append(Exposure(name, "public", f"function URL, auth {props.get('AuthType')}",
                                  props.get("AuthType") == "NONE"))
    return found


def _key(value: Any) -> str:
    return f"KMS {render(value)}" if value else ""


def encryption_of(resources: dict[str, dict]) -> list[Encryption]:
    found = []
    for name, resource in resources.items():
        props, kind = resource.get("Properties", {}), resource["Type"]
        setting: str | None = None
        if kind == "AWS::S3::Bucket":
            rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
            default = rules[0].get("ServerSideEncryptionByDefault", {}) if rules else {}
            setting = (f"{default.get('SSEAlgorithm')} {render(default.get('KMSMasterKeyID', ''))}".strip()
                       if default else "NOT ENCRYPTED (S3 applies SSE-S3 by default)")
        elif kind == "AWS::Kinesis::Stream":
            encryption = props.get("StreamEncryption")
            setting = _key(encryption.get("KeyId")) if encryption else "NOT ENCRYPTED"
        elif kind == "AWS::Logs::LogGroup":
            setting = _key(props.get("KmsKeyId")) or "CloudWatch Logs service key"
        elif kind == "AWS::SQS::Queue":
            setting = _key(props.get("KmsMasterKeyId")) or (
                "SQS managed SSE" if props.get("SqsManagedSseEnabled", True) else "NOT ENCRYPTED")
        elif kind == "AWS::FSx::FileSystem":
            setting = _key(props.get("KmsKeyId")) or "FSx service key (always encrypted at rest)"
        elif kind == "AWS::EFS::FileSystem":
            setting = _key(props.get("KmsKeyId")) or ("EFS service key" if props.get("Encrypted") else "NOT ENCRYPTED")
        elif kind == "AWS::SageMaker::FeatureGroup":
            online = props.get("OnlineStoreConfig", {}).get("SecurityConfig", {}).get("KmsKeyId")
            offline = props.get("OfflineStoreConfig", {}).get("S3StorageConfig", {}).get("KmsKeyId")
            setting = (f"online {_key(online) or 'NOT ENCRYPTED with a lab key'}; "
                       f"offline {_key(offline) or 'bucket default'}")
        elif kind == "AWS::RedshiftServerless::Namespace":
            setting = _key(props.get("KmsKeyId")) or "Redshift service key"
        elif kind == "AWS::SecretsManager::Secret":
            setting = _key(props.get("KmsKeyId")) or "Secrets Manager service key"
        elif kind == "AWS::KinesisFirehose::DeliveryStream":
            config = props.get("DeliveryStreamEncryptionConfigurationInput")
            setting = (f"{config.get('KeyType')} {render(config.get('KeyARN', ''))}".strip() if config
                       else "source stream's encryption")
        elif kind == "AWS::Athena::WorkGroup":
            result = props.get("WorkGroupConfiguration", {}).get("ResultConfiguration", {})
            config = result.get("EncryptionConfiguration")
            setting = (f"results {config.get('EncryptionOption')} {render(config.get('KmsKey', ''))}".strip()
                       if config else "NOT ENCRYPTED results")
        if setting is not None:
            found.append(Encryption(name, kind, setting))
    return found


def acknowledgments_of(resources: dict[str, dict]) -> list[Acknowledgment]:
    found = []
    for name, resource in resources.items():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            found.append(Acknowledgment(name, rule.get("id", "?"), rule.get("reason", "")))
    return found


def open_findings(assembly: Path) -> dict[str, int]:
    report = assembly / "validation-report.json"
    if not report.is_file():
        return {}
    counts: dict[str, int] = {"cdk-nag packs": 0}  # a report without plugin entries: nothing failed
    try:
        plugins = json.loads(report.read_text()).get("pluginReports", [])
    except (OSError, ValueError, AttributeError) as error:
        raise LabError(f"{report} cannot be read ({error}): synthesize again with `labs synth`") from None
    for plugin in plugins:
        counts.pop("cdk-nag packs", None)
        if plugin.get("pluginName") != "Construct Annotations":
            counts[plugin.get("pluginName", "?")] = len(plugin.get("violations", []))
    return counts


def template_of(assembly: Path, stack_name: str) -> dict:
    from labs.engine.cdk_cli import read_stack

    return read_stack(assembly, stack_name)[0]


def options_of(lab: Any, template: dict, region: str) -> tuple[Any, str]:
    """The lab's options as recorded in its template's metadata (defaults when absent)."""
    from catalog.config import ConfigError
    from labs.engine.deployed import METADATA_KEY

    entry = template.get("Metadata", {}).get(METADATA_KEY) if isinstance(template.get("Metadata"), dict) else None
    context = entry.get("context") if isinstance(entry, dict) else None
    if not isinstance(context, dict):
        return lab.default_options(), "the lab's defaults (the template records no options)"
    try:
        return lab.parse({str(k): str(v) for k, v in context.items()}, region), "the template's options"
    except ConfigError as error:
        return lab.default_options(), f"the lab's defaults (recorded options rejected: {error})"


def region_of(assembly: Path, stack_name: str) -> str:
    from labs.engine.cdk_cli import stack_artifact

    environment = (stack_artifact(assembly, stack_name) or {}).get("environment", "")
    region = environment.rsplit("/", 1)[-1] if environment.startswith("aws://") else ""
    return region if region and region != "unknown-region" else "us-east-1"


def inspect_lab(lab: str, assembly: Path) -> LabReport:
    from catalog import contract

    definition = contract(lab)
    template = template_of(assembly, definition.stack_name)
    resources = template.get("Resources", {})
    services = Counter(r["Type"].split("::")[1] for r in resources.values())
    options, priced = options_of(definition, template, region_of(assembly, definition.stack_name))
    cost = definition.cost(options)
    return LabReport(
        lab=lab, stack=definition.stack_name, resources_by_service=dict(sorted(services.items())),
        roles=roles_of(resources), exposure=exposure_of(resources), encryption=encryption_of(resources),
        acknowledgments=acknowledgments_of(resources), open_findings=open_findings(assembly),
        outputs={name: render(o.get("Value")) for name, o in template.get("Outputs", {}).items()
                 if not name.startswith("BootstrapVersion")},
        cost={"idle_per_hour": round(cost.idle_per_hour, 4),
              "per_practice_run": None if cost.per_practice_run is None else round(cost.per_practice_run, 4),
              "alternatives": {flag: round(usd, 4) for flag, usd in cost.alternatives},
              "priced_with": priced},
    )


def text_report(report: LabReport) -> list[str]:
    lines = [f"{report.lab} ({report.stack})", "", "resources by service:"]
    lines += [f"  {service:<22} {count}" for service, count in report.resources_by_service.items()]
    lines += ["", "IAM roles (! = wildcard action or resource):"]
    for role in report.roles:
        lines.append(f"  {role.role}: {role.description or '(no description)'}")
        lines.append(f"    trusted: {', '.join(role.trusted)}")
        for permission in role.permissions:
            mark = "!" if permission.wildcard else " "
            condition = " (conditional)" if permission.conditions else ""
            lines.append(f"   {mark}{permission.effect} {', '.join(permission.actions)} on "
                         f"{', '.join(permission.resources)}{condition}")
    lines += ["", "network exposure:"]
    lines += [f"  {'PUBLIC ' if e.public else ''}{e.kind} {e.resource}: {e.detail}" for e in report.exposure] or \
        ["  none: no ingress rules, no public endpoints"]
    lines += ["", "encryption of data stores:"]
    lines += [f"  {e.resource} ({e.type}): {e.encryption}" for e in report.encryption]
    lines += ["", "findings: " + (", ".join(f"{k}: {v} open" for k, v in report.open_findings.items())
                                 or "no validation report (synthesize with `labs synth`)")]
    lines += [f"  acknowledged {a.rule} on {a.resource}: {a.reason}" for a in report.acknowledgments]
    lines += ["", "outputs:"] + [f"  {name} = {value}" for name, value in report.outputs.items()]
    run = report.cost["per_practice_run"]
    others = "".join(f"; {flag}: ~${usd:.2f}" for flag, usd in report.cost["alternatives"].items())
    lines += ["", f"cost: ~${report.cost['idle_per_hour']:.4f}/hour idle, "
                  f"{'unknown' if run is None else f'~${run:.2f}'} per practice run{others} "
                  f"(estimates from pricing/prices.toml, with {report.cost['priced_with']})"]
    return lines
