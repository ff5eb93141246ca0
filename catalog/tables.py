"""The README's lab and context tables, rendered from the lab contracts (a test keeps them in step).

    .venv/bin/python -m catalog.tables      # prints both tables
"""

from __future__ import annotations

from catalog import LABS
from catalog.config import SHARED_KEYS
from catalog.prices import LabCost, usd


def _run(cost: LabCost) -> str:
    if cost.per_practice_run is None:
        return "unknown"
    return f"~{usd(cost.per_practice_run)}" + "".join(f" ({flag} ~{usd(value)})" for flag, value in cost.alternatives)


def lab_table() -> list[str]:
    """One row per lab: what it shows, its exam domains (MLA-C01: its exercises'), and its cost with defaults and
    per variant."""
    lines = ["| lab | demonstrates | MLS-C01 (the notes) | MLA-C01 (today) | idle cost/hour | per practice run |",
             "|---|---|---|---|---|---|"]
    for name, lab in LABS.items():
        cost = lab.cost(lab.default_options())
        idle, run = [f"~${cost.idle_per_hour:.4f}"], [_run(cost)]
        for variant in lab.variants:
            other = lab.cost(lab.variant_options(variant))
            label = variant.note or variant.name
            idle.append(f"{label}: ~${other.idle_per_hour:.4f}")
            if _run(other) != run[0]:
                run.append(f"{label}: {_run(other)}")
        lines.append(f"| `{name}` | {lab.demonstrates} | {lab.exams.mls_c01} | {lab.mla_short} | "
                     f"{'; '.join(idle)} | {'; '.join(run)} |")
    domains = sorted({domain for lab in LABS.values() for domain in lab.mla_domains}, key=lambda d: d.number)
    return [*lines, "", "MLA-C01 domains: " + "; ".join(domain.label for domain in domains) + "."]


def context_table() -> list[str]:
    """Every ``-c`` key: the shared ones, then each lab's own."""
    lines = ["| key | lab | default | allowed |", "|---|---|---|---|"]
    lines += [f"| `{key.name}` | all | `{key.default}` | {key.allowed} |" for key in SHARED_KEYS]
    for name, lab in LABS.items():
        lines += [f"| `{key.name}` | {name} | `{key.default}` | {key.allowed} |" for key in lab.context_keys]
    return lines


if __name__ == "__main__":
    print("\n".join(lab_table()))
    print()
    print("\n".join(context_table()))
