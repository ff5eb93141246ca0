"""The cfn-lint gate: no error or warning in any synthesized template (every profile, variant, classroom)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_cfn_lint_reports_no_error_or_warning(unique_template_dir):
    templates = sorted(str(p) for p in unique_template_dir.glob("*.template.json"))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--config-file", str(ROOT / ".cfnlintrc.yaml"),
         "--format", "parseable", "--", *templates],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.stdout.strip() == "" and result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_ignores_are_each_explained():
    config = (ROOT / ".cfnlintrc.yaml").read_text().splitlines()
    for index, line in enumerate(config):
        if re.match(r"\s*-\s*[EWI]\d{4}", line):
            comments = [c for c in config[max(0, index - 4):index] if c.strip().startswith("#")]
            assert len(" ".join(comments).split()) >= 10, f"ignored rule without a reason: {line.strip()}"
