"""Times `cdk synth` of every lab with all gates on against an empty CDK app.

Both run through the same pinned CDK CLI in the same run, so Node and Python start-up
cost the same for each. "All gates" means the cdk-nag packs that run at synth:
AwsSolutions in both profiles and NIST 800-53 R5 in production. Prints the median
of several runs and the ratio (goal: at most 1.5x).

    .venv/bin/python bench/synth.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"
GOAL = 1.5


def timed_synth(app: str, outdir: Path, *context: str) -> float:
    command = [str(CDK), "synth", "--quiet", "--app", app, "-o", str(outdir)]
    for item in context:
        command += ["-c", item]
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CDK_DISABLE_CLI_TELEMETRY": "true"}
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    cases = {
        "empty app": (f"{python} bench/empty_app.py", ()),
        "all labs, sandbox (AwsSolutions)": (f"{python} app.py", ("profile=sandbox",)),
        "all labs, production (AwsSolutions + NIST)": (f"{python} app.py", ("profile=production",)),
    }
    medians = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for name, (app, context) in cases.items():
                seconds = timed_synth(app, Path(tmp) / f"{len(name)}-{run}", *context)
                medians.setdefault(name, []).append(seconds)
    baseline = statistics.median(medians["empty app"])
    print(f"{'case':<46} {'median s':>9} {'ratio':>6}")
    worst = 0.0
    for name, samples in medians.items():
        median = statistics.median(samples)
        ratio = median / baseline
        worst = max(worst, ratio)
        print(f"{name:<46} {median:>9.2f} {ratio:>6.2f}")
    print(f"worst ratio {worst:.2f} (goal <= {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
