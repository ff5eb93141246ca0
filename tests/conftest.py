"""Synthesizes every lab once per test session, in each profile."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from catalog.paths import ROOT
from catalog.toolchain import QUIET_TOOLCHAIN

FIXED_SYNTH_TIME = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)

# Fake credentials and a region before anything imports boto3; never reach AWS.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        **QUIET_TOOLCHAIN,
    }
)
os.environ.pop("AWS_PROFILE", None)
# botocore reads each service model, and the endpoints file behind every new Session's endpoint resolver
# (~65 ms each), from their JSON files once per Session; the tests make hundreds of sessions (moto, Stubber,
# fakes), so they are read once per test process instead, per search path. botocore treats them as
# read-only (one Session already shares them between its clients).
def _share_botocore_models() -> None:
    import botocore.loaders

    cache: dict = {}
    load_model = botocore.loaders.Loader.load_service_model
    load_with_path = botocore.loaders.Loader.load_data_with_path

    def shared_model(self, service_name, type_name, api_version=None):
        key = ("model", tuple(self.search_paths), service_name, type_name, api_version)
        if key not in cache:
            cache[key] = load_model(self, service_name, type_name, api_version)
        return cache[key]

    def shared_data_with_path(self, name):
        key = ("data", tuple(self.search_paths), name)
        if key not in cache:
            cache[key] = load_with_path(self, name)
        return cache[key]

    botocore.loaders.Loader.load_service_model = shared_model
    botocore.loaders.Loader.load_data_with_path = shared_data_with_path


_share_botocore_models()
# What `labs deploy` saves goes to a scratch folder, never the checkout's .labs/.
os.environ["MLREF_LABS_STATE"] = tempfile.mkdtemp(prefix="mlref-labs-state-")


class Synthesized:
    """One synthesis of the app: its profile, its cloud assembly, its templates by the name ``build``
    gives each stack (StackSet member templates, files beside the assembly, apart in ``members``), and
    (built on first use) the live app and its stacks by that name, for tests that read the construct
    tree."""

    def __init__(self, profile: str, context: dict, outdir: Path, files: dict[str, str],
                 live: tuple | None = None, rebuild_dir: Path | None = None, facts: dict | None = None) -> None:
        self.profile, self.context, self.outdir, self._facts = profile, context, outdir, facts
        read = {name: json.loads((outdir / file).read_text()) for name, file in files.items()}
        self.templates = {name: t for name, t in read.items() if not name.endswith("-member")}
        self.members = {name: t for name, t in read.items() if name.endswith("-member")}
        self._live, self._rebuild_dir = live, rebuild_dir

    @property
    def app(self):
        return self._built()[0]

    @property
    def facts(self) -> dict:
        """cdk-nag's findings and acknowledgments (``gates.nag.tree_facts``): recorded by the process
        that synthesized, computed here otherwise."""
        if self._facts is None:
            from gates.nag import tree_facts

            self._facts = tree_facts(self.app, self.profile)
        return self._facts

    @property
    def stacks(self) -> dict:
        return self._built()[1]

    def _built(self) -> tuple:
        if self._live is None:  # this test process read the synthesis from disk: build the same app here
            self._live = build_app(self.context, self._rebuild_dir)
        return self._live


def app_context(profile: str, **extra_context: str) -> dict:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context.update({"profile": profile, "owner": "tester", "ttl_hours": 4, **extra_context})
    if profile == "sandbox":  # one profile with a cost budget, one without
        context["alert_email"] = "ml-team@example.com"
    return context


def build_app(context: dict, outdir: Path) -> tuple:
    import app as lab_app

    cdk_app = lab_app.new_app(context=context, outdir=str(outdir))
    config = lab_app.read_config(context, {"CDK_DEFAULT_REGION": "us-east-1"})
    stacks = lab_app.build(cdk_app, config, synth_time=FIXED_SYNTH_TIME)
    cdk_app.synth()
    return cdk_app, stacks


def template_files(stacks: dict) -> dict[str, str]:
    """Each stack's template file by the name ``build`` gives it, and a StackSet admin stack's member
    template as "<name>-member"."""
    files = {name: stack.template_file for name, stack in stacks.items()}
    files.update({f"{name}-member": stack.member.template_file for name, stack in stacks.items()
                  if hasattr(stack, "member")})
    return files


def synthesize(profile: str, outdir: Path, **extra_context: str) -> Synthesized:
    context = app_context(profile, **extra_context)
    live = build_app(context, outdir)
    return Synthesized(profile, context, outdir, template_files(live[1]), live=live)


@contextmanager
def run_wide(tmp_path_factory, name: str, wait: bool = True):
    """A path shared by every process of this test run (the pytest-xdist workers), held under an
    exclusive lock: the first process to get it does the work there, the others find it done. With
    ``wait=False``, None when another process holds it."""
    import fcntl

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each worker's own
    with open(shared / f"{name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield shared / name


def once_per_run(tmp_path_factory, name: str, compute) -> str:
    """``compute()`` (text: a checker's report), run by one process of the test run for all of them."""
    with run_wide(tmp_path_factory, f"{name}.out") as path:
        if not path.is_file():
            path.write_text(compute())
        return path.read_text()


# Lab variants chosen by context (declared in each lab's contract), synthesized on their own for the
# gates and their assertions.
def _variant_context() -> dict[str, dict[str, str]]:
    from catalog import LABS

    return {variant.name: {"labs": name, **variant.context} for name, lab in LABS.items() for variant in lab.variants}


VARIANT_CONTEXT = _variant_context()
# The classroom (StackSets, tests/stacks/test_classroom.py): feature-store's, which the classroom tests read,
# and every other lab that can run as a StackSet, whose templates (members included) the gates scan too.
CLASSROOM_CONTEXT = {"classroom": "feature-store", "classroom_accounts": "111111111111,222222222222",
                     "classroom_regions": "us-east-1,eu-west-1"}


def _classrooms() -> dict[str, dict[str, str]]:
    from catalog import LABS
    from catalog.classroom import NOT_STACKSET_READY

    others = [lab for lab in LABS if lab not in NOT_STACKSET_READY and lab != CLASSROOM_CONTEXT["classroom"]]
    return {"classroom": CLASSROOM_CONTEXT, **{f"classroom-{lab}": {**CLASSROOM_CONTEXT, "classroom": lab}
                                              for lab in others}}


# Every synthesis the tests share: name -> (profile, context beyond cdk.json's).
PROFILES = {profile: (profile, {}) for profile in ("sandbox", "production")}
VARIANTS = {**PROFILES, **{f"{profile}-{variant}": (profile, context)
                           for variant, context in VARIANT_CONTEXT.items() for profile in ("sandbox", "production")}}
CLASSROOMS = {name: ("sandbox", context) for name, context in _classrooms().items()}
_SYNTHESES: dict[str, Synthesized] = {}  # this process's, by name
# Walking an app with cdk-nag's packs costs about as much as building it. When the cdk-nag gate is in the
# run (`make test`), the process that synthesizes records the facts for every process; without it
# (`make test-fast`), only the few tests that read them compute them, from the app their process built.
_RECORD_NAG_FACTS = True


def _shared_synthesis(tmp_path_factory, name: str, outdir: Path) -> Synthesized:
    profile, extra_context = {**VARIANTS, **CLASSROOMS}[name]
    context = app_context(profile, **extra_context)
    index, facts = outdir / "templates-by-name.json", outdir / "nag-facts.json"
    live = None
    if not index.is_file():
        live = build_app(context, outdir)
        if _RECORD_NAG_FACTS:
            from gates.nag import tree_facts

            facts.write_text(json.dumps(tree_facts(live[0], profile)))
        index.write_text(json.dumps(template_files(live[1])))
    return Synthesized(profile, context, outdir, json.loads(index.read_text()), live=live,
                       rebuild_dir=tmp_path_factory.mktemp(f"cdk-{name}"),
                       facts=json.loads(facts.read_text()) if facts.is_file() else None)


def shared_syntheses(tmp_path_factory, names) -> dict[str, Synthesized]:
    """The syntheses ``names`` (keys of VARIANTS or CLASSROOMS), each done once per test run however many
    processes ask: the first to take one builds it into a folder they share (and records cdk-nag's
    facts there), the others read its templates (and build the live app only if one of their tests
    reads the construct tree). While another process builds one, this one builds the next."""
    pending = [name for name in names if name not in _SYNTHESES]
    while pending:
        taken = False
        for name in list(pending):
            with run_wide(tmp_path_factory, f"shared-cdk-{name}", wait=False) as outdir:
                if outdir is not None:
                    _SYNTHESES[name] = _shared_synthesis(tmp_path_factory, name, outdir)
                    pending.remove(name)
                    taken = True
        if pending and not taken:  # every one left is being built elsewhere: wait for the first
            with run_wide(tmp_path_factory, f"shared-cdk-{pending[0]}") as outdir:
                _SYNTHESES[pending[0]] = _shared_synthesis(tmp_path_factory, pending[0], outdir)
                pending.pop(0)
    return {name: _SYNTHESES[name] for name in names}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory) -> dict[str, Synthesized]:
    """Both profiles, synthesized once for the whole test run."""
    return shared_syntheses(tmp_path_factory, PROFILES)


