"""The README's "Use it from Python" script runs, verbatim, and says what it should."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_script() -> str:
    """The first ``python`` block after the README's "Use it from Python" heading."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use it from Python", 1)[1]
    return section.split("```python\n", 1)[1].split("\n```", 1)[0] + "\n"


def test_the_readme_python_script_runs_verbatim(tmp_path):
    # As in a clone: the demo files under resources/, the catalog created beside them.
    (tmp_path / "resources").symlink_to(ROOT / "resources", target_is_directory=True)
    script = tmp_path / "use_it.py"
    script.write_text(readme_script(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "cancer-clf@1 by OnnxMLTools 1.16.0 takes X: float32[?×30]"
    accuracy = re.fullmatch(r"accuracy on cancer-test@1: (0\.\d{3})", lines[1])
    assert accuracy and 0.9 < float(accuracy[1]) < 1.0
    assert lines[2] == "tree SHAP values in margin (log-odds) space"
    assert len(lines) == 6 and all(re.fullmatch(r"  \S.* \d+\.\d{3}", line) for line in lines[3:])
    assert (tmp_path / "my-catalog" / "catalog.db").is_file()
