"""The exam guide as data (catalog/exam.py) and each lab's exercises against it: every skill a step claims is a
bullet of the guide under one of the step's statements, and a lab's MLA-C01 domains are its exercises'."""

from __future__ import annotations

import pytest

from catalog import LABS
from catalog.exam import DOMAINS, MLA_D1, MLA_D4, STATEMENTS, ExamDomains, Exercise, domains_of

# (knowledge, skills) bullets per statement in the MLA-C01 guide, and how many of its 133 bullets were read
# whole on an AWS page (the researcher's count, /work/notes/mla-c01.md).
GUIDE_COUNTS = {"1.1": (4, 6), "1.2": (6, 3), "1.3": (5, 4), "2.1": (4, 5), "2.2": (8, 9), "2.3": (5, 6),
                "3.1": (7, 6), "3.2": (5, 6), "3.3": (6, 6), "4.1": (3, 4), "4.2": (6, 10), "4.3": (4, 5)}
CONFIRMED = 72


def test_the_guide_has_its_twelve_statements_with_their_bullets():
    assert {n: (len(s.knowledge), len(s.skills)) for n, s in STATEMENTS.items()} == GUIDE_COUNTS
    assert sum(b.confirmed for s in STATEMENTS.values() for b in s.bullets) == CONFIRMED
    assert all(not b.confirmed for n in ("1.3", "2.3", "3.3", "4.3") for b in STATEMENTS[n].bullets)  # copies only
    assert all(b.confirmed for n in ("1.1", "2.1", "3.1", "4.1") for b in STATEMENTS[n].bullets)


def test_a_bullet_is_named_by_its_text_or_by_its_text_without_examples_and_never_ambiguously():
    extracting = STATEMENTS["1.1"].skills[0]
    assert extracting.head == "Extracting data from storage by using relevant AWS service options"
    assert STATEMENTS["1.1"].bullet(extracting.head) is STATEMENTS["1.1"].bullet(extracting.text) is extracting
    for statement in STATEMENTS.values():
        names = [name for bullet in statement.bullets for name in {bullet.text, bullet.head}]
        assert len(names) == len(set(names)), statement.number


def test_the_domains_weigh_one_hundred_and_only_d1s_weight_is_unconfirmed():
    assert sum(d.weight for d in DOMAINS.values()) == 100
    assert [d.number for d in DOMAINS.values() if not d.weight_confirmed] == [1]
    assert MLA_D1 == "D1 Data Preparation for Machine Learning (ML) (28%)"
    assert MLA_D4 == "D4 ML Solution Monitoring, Maintenance, and Security (24%)"
    assert {s.domain for s in STATEMENTS.values()} == set(DOMAINS)


def test_every_skill_a_step_claims_is_a_bullet_of_its_statements():
    for name, lab in LABS.items():
        for exercise in lab.exercises:
            claims = exercise.claims()  # raises, naming the step and the skill
            assert len(claims) == len(exercise.skills), (name, exercise.step)
            assert all(number in exercise.statements for number, _ in claims)


def test_a_claim_outside_the_steps_statements_is_refused_with_where_it_belongs():
    step = Exercise("traffic shift", ("3.1",), ("Monitoring model performance in production by using A/B testing",))
    with pytest.raises(ValueError, match=r"not a bullet of 3\.1; it is a bullet of 4\.1: add that statement"):
        step.claims()
    with pytest.raises(ValueError, match="name a bullet of the guide by its text"):
        Exercise("x", ("4.1",), ("Model Monitor",)).claims()
    with pytest.raises(ValueError, match="no MLA-C01 task statement"):
        Exercise("x", ())


def test_each_lab_names_each_step_once():
    for name, lab in LABS.items():
        steps = [exercise.step for exercise in lab.exercises]
        assert steps and len(steps) == len(set(steps)), name
        assert all(step == step.strip() and ":" not in step for step in steps), name  # step_line reads it back


def test_a_labs_mla_domains_are_those_of_its_exercises_and_a_hand_written_list_must_agree():
    assert [d.short for d in domains_of([Exercise("a", ("4.2", "1.1")), Exercise("b", ("1.3",))])] == ["D1", "D4"]
    assert LABS["endpoint"].mla_short == "D3, D4"
    for name, lab in LABS.items():
        if lab.exams.mla_c01:  # written by hand before the task statements: kept only while it agrees
            assert set(lab.exams.mla_c01) == {d.label for d in lab.mla_domains}, name
    assert ExamDomains("Modeling").mla_c01 == ()
