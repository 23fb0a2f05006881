"""The beacon's script route: before the tracker is built it says how to build it, in commands that exist."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.routing import Route, Router
from starlette.testclient import TestClient

from clickpulse.settings import REPO_ROOT
from ingest.tracker_script import TrackerScript


def test_an_unbuilt_tracker_answers_404_naming_the_setup_script_and_the_npm_build_that_really_exist(
    tmp_path: Path,
) -> None:
    script = TrackerScript(tmp_path / "cp.js")
    with TestClient(Router(routes=[Route("/cp.js", script.latest)])) as client:
        response = client.get("/cp.js")
    assert response.status_code == 404
    assert "scripts/setup.sh" in response.text and (REPO_ROOT / "scripts" / "setup.sh").is_file()
    assert "cd tracker_js && npm run build" in response.text
    assert "build" in json.loads((REPO_ROOT / "tracker_js" / "package.json").read_text())["scripts"]
