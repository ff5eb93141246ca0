"""The pipeline's Processing step (SageMaker scikit-learn 1.2 container): raw CSV in, splits out.

1. read every CSV under the input folder (the pipeline's InputDataUri, copied to
   /opt/ml/processing/input/raw);
2. drop exact duplicate rows, then rows without a label;
3. treat impossible values (negative counts, non-positive charges) as missing;
4. split train/validation/test (70/15/15, stratified by the label);
5. impute missing numeric values with the training split's medians and scale with the training
   split's mean and deviation (fitted on train only, so nothing leaks from validation or test);
   one-hot encode the contract;
6. write each split as CSV, label first and no header (what built-in XGBoost reads), and a
   report of what was dropped and imputed (preprocessing.json).

Paths default to the container's and can be given on the command line, so the tests run this
file as it is on a small data set.
"""

from __future__ import annotations

import argparse
import glob
import json
import os

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

LABEL = "churned"
NUMERIC = ["tenure_months", "monthly_charges", "support_calls", "sessions_30d"]
CONTRACTS = ["monthly", "annual", "two_year"]
VALID = {"tenure_months": lambda v: v >= 0, "monthly_charges": lambda v: v > 0,
         "support_calls": lambda v: v >= 0, "sessions_30d": lambda v: v >= 0}
SPLITS = {"train": 0.70, "validation": 0.15, "test": 0.15}


def read_raw(folder: str) -> pd.DataFrame:
    files = sorted(glob.glob(os.path.join(folder, "**", "*.csv"), recursive=True))
    if not files:
        raise SystemExit(f"no CSV files under {folder}: upload raw data to the InputDataUri prefix")
    return pd.concat([pd.read_csv(f, dtype={"customer_id": str, "contract": str}) for f in files],
                     ignore_index=True)


def clean(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Duplicates and unlabeled rows dropped; impossible values set missing; counts of each."""
    frame = raw.drop_duplicates()
    duplicates = len(raw) - len(frame)
    labeled = frame[frame[LABEL].notna()].copy()
    unlabeled = len(frame) - len(labeled)
    numeric = labeled[NUMERIC].apply(pd.to_numeric, errors="coerce")
    missing = int(numeric.isna().sum().sum())
    invalid = 0
    for column, is_valid in VALID.items():
        bad = numeric[column].notna() & ~is_valid(numeric[column])
        invalid += int(bad.sum())
        numeric.loc[bad, column] = np.nan
    labeled[NUMERIC] = numeric
    labeled[LABEL] = labeled[LABEL].astype(int)
    counts = {"rows_in": len(raw), "duplicates_dropped": duplicates, "unlabeled_dropped": unlabeled,
              "missing_values_imputed": missing, "invalid_values_imputed": invalid}
    return labeled, counts


def split(frame: pd.DataFrame, seed: int) -> dict[str, pd.DataFrame]:
    train, rest = train_test_split(frame, train_size=SPLITS["train"], stratify=frame[LABEL], random_state=seed)
    share = SPLITS["validation"] / (SPLITS["validation"] + SPLITS["test"])
    validation, test = train_test_split(rest, train_size=share, stratify=rest[LABEL], random_state=seed)
    return {"train": train, "validation": validation, "test": test}


def features(frame: pd.DataFrame, imputer: SimpleImputer, scaler: StandardScaler) -> np.ndarray:
    scaled = scaler.transform(imputer.transform(frame[NUMERIC]))
    contract = np.stack([(frame["contract"] == name).to_numpy(dtype=float) for name in CONTRACTS], axis=1)
    return np.hstack([scaled, contract])


def write_split(path: str, labels: np.ndarray, values: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savetxt(path, np.column_stack([labels, values]), delimiter=",", fmt="%.6f")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="/opt/ml/processing/input/raw")
    parser.add_argument("--output", default="/opt/ml/processing/output")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    frame, report = clean(read_raw(args.input))
    splits = split(frame, args.seed)
    imputer = SimpleImputer(strategy="median").fit(splits["train"][NUMERIC])
    scaler = StandardScaler().fit(imputer.transform(splits["train"][NUMERIC]))
    for name, part in splits.items():
        write_split(os.path.join(args.output, name, f"{name}.csv"), part[LABEL].to_numpy(),
                    features(part, imputer, scaler))
    report.update({
        "rows": {name: len(part) for name, part in splits.items()},
        "positive_share": round(float(frame[LABEL].mean()), 4),
        "features": NUMERIC + [f"contract_{name}" for name in CONTRACTS],
        "train_medians": dict(zip(NUMERIC, imputer.statistics_.round(4).tolist())),
        "train_means": dict(zip(NUMERIC, scaler.mean_.round(4).tolist())),
        "train_scales": dict(zip(NUMERIC, scaler.scale_.round(4).tolist())),
    })
    os.makedirs(os.path.join(args.output, "report"), exist_ok=True)
    with open(os.path.join(args.output, "report", "preprocessing.json"), "w") as out:
        json.dump(report, out, indent=1)
    print(json.dumps({k: v for k, v in report.items() if not k.startswith("train_")}))
    return report


if __name__ == "__main__":
    main()
