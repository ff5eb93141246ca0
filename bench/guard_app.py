"""The labs' app with cfn-guard's Control Tower rules as a synth-time validation plugin.

`bench/synth.py --cfn-guard` times it: the alternative issue 15 weighed against running
cfn-guard in the tests. It adds the CfnGuardValidator plugin of cdklabs.cdk-validator-cfnguard
to the app (the same mechanism as `App(policy_validation_beta1=[...])`, which aws-cdk-lib
deprecates for `Validations.of(app).add_plugins`), with the rules acknowledged in
gates/cfn-guard-acks.toml disabled so that synth passes.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from catalog.toolchain import QUIET_TOOLCHAIN  # noqa: E402 - after the checkout is on the path

# Node 20 is past end-of-life for jsii: silence its banner before jsii starts (so the imports come after).
for _name, _value in QUIET_TOOLCHAIN.items():
    os.environ.setdefault(_name, _value)

from aws_cdk import Validations  # noqa: E402 - after the banner is silenced
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator  # noqa: E402 - after the banner is silenced

import app as lab_app  # noqa: E402 - after the checkout is on the path
from gates import cfn_guard  # noqa: E402 - after the checkout is on the path

labs_app = lab_app.new_app


def guarded_app(**props):
    cdk_app = labs_app(**props)
    _, rules_dir = cfn_guard.bundle()
    acknowledged = {ack.rule for ack in cfn_guard.load_acks(ROOT / "gates" / "cfn-guard-acks.toml")}
    disabled = [f.path.stem for f in cfn_guard.rule_files(rules_dir) if f.rules & acknowledged]
    # The default 1 MB buffer is too small for cfn-guard's report on five stacks.
    Validations.of(cdk_app).add_plugins(CfnGuardValidator(disabled_rules=disabled, max_buffer=64 * 1024 * 1024))
    return cdk_app


lab_app.new_app = guarded_app
sys.exit(lab_app.main())
