"""`clickpulse simulate` against the running stack: what ingest refuses is reported, not counted as sent."""

from __future__ import annotations

import subprocess
import sys

from clickpulse.settings import REPO_ROOT
from tests.running_stack import RunningStack


def test_simulated_shoppers_that_ingest_refuses_are_reported_and_fail_the_command(stack: RunningStack) -> None:
    # The shoppers come from the demo shop's origin, which this site does not allow.
    site = stack.create_site("simulate-refused", "https://shop.example")
    done = subprocess.run(
        [sys.executable, "-m", "clickpulse.cli", "simulate", site["write_key"], "--visitors", "2"],
        cwd=REPO_ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "origin_not_allowed" in done.stderr
    assert "events 0 " in done.stdout.rsplit("\r", 1)[-1]
