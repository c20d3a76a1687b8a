"""Where torch or jax is missing, the tests that need it skip with the reason; none errors."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).parents[2]
# Run with torch, jax and array-api-compat made unimportable, as on a machine without them.
BLOCKED = textwrap.dedent("""
    import sys
    for name in ("torch", "jax", "jaxlib", "array_api_compat"):
        sys.modules[name] = None
    import pytest
    sys.exit(pytest.main(sys.argv[1:]))
""")
FRAMEWORK_TESTS = ["tests/test_oracle_torch.py", "tests/test_oracle_jax.py",
                   "tests/test_output_errors.py", "tests/test_activations.py",
                   "tests/test_training_loop.py", "tests/meta_tests/test_compare_rejects.py"]


def pytest_without_frameworks(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKED, "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"HYPOTHESIS_PROFILE": "ci", "PATH": "/usr/bin:/bin"})


def test_every_test_module_is_collected_without_torch_and_jax():
    done = pytest_without_frameworks("--collect-only", "-q", "tests")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "error" not in done.stdout.splitlines()[-1]


def test_framework_tests_skip_without_torch_and_jax():
    done = pytest_without_frameworks("-q", "-rs", "-x", *FRAMEWORK_TESTS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "skipped" in done.stdout.splitlines()[-1]
    reasons = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert any("torch" in line for line in reasons) and any("jax" in line for line in reasons)
