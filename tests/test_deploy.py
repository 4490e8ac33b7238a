"""Deployment files: the systemd unit is valid and hardened, the container files agree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "greenhouse.service"


def test_unit_has_the_hardening_the_pi_section_promises():
    text = UNIT.read_text()
    for line in (
        "User=greenhouse", "Restart=on-failure", "NoNewPrivileges=true", "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/greenhouse", "KillSignal=SIGTERM",
    ):
        assert line in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_every_key_of_the_unit(tmp_path):
    copy = tmp_path / "greenhouse.service"
    copy.write_text(UNIT.read_text())
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line for line in (result.stdout + result.stderr).splitlines()
        # The venv does not exist on the test machine; everything else must be clean.
        if line.strip() and "is not executable" not in line and "No such file" not in line
    ]
    assert complaints == []


def test_container_files_run_the_same_entry_point_and_ports():
    dockerfile = (ROOT / "Dockerfile").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    assert 'CMD ["python", "run.py"]' in dockerfile
    assert "/healthz" in dockerfile
    assert "EXPOSE 8000 8765" in dockerfile
    for port in ("8000", "8765"):
        assert f'"{port}:{port}"' in compose
    assert "redis" in compose and "profiles" in compose
