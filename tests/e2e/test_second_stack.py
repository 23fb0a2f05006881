"""A second `clickpulse up` on a data dir that a running stack uses is refused before it starts anything."""

from __future__ import annotations

import subprocess
import sys

from clickpulse.settings import REPO_ROOT
from tests.running_stack import TEST_PORT_BASE, RunningStack, stack_env

OTHER_PORTS = TEST_PORT_BASE + 760


def test_a_second_stack_on_a_data_dir_in_use_is_refused_and_leaves_the_first_alone(stack: RunningStack) -> None:
    state = (stack.data_dir / "stack.json").read_text()
    second = subprocess.run(
        [sys.executable, "-m", "clickpulse.cli", "up"],
        cwd=REPO_ROOT,
        env={**stack.env, **stack_env(OTHER_PORTS)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 1
    assert f"another `clickpulse up` is running on {stack.data_dir}" in second.stderr
    assert "starting" not in second.stdout
    assert (stack.data_dir / "stack.json").read_text() == state
    assert stack.process is not None and stack.process.poll() is None
