"""Providers as real ``idp serve`` processes on 127.0.0.1, each with its own SQLite database
and keys, set up only with the operator's commands: for tests of a federation of several
providers (a Trust Anchor and national providers)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_PASSPHRASE
from tests.support.live_server import free_port

IDP = str(Path(sys.executable).parent / "idp")
START_SECONDS = 60


@dataclass
class Entity:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    """``localhost`` for a second provider a browser visits: cookies are per host, not per
    port, so two providers on one host would overwrite each other's session cookie."""

    @property
    def entity_id(self) -> str:
        return f"http://{self.host}:{self.port}"

    def idp(self, *args: str, stdin: str | None = None) -> Any:
        result = subprocess.run(
            [IDP, *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if "--json" in args or "export-jwks" in args else None

    def start(self) -> None:
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [
                    IDP,
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                    "--log-level",
                    "warning",
                ],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited:\n{self.log.read_text(errors='replace')}")
            try:
                if httpx.get(f"{self.entity_id}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"{self.name} was not ready:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def entity(name: str, folder: Path, *, host: str = "127.0.0.1", **federation: str) -> Entity:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("IDP_")}
    env |= {
        "IDP_ISSUER": f"http://{host}:{port}",
        "IDP_DATABASE_URL": f"sqlite:///{folder / f'{name}.sqlite3'}",
        "IDP_KEYS_DIR": str(folder / f"{name}-keys"),
        "IDP_KEY_PASSPHRASE": TEST_PASSPHRASE,
        "IDP_LOG_FORMAT": "text",
        "IDP_FEDERATION_ENABLED": "true",
        "IDP_KEY_REFRESH_SECONDS": "1",
    }
    env |= {f"IDP_FEDERATION_{key.upper()}": value for key, value in federation.items()}
    return Entity(name=name, port=port, env=env, log=folder / f"{name}.log", host=host)
