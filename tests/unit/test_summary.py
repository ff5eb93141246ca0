"""`labs summary`: one line per synthesized stack."""

from __future__ import annotations

import pytest

from catalog import LABS
from labs.engine.errors import LabError
from labs.templates.summary import summarize


def test_summary_reads_lab_profile_resources_and_findings(synthesized):
    for profile, synth in synthesized.items():
        lines = {line.stack: line for line in summarize(synth.outdir)}
        assert set(lines) == {lab.stack_name for lab in LABS.values()} | {"mlref-janitor"}
        assert (lines["mlref-janitor"].lab, lines["mlref-janitor"].profile) == ("janitor", profile)
        line = lines["mlref-data-lake"]
        assert (line.lab, line.profile) == ("data-lake", profile)
        assert line.resources == len(synth.templates["data-lake"]["Resources"])
        assert line.open_findings == 0 and line.acknowledged > 0
        assert "findings: 0 open" in line.line()


def test_summary_of_a_missing_assembly_says_what_to_run(tmp_path):
    with pytest.raises(LabError, match="run `make synth` first"):
        summarize(tmp_path)
