"""The exams the labs prepare for: MLS-C01, the study notes' exam (retired 2026-03-31), and MLA-C01, its
successor for this audience, down to its twelve task statements. CDK-free data.

Source: AWS Certified Machine Learning Engineer - Associate (MLA-C01) exam guide, content outline
(https://docs.aws.amazon.com/aws-certification/latest/machine-learning-engineer-associate-01/
machine-learning-engineer-associate-01.html and its four domain pages).
"""

from __future__ import annotations

from dataclasses import dataclass

# MLS-C01 (the study notes' exam, retired 2026-03-31): its four domains.
MLS_DATA_ENGINEERING = "Data Engineering"
MLS_EDA = "Exploratory Data Analysis"
MLS_MODELING = "Modeling"
MLS_OPERATIONS = "ML Implementation and Operations"

# MLA-C01 (its successor for this audience), with each domain's weight.
MLA_D1 = "D1 Data Preparation for ML (28%)"
MLA_D2 = "D2 ML Model Development (26%)"
MLA_D3 = "D3 Deployment and Orchestration of ML Workflows (22%)"
MLA_D4 = "D4 ML Solution Monitoring, Maintenance and Security (24%)"


@dataclass(frozen=True)
class ExamDomains:
    """Where a lab sits in the exams: the notes' MLS-C01 domain and today's MLA-C01 domains."""

    mls_c01: str
    mla_c01: tuple[str, ...]

    @property
    def mla_short(self) -> str:
        """``D1, D3``: the MLA-C01 domain numbers."""
        return ", ".join(domain.split()[0] for domain in self.mla_c01)


@dataclass(frozen=True)
class TaskStatement:
    """One MLA-C01 task statement: its number (``3.1``), its title, and its domain (1-4)."""

    number: str
    title: str

    @property
    def domain(self) -> int:
        return int(self.number.split(".")[0])


STATEMENTS: dict[str, TaskStatement] = {s.number: s for s in (
    TaskStatement("1.1", "Ingest and store data"),
    TaskStatement("1.2", "Transform data and perform feature engineering"),
    TaskStatement("1.3", "Ensure data integrity and prepare data for modeling"),
    TaskStatement("2.1", "Choose a modeling approach"),
    TaskStatement("2.2", "Train and refine models"),
    TaskStatement("2.3", "Analyze model performance"),
    TaskStatement("3.1", "Select deployment infrastructure based on existing architecture and requirements"),
    TaskStatement("3.2", "Create and script infrastructure based on existing architecture and requirements"),
    TaskStatement("3.3", "Use automated orchestration tools to set up continuous integration and continuous "
                         "delivery (CI/CD) pipelines"),
    TaskStatement("4.1", "Monitor model inference"),
    TaskStatement("4.2", "Monitor and optimize infrastructure and costs"),
    TaskStatement("4.3", "Secure AWS resources"),
)}


@dataclass(frozen=True)
class Exercise:
    """One step of a lab's practice and what of the MLA-C01 guide it exercises.

    Attributes:
        step: the step's name, as the practice announces it before the step runs.
        statements: the task statements it exercises (``("3.1", "4.1")``).
        skills: the named skills or services of those statements it exercises, in the guide's words.
    """

    step: str
    statements: tuple[str, ...]
    skills: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [number for number in self.statements if number not in STATEMENTS]
        if unknown or not self.statements:
            raise ValueError(f"step {self.step!r}: {unknown or 'no'} MLA-C01 task statement(s); "
                             f"use {', '.join(STATEMENTS)}")
