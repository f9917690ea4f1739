"""Run the provider and the portal together for the demo (``make run``).

Starts ``idp serve`` and ``rp-demo serve`` as child processes, waits until both answer, prints
every URL and the demo logins, and stops both on Ctrl-C (or when either one stops). The data
lives in ``var/``, so a second run reuses it.

    python -m relying_party_demo.launcher --host 127.0.0.1 --idp-port 8000 --rp-port 8001
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


@dataclass
class Child:
    name: str
    host: str
    port: int
    process: subprocess.Popen[bytes]


def command_path(name: str) -> str:
    """A console script of this environment (next to the running Python), else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"Error: the command {name} is not installed; run `make run`.")
    return found


def is_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until_listening(child: Child, *, timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not is_listening(child.host, child.port):
        if child.process.poll() is not None:
            code = child.process.returncode
            raise RuntimeError(f"{child.name} stopped while starting (exit {code})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{child.name} did not start within {timeout:.0f} s")
        time.sleep(0.2)


def stop(children: Sequence[Child]) -> None:
    """Ask every child to stop (SIGTERM: uvicorn's graceful shutdown), then force the late."""
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def banner(*, issuer: str, portal: str) -> str:
    lines = [
        "",
        "National digital identity provider: demo running",
        f"  Portal de trámites (relying party): {portal}/",
        f"  Identity provider (UY):             {issuer}/login",
        f"  Provider discovery:                 {issuer}/.well-known/openid-configuration",
    ]
    try:
        from idp.cli.demo import DEMO_CITIZENS, DEMO_PASSWORD
    except ImportError:  # pragma: no cover - the provider is installed with the portal
        pass
    else:
        lines.append("  Demo logins (document number / password / verification level):")
        for citizen in DEMO_CITIZENS:
            lines.append(
                f"    {citizen.document_number:<14} {DEMO_PASSWORD}  "
                f"{citizen.given_name} {citizen.family_name} (level {citizen.verification_level})"
            )
    lines.append(
        f"  Sign a sworn statement: {portal}/firma (as 4.567.890-5, with the software eID card; "
        "the provider's card page prints the command)"
    )
    lines += ["Stop both with Ctrl-C.", ""]
    return "\n".join(lines)


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(*, host: str, idp_port: int, rp_port: int) -> int:
    environment = dict(os.environ)
    issuer = environment.setdefault("IDP_ISSUER", f"http://{host}:{idp_port}")
    environment.setdefault("RP_ISSUER", issuer)
    portal = environment.setdefault("RP_BASE_URL", f"http://{host}:{rp_port}")
    for port in (idp_port, rp_port):
        if is_listening(host, port):
            sys.stderr.write(f"Error: something already listens on {host}:{port}.\n")
            return 1
    # The children run in their own sessions, so a terminal's Ctrl-C reaches only this process,
    # which then asks each child exactly once to stop (a second signal makes uvicorn hurry).
    signal.signal(signal.SIGINT, raise_interrupt)
    signal.signal(signal.SIGTERM, raise_interrupt)
    children: list[Child] = []
    try:
        for name, command, port in (
            ("the provider", "idp", idp_port),
            ("the portal", "rp-demo", rp_port),
        ):
            process = subprocess.Popen(  # noqa: S603 - our own console scripts, fixed arguments
                [command_path(command), "serve", "--host", host, "--port", str(port)],
                env=environment,
                start_new_session=True,
            )
            children.append(Child(name=name, host=host, port=port, process=process))
        for child in children:
            wait_until_listening(child)
        print(banner(issuer=issuer, portal=portal), flush=True)
        while True:
            for child in children:
                code = child.process.poll()
                if code is not None:
                    sys.stderr.write(f"{child.name} stopped (exit {code}); stopping the rest.\n")
                    return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping the provider and the portal...", flush=True)
        return 0
    except RuntimeError as exc:
        sys.stderr.write(f"Error: {exc}.\n")
        return 1
    finally:
        stop(children)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the provider and the demo portal.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--idp-port", type=int, default=8000)
    parser.add_argument("--rp-port", type=int, default=8001)
    arguments = parser.parse_args(argv)
    code = run(host=arguments.host, idp_port=arguments.idp_port, rp_port=arguments.rp_port)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
