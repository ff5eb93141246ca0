"""The pinned toolchain, run quietly: the environment every process that loads jsii (the CDK app) or runs
the CDK CLI starts with. Node.js 20 makes jsii print an end-of-life banner on every start, and the
CDK CLI would send telemetry; neither belongs in a lab's output. (The Makefile exports the same three.)"""

from __future__ import annotations

QUIET_TOOLCHAIN = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
}
