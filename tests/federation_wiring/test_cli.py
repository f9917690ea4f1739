"""``idp keys --purpose federation`` and ``idp federation``: federation keys rotate with the
same lifecycle as the OpenID Connect keys but apart from them; a Trust Anchor's subordinates
are added, listed and removed, and every bad input is refused with one sentence and nothing
changed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from idp.cli.keys import longest_token_lifetime
from idp.context_clock import utc_now
from idp.federation.statements import public_jwk
from idp.signing_keys import service
from idp.storage.database import Database, create_database_engine
from idp.storage.models import KeyPurpose
from tests.cli.helpers import Cli, table_rows
from tests.conftest import make_settings

OP = "https://id.example.gub.uy"
POLICY = {"openid_provider": {"id_token_signing_alg_values_supported": {"subset_of": ["RS256"]}}}


@pytest.fixture(autouse=True)
def _run_in_a_scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def cli(sqlite_database_url: str, tmp_path: Path) -> Cli:
    return Cli(database_url=sqlite_database_url, keys_dir=tmp_path / "keys")


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def public_jwks() -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    return {"keys": [public_jwk(key, kid="op-federation-1", alg="ES256")]}


def subordinate_state(cli: Cli) -> dict[str, Any]:
    return {
        "subordinates": table_rows(cli.database_url, "federation_subordinate"),
        "audit": len(table_rows(cli.database_url, "audit_record")),
    }


# --- keys ----------------------------------------------------------------------------------


def test_federation_keys_rotate_apart_from_the_oidc_keys(cli: Cli) -> None:
    oidc = cli.json("keys", "rotate")
    federation = cli.json("keys", "rotate", "--purpose", "federation")

    assert [(key["alg"], key["purpose"], key["state"]) for key in federation] == [
        ("ES256", "federation", "current")
    ]
    listed_oidc = cli.json("keys", "list")
    listed_federation = cli.json("keys", "list", "--purpose", "federation")
    assert {key["kid"] for key in listed_oidc} == {key["kid"] for key in oidc}
    assert [key["kid"] for key in listed_federation] == [federation[0]["kid"]]

    oidc_jwks = json.loads(cli.ok("keys", "export-jwks"))
    federation_jwks = json.loads(cli.ok("keys", "export-jwks", "--purpose", "federation"))
    assert {key["kid"] for key in oidc_jwks["keys"]} == {key["kid"] for key in oidc}
    assert [key["kid"] for key in federation_jwks["keys"]] == [federation[0]["kid"]]

    # A second rotation adds a next key, published ahead; activating it retires the first.
    pending = cli.json("keys", "rotate", "--purpose", "federation")
    assert [(key["alg"], key["state"]) for key in pending] == [("ES256", "next")]
    # "--" ends the options: a kid (an RFC 7638 thumbprint) may begin with "-"
    activated = json.loads(
        cli.ok("keys", "activate", "--purpose", "federation", "--json", "--", pending[0]["kid"])
    )
    assert activated["state"] == "current"
    states = {
        key["kid"]: key["state"] for key in cli.json("keys", "list", "--purpose", "federation")
    }
    assert states == {federation[0]["kid"]: "retired", pending[0]["kid"]: "current"}
    # The OIDC keys did not move.
    assert cli.json("keys", "list") == listed_oidc


def test_key_commands_refuse_keys_of_the_other_purpose_with_nothing_changed(cli: Cli) -> None:
    oidc = cli.json("keys", "rotate")
    federation = cli.json("keys", "rotate", "--purpose", "federation")
    before = cli.snapshot()

    federation_kid = federation[0]["kid"]
    cli.refuses(
        "keys",
        "retire",
        "--",
        federation_kid,
        message=f"There is no key with kid {federation_kid}.",
    )
    oidc_kid = oidc[0]["kid"]
    cli.refuses(
        "keys",
        "revoke",
        "--reason",
        "test",
        "--yes",
        "--purpose",
        "federation",
        "--",
        oidc_kid,
        message=f"There is no federation key with kid {oidc_kid}.",
    )
    cli.refuses(
        "keys",
        "revoke",
        "--reason",
        "compromised",
        "--yes",
        "--purpose",
        "federation",
        "--",
        federation_kid,
        message=f"Revoking {federation_kid} would leave no current ES256 key; run "
        "`idp keys rotate --purpose federation --alg ES256 --publish-ahead 0` first.",
    )
    cli.refuses(
        "keys",
        "list",
        "--purpose",
        "signature_ca",
        message="Unknown key purpose 'signature_ca'; use one of oidc, federation.",
    )
    assert cli.snapshot() == before


def test_prune_of_federation_keys_waits_for_the_statement_lifetime(
    cli: Cli, sqlite_database_url: str, tmp_path: Path
) -> None:
    cli.json("keys", "rotate")
    [first] = cli.json("keys", "rotate", "--purpose", "federation")
    cli.json("keys", "rotate", "--purpose", "federation", "--publish-ahead", "0")
    states = {
        key["kid"]: key["state"] for key in cli.json("keys", "list", "--purpose", "federation")
    }
    assert states[first["kid"]] == "retired"
    # Still published for a statement lifetime (a day by default): nothing to prune yet.
    assert cli.json("keys", "prune", "--purpose", "federation") == {"removed": []}

    settings = make_settings(
        database_url=sqlite_database_url,
        keys_dir=tmp_path / "keys",
        federation_statement_lifetime_seconds=3600,
    )
    lifetime = longest_token_lifetime(settings, KeyPurpose.FEDERATION)
    assert lifetime == timedelta(hours=1)
    database = Database(create_database_engine(sqlite_database_url))
    try:
        with database.transaction() as session:
            removed = service.prune(
                session,
                store=service.key_store(settings),
                now=utc_now() + lifetime + timedelta(seconds=1),
                longest_token_lifetime=lifetime,
                purpose=KeyPurpose.FEDERATION,
            )
    finally:
        database.dispose()
    assert removed == [first["kid"]]
    assert len(cli.json("keys", "list")) == 2  # the OIDC keys are untouched
    assert not (tmp_path / "keys" / f"federation-es256-{first['kid']}.pem").exists()


# --- subordinates --------------------------------------------------------------------------


def test_add_list_and_remove_a_subordinate(cli: Cli, tmp_path: Path) -> None:
    jwks = public_jwks()
    constraints = {"max_path_length": 0, "naming_constraints": {"permitted": [".gub.uy"]}}
    added = cli.json(
        "federation",
        "add-subordinate",
        OP,
        "--jwks-file",
        write(tmp_path, "jwks.json", jwks),
        "--policy-file",
        write(tmp_path, "policy.json", POLICY),
        "--constraints-file",
        write(tmp_path, "constraints.json", constraints),
        "--entity-type",
        "openid_provider",
        "--entity-type",
        "openid_relying_party",
    )
    assert added["entity_id"] == OP
    assert added["status"] == "active"
    assert added["kids"] == ["op-federation-1"]
    assert added["metadata_policy"] == POLICY
    assert added["constraints"] == constraints
    assert added["entity_types"] == ["openid_provider", "openid_relying_party"]

    [row] = table_rows(cli.database_url, "federation_subordinate")
    assert json.loads(row["jwks"]) == jwks

    listed = cli.json("federation", "list")
    assert [item["entity_id"] for item in listed] == [OP]
    assert OP in cli.ok("federation", "list")

    cli.refuses(
        "federation", "remove", OP, message="Removing a subordinate needs confirmation; add --yes."
    )
    removed = cli.json("federation", "remove", OP, "--yes")
    assert removed["status"] == "removed"
    assert cli.json("federation", "list") == []
    assert [item["status"] for item in cli.json("federation", "list", "--all")] == ["removed"]

    # Registered again: the same row, active, with the new keys.
    again = cli.json(
        "federation",
        "add-subordinate",
        OP,
        "--jwks-file",
        write(tmp_path, "j2.json", public_jwks()),
    )
    assert again["status"] == "active"
    assert again["metadata_policy"] == {}
    assert again["entity_types"] == ["openid_provider"]
    assert len(table_rows(cli.database_url, "federation_subordinate")) == 1


@pytest.mark.parametrize(
    ("entity_id", "files", "extra", "message"),
    [
        pytest.param(
            OP,
            {
                "--jwks-file": {
                    "keys": [
                        {
                            **public_jwks()["keys"][0],
                            "d": "c2VjcmV0LXByaXZhdGUta2V5LW1hdGVyaWFsLTMyYnl0ZXM",
                        }
                    ]
                }
            },
            [],
            "The JWK Set is not usable: JWK 'op-federation-1' is not a public key.",
            id="private-key",
        ),
        pytest.param(
            OP,
            {"--jwks-file": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "shared"}]}},
            [],
            "The JWK Set is not usable: JWK 'shared' is not a public key.",
            id="symmetric-key",
        ),
        pytest.param(
            OP,
            {"--jwks-file": {"keys": []}},
            [],
            "The JWK Set is not usable: the JWK Set is empty.",
            id="empty-jwks",
        ),
        pytest.param(
            OP,
            {
                "--policy-file": {
                    "openid_provider": {
                        "id_token_signing_alg_values_supported": {"subset_of": "RS256"}
                    }
                }
            },
            [],
            "The metadata policy is not valid: openid_provider.id_token_signing_alg_values_"
            "supported: the subset_of operator has a wrong value.",
            id="policy-operator-value",
        ),
        pytest.param(
            OP,
            {"--policy-file": {"openid_provider": {"x": {"one_of": ["a"], "subset_of": ["a"]}}}},
            [],
            "The metadata policy is not valid: openid_provider.x: one_of cannot be combined "
            "with subset_of.",
            id="policy-combination",
        ),
        pytest.param(
            OP,
            {"--constraints-file": {"max_path_length": -1}},
            [],
            "The constraints are not valid: max_path_length must be an integer >= 0.",
            id="constraints",
        ),
        pytest.param(
            "http://op.example.org",
            {},
            [],
            "Not an entity identifier: 'http://op.example.org' must use https unless its host "
            "is a loopback address.",
            id="plain-http",
        ),
        pytest.param(
            "https://op.example.org/?x=1",
            {},
            [],
            "Not an entity identifier: 'https://op.example.org/?x=1' must not have a query, a "
            "fragment or user information.",
            id="query",
        ),
        pytest.param(
            "http://127.0.0.1:8000",
            {},
            [],
            "A Trust Anchor cannot be its own subordinate.",
            id="itself",
        ),
        pytest.param(
            OP,
            {},
            ["--entity-type", "openid_op"],
            "Unknown entity type 'openid_op'; use one of federation_entity, openid_provider, "
            "openid_relying_party, oauth_authorization_server, oauth_client, oauth_resource.",
            id="entity-type",
        ),
    ],
)
def test_add_subordinate_refuses_bad_input_with_nothing_changed(
    cli: Cli,
    tmp_path: Path,
    entity_id: str,
    files: dict[str, Any],
    extra: list[str],
    message: str,
) -> None:
    documents = {"--jwks-file": public_jwks(), **files}
    arguments = [entity_id]
    for index, (option, document) in enumerate(documents.items()):
        arguments += [option, write(tmp_path, f"file-{index}.json", document)]
    before = subordinate_state(cli)
    cli.refuses("federation", "add-subordinate", *arguments, *extra, message=message)
    assert subordinate_state(cli) == before


def test_add_subordinate_refuses_files_that_are_not_json_objects(cli: Cli, tmp_path: Path) -> None:
    before = subordinate_state(cli)
    duplicate = tmp_path / "duplicate.json"
    duplicate.write_text('{"keys": [], "keys": []}', encoding="utf-8")
    cli.refuses(
        "federation",
        "add-subordinate",
        OP,
        "--jwks-file",
        str(duplicate),
        message="Duplicate JSON member 'keys'.",
    )
    cli.refuses(
        "federation",
        "add-subordinate",
        OP,
        "--jwks-file",
        str(tmp_path / "missing.json"),
        message=f"--jwks-file: the file {tmp_path / 'missing.json'} cannot be read "
        "(No such file or directory).",
    )
    assert subordinate_state(cli) == before


def test_add_subordinate_refuses_a_duplicate_with_nothing_changed(cli: Cli, tmp_path: Path) -> None:
    jwks_file = write(tmp_path, "jwks.json", public_jwks())
    cli.ok("federation", "add-subordinate", OP, "--jwks-file", jwks_file)
    before = subordinate_state(cli)
    cli.refuses(
        "federation",
        "add-subordinate",
        OP,
        "--jwks-file",
        write(tmp_path, "other.json", public_jwks()),
        message=f"{OP} is already a subordinate; remove it first to register it again.",
    )
    assert subordinate_state(cli) == before


def test_remove_refuses_an_unknown_entity_with_nothing_changed(cli: Cli) -> None:
    before = subordinate_state(cli)
    cli.refuses(
        "federation",
        "remove",
        "https://nobody.example.org",
        "--yes",
        message="There is no subordinate https://nobody.example.org.",
    )
    assert subordinate_state(cli) == before


def test_show_configuration_prints_the_decoded_entity_configuration(cli: Cli) -> None:
    env = {
        "IDP_FEDERATION_ENABLED": "true",
        "IDP_FEDERATION_AUTHORITY_HINTS": '["https://trust-anchor.example.org"]',
    }
    cli.refuses(
        "federation",
        "show-configuration",
        message="Federation is not enabled; set IDP_FEDERATION_ENABLED=true.",
    )
    cli.json("keys", "rotate")
    cli.refuses(
        "federation",
        "show-configuration",
        env=env,
        message="There is no current ES256 federation key; "
        "run `idp keys rotate --purpose federation`.",
    )
    [key] = cli.json("keys", "rotate", "--purpose", "federation")

    shown = cli.json("federation", "show-configuration", env=env)

    assert shown["header"] == {"alg": "ES256", "kid": key["kid"], "typ": "entity-statement+jwt"}
    claims = shown["claims"]
    assert claims["iss"] == claims["sub"] == "http://127.0.0.1:8000"
    assert claims["authority_hints"] == ["https://trust-anchor.example.org"]
    assert [jwk["kid"] for jwk in claims["jwks"]["keys"]] == [key["kid"]]
    assert set(claims["metadata"]) == {
        "federation_entity",
        "openid_provider",
        "openid_relying_party",
    }


def test_update_subordinate_changes_only_what_it_is_given(cli: Cli, tmp_path: Path) -> None:
    cli.ok(
        "federation",
        "add-subordinate",
        OP,
        "--jwks-file",
        write(tmp_path, "jwks.json", public_jwks()),
        "--policy-file",
        write(tmp_path, "policy.json", POLICY),
    )
    rotated = {"keys": [*public_jwks()["keys"], {**public_jwks()["keys"][0], "kid": "op-2"}]}

    updated = cli.json(
        "federation", "update-subordinate", OP, "--jwks-file", write(tmp_path, "new.json", rotated)
    )

    assert updated["kids"] == ["op-federation-1", "op-2"]
    assert updated["metadata_policy"] == POLICY
    [row] = table_rows(cli.database_url, "federation_subordinate")
    assert json.loads(row["jwks"]) == rotated


def test_update_subordinate_refuses_bad_input_with_nothing_changed(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok(
        "federation", "add-subordinate", OP, "--jwks-file", write(tmp_path, "j.json", public_jwks())
    )
    before = subordinate_state(cli)
    cli.refuses(
        "federation",
        "update-subordinate",
        OP,
        message="Nothing to change; give at least one file or --entity-type.",
    )
    cli.refuses(
        "federation",
        "update-subordinate",
        "https://nobody.example.org",
        "--entity-type",
        "openid_provider",
        message="There is no subordinate https://nobody.example.org.",
    )
    cli.refuses(
        "federation",
        "update-subordinate",
        OP,
        "--policy-file",
        write(tmp_path, "p.json", {"openid_provider": {"scope": {"value": "openid", "add": "x"}}}),
        message="The metadata policy is not valid: openid_provider.scope: the add operator has "
        "a wrong value.",
    )
    assert subordinate_state(cli) == before
