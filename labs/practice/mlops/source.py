"""The model-build repository the mlops practice pushes: one zip, the S3 source of the CodePipeline.

    requirements.txt            what CodeBuild installs before the tests
    code/preprocess.py          the SageMaker pipeline's processing scripts (jobs/ml_pipeline/): what
    code/evaluate.py              the build uploads under code/<execution id>/ for the Train stage
    tests/test_*.py             their unit tests (jobs/mlops/tests/)
    lint_definition.py          the SageMaker pipeline definition's lint (jobs/mlops/)
    integration_check.py        the staging endpoint's integration check (jobs/mlops/)
    CHANGES.txt                 the change this push makes (a new object version, so a new run)

The zip is the same for the same content (sorted names, fixed timestamps). ``--break-test`` pushes a
preprocessing script that keeps duplicate rows, which its unit test catches: the pipeline stops at
BuildAndTest and nothing is trained.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from catalog.paths import JOBS_DIR
from labs.engine.errors import LabError

MODEL_CODE = JOBS_DIR / "ml_pipeline"
REPOSITORY = JOBS_DIR / "mlops"
SCRIPTS = ("preprocess.py", "evaluate.py")
TOP_LEVEL = ("requirements.txt", "lint_definition.py", "integration_check.py")
BREAK = ("frame = raw.drop_duplicates()", "frame = raw.copy()  # --break-test: duplicate rows are kept")
BROKEN_TEST = "test_exact_duplicates_are_dropped"
FIXED_TIME = (2026, 1, 1, 0, 0, 0)


def source_files(*, break_test: bool = False, note: str = "") -> dict[str, bytes]:
    """Every file of the repository by its path in the zip."""
    files = {name: (REPOSITORY / name).read_bytes() for name in TOP_LEVEL}
    files.update({f"code/{name}": (MODEL_CODE / name).read_bytes() for name in SCRIPTS})
    files.update({f"tests/{path.name}": path.read_bytes() for path in sorted((REPOSITORY / "tests").glob("test_*.py"))})
    files["CHANGES.txt"] = (note or "the model-build code as it is").encode() + b"\n"
    if break_test:
        script = files["code/preprocess.py"].decode()
        if script.count(BREAK[0]) != 1:
            raise LabError(f"--break-test cannot apply: {MODEL_CODE / 'preprocess.py'} no longer holds the line "
                           f"{BREAK[0]!r} once; update BREAK in labs/practice/mlops/source.py")
        files["code/preprocess.py"] = script.replace(*BREAK).encode()
    return files


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name], compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def unpack(archive: bytes, into: Path) -> Path:
    """What CodeBuild does with the source artifact (tests run the buildspec's commands there)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        opened.extractall(into)
    return into
