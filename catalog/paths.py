"""Where the repository keeps what the app, the stacks and the command read from disk: the one home
of these paths."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRICE_TABLE = ROOT / "pricing" / "prices.toml"
LAMBDAS_DIR = ROOT / "lambdas"  # one folder per Lambda handler
JOBS_DIR = ROOT / "jobs"  # code that SageMaker, Glue and EMR run: one folder per lab
