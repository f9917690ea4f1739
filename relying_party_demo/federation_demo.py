"""A cross-border demo on one machine (``make federation-demo``): a regional Trust Anchor,
Uruguay's provider with the demo portal, and Brazil's provider, set up only with the
operator's commands and started together.

A Brazilian citizen (document 123.456.789-09) opens the portal, chooses "Ingresar con
gov.br (Brasil)" on Uruguay's login page, logs in at Brazil's provider, agrees twice (at
Brazil: to tell Uruguay's provider who they are; at Uruguay: to pass their data to the
portal) and lands on the portal with Uruguay's ID token. Brazil's provider answers on
``localhost`` and the others on ``127.0.0.1``: a browser keeps cookies per host, not per port,
so two providers on one host name would log each other out.

    python -m relying_party_demo.federation_demo

The data lives in ``var/federation-demo/``; a second run reuses it (delete the folder to
start again).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from relying_party_demo.launcher import (
    Child,
    command_path,
    is_listening,
    raise_interrupt,
    stop,
    wait_until_listening,
)

FOLDER = Path("var") / "federation-demo"
BR_USERNAME = "123.456.789-09"
BR_PASSWORD = "demo-ciudadania"


@dataclass(frozen=True)
class Member:
    name: str
    host: str
    port: int
    settings: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def environment(self, trust_anchors: str | None = None) -> dict[str, str]:
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith(("IDP_", "RP_"))
        }
        environment |= {
            "IDP_ISSUER": self.url,
            "IDP_DATABASE_URL": f"sqlite:///{FOLDER / f'{self.name}.sqlite3'}",
            "IDP_KEYS_DIR": str(FOLDER / f"{self.name}-keys"),
            "IDP_FEDERATION_ENABLED": "true",
            "IDP_ALLOW_PRIVATE_NETWORK_FETCHES": "true",
            **self.settings,
        }
        if trust_anchors is not None:
            environment["IDP_FEDERATION_TRUST_ANCHORS"] = trust_anchors
        return environment


def members(base_port: int) -> tuple[Member, Member, Member]:
    anchor = Member(
        "trust-anchor",
        "127.0.0.1",
        base_port,
        {
            "IDP_FEDERATION_ROLE": "trust_anchor",
            "IDP_FEDERATION_ORGANIZATION_NAME": "Federación regional (demo)",
        },
    )
    hints = json.dumps([anchor.url])
    uruguay = Member(
        "uy",
        "127.0.0.1",
        base_port + 1,
        {
            "IDP_COUNTRY": "UY",
            "IDP_ACR_PROFILE": "iduruguay",
            "IDP_FEDERATION_AUTHORITY_HINTS": hints,
            "IDP_FEDERATION_ORGANIZATION_NAME": "ID Uruguay (demo)",
        },
    )
    brazil = Member(
        "br",
        "localhost",
        base_port + 2,
        {
            "IDP_COUNTRY": "BR",
            "IDP_ACR_PROFILE": "eidas",
            "IDP_DEFAULT_LANGUAGE": "pt",
            "IDP_FEDERATION_AUTHORITY_HINTS": hints,
            "IDP_FEDERATION_ORGANIZATION_NAME": "gov.br (demo)",
        },
    )
    return anchor, uruguay, brazil


def portal_environment(uruguay: Member, portal_port: int, trust_anchors: str) -> dict[str, str]:
    return uruguay.environment(trust_anchors) | {
        "RP_ISSUER": uruguay.url,
        "RP_BASE_URL": f"http://127.0.0.1:{portal_port}",
        "RP_KEY_FILE": str(FOLDER / "portal-key.pem"),
        "RP_SESSION_SECRET_FILE": str(FOLDER / "portal-session-secret"),
    }


def command(name: str, *arguments: str, environment: dict[str, str], stdin: str = "") -> str:
    result = subprocess.run(  # noqa: S603 - our own console scripts, fixed arguments
        [command_path(name), *arguments],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(arguments[:2])} failed: {result.stderr.strip()}")
    return result.stdout


def set_up(anchor: Member, uruguay: Member, brazil: Member) -> str:
    """Databases, federation keys, the subordinates at the Trust Anchor, the demo citizens;
    returns the Trust Anchors setting of the two providers. Done once."""
    pinned = FOLDER / "trust-anchors.json"
    if pinned.exists():
        return pinned.read_text(encoding="utf-8")
    FOLDER.mkdir(parents=True, exist_ok=True)
    for member in (anchor, uruguay, brazil):
        command("idp", "db", "upgrade", environment=member.environment())
        command(
            "idp", "keys", "rotate", "--purpose", "federation", environment=member.environment()
        )
    exported = command(
        "idp", "keys", "export-jwks", "--purpose", "federation", environment=anchor.environment()
    )
    for leaf in (uruguay, brazil):
        jwks = FOLDER / f"{leaf.name}-federation-jwks.json"
        jwks.write_text(
            command(
                "idp",
                "keys",
                "export-jwks",
                "--purpose",
                "federation",
                environment=leaf.environment(),
            ),
            encoding="utf-8",
        )
        command(
            "idp",
            "federation",
            "add-subordinate",
            leaf.url,
            "--jwks-file",
            str(jwks),
            "--entity-type",
            "openid_provider",
            "--entity-type",
            "openid_relying_party",
            environment=anchor.environment(),
        )
    command("idp", "demo", "seed", environment=uruguay.environment())
    command(
        "idp",
        "users",
        "create",
        "--username",
        BR_USERNAME,
        "--document-type",
        "cpf",
        "--country",
        "BR",
        "--given-name",
        "Maria",
        "--family-name",
        "da Silva",
        "--birthdate",
        "1990-04-01",
        "--language",
        "pt",
        "--verification-level",
        "2",
        "--password-stdin",
        environment=brazil.environment(),
        stdin=BR_PASSWORD + "\n",
    )
    trust_anchors = json.dumps({anchor.url: json.loads(exported)})
    pinned.write_text(trust_anchors, encoding="utf-8")
    return trust_anchors


def banner(anchor: Member, uruguay: Member, brazil: Member, portal: str) -> str:
    return "\n".join(
        [
            "",
            "Cross-border demo running",
            f"  Portal de trámites (Uruguay):  {portal}/",
            f"  ID Uruguay (provider):         {uruguay.url}/login",
            f"  gov.br (Brazil's provider):    {brazil.url}/login",
            f"  Trust Anchor:                  {anchor.url}/.well-known/openid-federation",
            "  A Brazilian citizen at the Uruguayan portal: on Uruguay's login page choose",
            f"  'gov.br (demo) (Brasil)', then log in at Brazil as {BR_USERNAME} / {BR_PASSWORD}.",
            "Stop everything with Ctrl-C.",
            "",
        ]
    )


def run(*, base_port: int) -> int:
    anchor, uruguay, brazil = members(base_port)
    portal_port = base_port + 3
    for member in (anchor, uruguay, brazil):
        if is_listening("127.0.0.1", member.port):
            sys.stderr.write(f"Error: something already listens on port {member.port}.\n")
            return 1
    try:
        trust_anchors = set_up(anchor, uruguay, brazil)
        portal = portal_environment(uruguay, portal_port, trust_anchors)
        command("rp-demo", "register", environment=portal)
    except RuntimeError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    signal.signal(signal.SIGINT, raise_interrupt)
    signal.signal(signal.SIGTERM, raise_interrupt)
    children: list[Child] = []
    try:
        for member in (anchor, uruguay, brazil):
            children.append(
                start("idp", member.name, member.port, member.environment(trust_anchors))
            )
        children.append(start("rp-demo", "the portal", portal_port, portal))
        for child in children:
            wait_until_listening(child)
        print(banner(anchor, uruguay, brazil, portal["RP_BASE_URL"]), flush=True)
        while all(child.process.poll() is None for child in children):
            time.sleep(0.5)
        sys.stderr.write("A process stopped; stopping the rest.\n")
        return 1
    except KeyboardInterrupt:
        print("\nStopping the demo...", flush=True)
        return 0
    except RuntimeError as exc:
        sys.stderr.write(f"Error: {exc}.\n")
        return 1
    finally:
        stop(children)


def start(name: str, label: str, port: int, environment: dict[str, str]) -> Child:
    process = subprocess.Popen(  # noqa: S603 - our own console scripts, fixed arguments
        [command_path(name), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environment,
        start_new_session=True,
    )
    return Child(name=label, host="127.0.0.1", port=port, process=process)


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Run the cross-border demo.")
    parser.add_argument("--base-port", type=int, default=8010)
    arguments = parser.parse_args(argv)
    raise SystemExit(run(base_port=arguments.base_port))


if __name__ == "__main__":
    main()
