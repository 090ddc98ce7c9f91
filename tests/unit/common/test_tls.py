"""common.tls without a network: PEM loading, options and roles read from certificates."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from joblet_cluster.common.config import SecurityConfig
from joblet_cluster.common.errors import ConfigError
from joblet_cluster.common.tls import (
    SERVER_NAME,
    Role,
    channel_credentials,
    channel_options,
    peer_role,
    read_pem,
    server_credentials,
    server_credentials_from_config,
)
from joblet_cluster.node.certs import CertFiles, generate


class FakeContext:
    """Just the part of a servicer context ``peer_role`` reads: its auth context."""

    def __init__(self, auth: dict[str, list[bytes]]) -> None:
        self._auth = auth

    def auth_context(self) -> dict[str, list[bytes]]:
        return self._auth


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return generate(tmp_path_factory.mktemp("tls"), ["127.0.0.1"])


def test_read_pem_takes_pem_text_as_is(files: CertFiles) -> None:
    text = files.ca_cert.read_text()

    assert read_pem(text, "security.caCert") == text.encode()


def test_read_pem_reads_a_path(files: CertFiles) -> None:
    assert read_pem(str(files.ca_cert), "security.caCert") == files.ca_cert.read_bytes()


def test_read_pem_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"security\.caCert.*cannot read"):
        read_pem(str(tmp_path / "nope.pem"), "security.caCert")


def test_read_pem_refuses_a_file_without_pem(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")

    with pytest.raises(ConfigError, match=r"security\.serverKey.*no PEM block"):
        read_pem(str(junk), "security.serverKey")


def test_read_pem_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"security\.serverCert.*cannot read"):
        read_pem(str(tmp_path), "security.serverCert")


@pytest.mark.parametrize("value", ["", "   "])
def test_read_pem_refuses_an_empty_value(value: str) -> None:
    with pytest.raises(ConfigError, match=r"security\.caCert is not set"):
        read_pem(value, "security.caCert")


def test_credentials_are_built_from_real_pem(files: CertFiles) -> None:
    cert, key, ca = (p.read_bytes() for p in (files.server_cert, files.server_key, files.ca_cert))

    assert isinstance(server_credentials(cert, key, ca), grpc.ServerCredentials)
    assert isinstance(channel_credentials(ca, cert, key), grpc.ChannelCredentials)


def test_server_credentials_from_config_names_the_key(files: CertFiles) -> None:
    good = SecurityConfig(
        server_cert=str(files.server_cert),
        server_key=files.server_key.read_text(),
        ca_cert=str(files.ca_cert),
    )
    assert isinstance(server_credentials_from_config(good), grpc.ServerCredentials)

    with pytest.raises(ConfigError, match=r"security\.serverKey"):
        server_credentials_from_config(SecurityConfig(str(files.server_cert), "", "x"))


def test_channel_options_override_the_target_name() -> None:
    options = channel_options([("grpc.max_receive_message_length", 1024)])

    assert options == [
        ("grpc.ssl_target_name_override", SERVER_NAME),
        ("grpc.max_receive_message_length", 1024),
    ]
    assert SERVER_NAME == "joblet"


@pytest.mark.parametrize(
    ("cert", "role"),
    [("admin_cert", Role.ADMIN), ("viewer_cert", Role.VIEWER), ("server_cert", Role.NODE)],
)
def test_peer_role_reads_the_ou(files: CertFiles, cert: str, role: Role | None) -> None:
    pem = getattr(files, cert).read_bytes()

    assert peer_role(FakeContext({"x509_pem_cert": [pem]})) == role


def test_peer_role_without_a_certificate_is_none() -> None:
    assert peer_role(FakeContext({})) is None
    assert peer_role(FakeContext({"x509_pem_cert": []})) is None


def test_peer_role_of_an_unparsable_certificate_is_none() -> None:
    bad = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"

    assert peer_role(FakeContext({"x509_pem_cert": [bad]})) is None


def test_roles_are_their_strings() -> None:
    assert [str(r) for r in Role] == ["admin", "viewer", "node"]