@pytest.fixture(scope="session")
def variants(tmp_path_factory) -> dict[str, Synthesized]:
    """Both profiles of the default app, plus each variant in both profiles ("production-streaming")."""
    return shared_syntheses(tmp_path_factory, VARIANTS)


@pytest.fixture(scope="session")
def classroom(tmp_path_factory) -> Synthesized:
    return shared_syntheses(tmp_path_factory, ["classroom"])["classroom"]


@pytest.fixture(scope="session")
def classrooms(tmp_path_factory) -> dict[str, Synthesized]:
    """Every lab's classroom that runs as a StackSet (CLASSROOMS), feature-store's ("classroom") included."""
    return shared_syntheses(tmp_path_factory, CLASSROOMS)


def classroom_templates(room: Synthesized) -> dict[str, dict]:
    """The classroom's admin stacks and its member templates (files beside the assembly, not stacks)."""
    return {**room.templates, **{f"{role}-member": room.members[f"{role}-member"] for role in ("classroom", "janitor")}}


# The external gates (cfn-lint, checkov, cfn-guard) read templates from files.

@pytest.fixture(scope="session")
def template_dir(tmp_path_factory) -> Path:
    """Every template of every profile and variant, named <variant>-<lab>.template.json, and the
    classrooms' as <classroom>-<role>.template.json: feature-store's every stack and StackSet member; of
    the others, the stack that holds the lab's StackSet and its member (their asset shelves and
    janitor differ from feature-store's only in names and asset keys)."""
    syntheses = shared_syntheses(tmp_path_factory, {**VARIANTS, **CLASSROOMS})
    directory = tmp_path_factory.mktemp("templates")
    for name, synth in syntheses.items():
        templates = classroom_templates(synth) if name in CLASSROOMS else synth.templates
        if name in CLASSROOMS and name != "classroom":  # beside feature-store's classroom, only what the lab
            templates = {role: templates[role] for role in ("classroom", "classroom-member")}  # changes
        for stack, template in templates.items():
            (directory / f"{name}-{stack}.template.json").write_text(json.dumps(template, indent=1))
    return directory


