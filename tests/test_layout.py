"""The layering the README describes holds: import-linter's contracts (in pyproject.toml) are kept."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = str(Path(sys.executable).with_name("lint-imports"))


def test_the_import_contracts_are_kept():
    run = subprocess.run([LINT, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout and "4 kept" in run.stdout, run.stdout[-2000:]
