"""Synthetic raw customer data for the ml-pipeline lab, with known defects.

Churn depends on the contract, tenure, charges, support calls and recent sessions (a logistic
model plus noise, so a good model reaches an AUC around 0.8-0.9, never 0.99). The defects are
the ones the preprocessing step must handle, each counted exactly so that the practice can
compare what it injected with what the pipeline reports:

- exact duplicate rows (a row uploaded twice);
- rows without a label (dropped);
- empty numeric values (imputed with the training split's median);
- impossible values, a negative tenure (treated as missing, then imputed).
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass

COLUMNS = ("customer_id", "tenure_months", "monthly_charges", "support_calls", "sessions_30d", "contract", "churned")
NUMERIC = ("tenure_months", "monthly_charges", "support_calls", "sessions_30d")
CONTRACTS = ("monthly", "annual", "two_year")
LABEL = "churned"


@dataclass(frozen=True)
class Defects:
    """What was injected: duplicate copies, unlabeled rows, empty values, impossible values."""

    duplicates: int
    unlabeled: int
    missing_values: int
    invalid_values: int


@dataclass(frozen=True)
class RawData:
    rows: tuple[dict[str, str], ...]
    defects: Defects

    def csv_bytes(self) -> bytes:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return buffer.getvalue().encode()


def _customer(rng: random.Random, number: int, run_id: str) -> dict[str, str]:
    contract = rng.choices(CONTRACTS, weights=(0.55, 0.25, 0.20))[0]
    tenure = rng.randint(0, 72)
    charges = min(150.0, max(15.0, rng.gauss(70, 25)))
    calls = min(10, int(rng.expovariate(1 / 1.5)))
    sessions = max(0, int(rng.gauss(20, 8)))
    logit = (-0.3 + 1.2 * (contract == "monthly") - 1.2 * (contract == "two_year") - 0.05 * tenure
             + 0.03 * (charges - 70) + 0.6 * calls - 0.08 * (sessions - 20) + rng.gauss(0, 0.3))
    churned = int(rng.random() < 1 / (1 + math.exp(-logit)))
    return {"customer_id": f"c-{run_id}-{number:06d}", "tenure_months": str(tenure),
            "monthly_charges": f"{charges:.2f}", "support_calls": str(calls), "sessions_30d": str(sessions),
            "contract": contract, "churned": str(churned)}


def raw_customers(rows: int, *, seed: int = 7, run_id: str = "r", duplicate_share: float = 0.02,
                  unlabeled_share: float = 0.01, missing_share: float = 0.03,
                  invalid_share: float = 0.005) -> RawData:
    """``rows`` raw rows (duplicates included), the same for the same seed."""
    rng = random.Random(seed)
    duplicates = round(rows * duplicate_share)
    unique = [_customer(rng, number, run_id) for number in range(rows - duplicates)]
    indices = list(range(len(unique)))
    unlabeled = set(rng.sample(indices, round(len(unique) * unlabeled_share)))
    for index in unlabeled:
        unique[index][LABEL] = ""
    labeled = [i for i in indices if i not in unlabeled]
    cells = [(i, column) for i in labeled for column in NUMERIC]
    missing = rng.sample(cells, round(len(unique) * missing_share))
    for index, column in missing:
        unique[index][column] = ""
    still_set = [i for i in labeled if unique[i]["tenure_months"] != ""]
    invalid = rng.sample(still_set, round(len(unique) * invalid_share))
    for index in invalid:
        unique[index]["tenure_months"] = str(-rng.randint(1, 12))
    copies = [dict(unique[i]) for i in rng.sample(indices, duplicates)]
    everything = unique + copies
    rng.shuffle(everything)
    return RawData(rows=tuple(everything), defects=Defects(duplicates=duplicates, unlabeled=len(unlabeled),
                                                           missing_values=len(missing), invalid_values=len(invalid)))