@pytest.fixture(scope="session")
def unique_template_dir(template_dir, tmp_path_factory) -> Path:
    """``template_dir`` with each distinct template once (the janitor, for one, is in every variant's
    synthesis): cfn-lint and checkov judge a template by its content, not by where it came from."""
    import hashlib

    directory, seen = tmp_path_factory.mktemp("unique-templates"), set()
    for path in sorted(template_dir.glob("*.template.json")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            (directory / path.name).write_bytes(path.read_bytes())
    return directory


@pytest.fixture(scope="session")
def sandbox(synthesized) -> Synthesized:
    return synthesized["sandbox"]


@pytest.fixture(scope="session")
def production(synthesized) -> Synthesized:
    return synthesized["production"]


def resources_of(template: dict, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """No AWS credentials anywhere: environment, files, instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def aws(monkeypatch):
    """moto in us-east-1 with test credentials; a session for it."""
    import boto3
    from moto import mock_aws

    from lambdas.lab_sweep.sweep import Sweeper

    # moto has no ListFeatureGroups or ListMonitoringSchedules; those sweep steps are tested with
    # Stubber in tests/lambdas.
    monkeypatch.setattr(Sweeper, "feature_groups", lambda self: None)
    monkeypatch.setattr(Sweeper, "monitoring_schedules", lambda self: None)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


# The files whose tests take tens of seconds (the external gates over every template, the end-to-end run
# against moto) go first, the heaviest first: `make test` hands whole files to its two pytest-xdist
# workers in this order (--dist loadfile --no-loadscope-reorder; each heavy import and module fixture
# is then paid by one worker), so these two pairs run side by side while the many short files fill in
# around them, instead of one of them running alone at the end.
HEAVIEST_FIRST = ("test_cfn_lint.py", "test_checkov.py", "test_local_deploy.py", "test_cfn_guard.py")


def pytest_collection_modifyitems(config, items):
    global _RECORD_NAG_FACTS
    _RECORD_NAG_FACTS = any(item.path.name == "test_cdk_nag.py" for item in items)
    items.sort(key=lambda item: HEAVIEST_FIRST.index(item.path.name) if item.path.name in HEAVIEST_FIRST
               else len(HEAVIEST_FIRST))
