"""Every practice announces each of its steps, and what of MLA-C01 the step exercises, before it runs it
(``step_line``): the steps its catalog entry names are the steps its dry run announces, in order, each with
at least one task statement; and a step line never spoils the requests the dry run prints around it."""

from __future__ import annotations

import pytest

from catalog import LABS
from catalog.exam import STATEMENTS
from labs.permissions.calls import dry_run_lines
from labs.practice.common.dry_run import HEADING, printed_calls
from labs.practice.common.steps import announced_steps, step_line


@pytest.fixture(scope="module", params=list(LABS))
def dry_run(request):
    return request.param, dry_run_lines(LABS[request.param], "us-east-1")


def test_the_dry_run_announces_every_step_the_catalog_names_in_order(dry_run):
    lab, lines = dry_run
    announced = announced_steps(lines)
    assert [step for step, _ in announced] == [exercise.step for exercise in LABS[lab].exercises]
    assert [statements for _, statements in announced] == [exercise.statements for exercise in LABS[lab].exercises]


def test_every_announced_step_names_at_least_one_task_statement(dry_run):
    _, lines = dry_run
    step_lines = [line for line in lines if line.startswith("step ")]
    assert len(step_lines) == len(announced_steps(lines)) > 0, "a line that looks like a step's but is not one"
    for step, statements in announced_steps(lines):
        assert statements and all(number in STATEMENTS for number in statements), step


def test_step_lines_do_not_spoil_the_requests_printed_around_them(dry_run):
    """Each request heading the dry run prints is read back as one request, its body intact (JSON)."""
    _, lines = dry_run
    headings = [line for text in lines for line in text.splitlines() if HEADING.match(line)]
    assert len(printed_calls(lines)) == len(headings) > 0


def test_a_step_the_catalog_does_not_name_is_the_labs_error():
    with pytest.raises(KeyError, match="'warm up' is not among its catalog exercises"):
        step_line(LABS["endpoint"], "warm up")


def test_the_step_line_names_each_statement_by_number_and_title():
    line = step_line(LABS["endpoint"], "traffic shift")
    assert line == ("step traffic shift: MLA-C01 3.1 Select deployment infrastructure based on existing architecture "
                    "and requirements; 4.1 Monitor model inference")
    assert announced_steps(["noise", line, "step 1, 10 requests at VariantA 0.8"]) == [
        ("traffic shift", ("3.1", "4.1"))]
