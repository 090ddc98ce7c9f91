"""``joblet certs generate``: the CA, node and client certificates, and ``rnx-config.yml``."""

from __future__ import annotations

import importlib.util
import ipaddress
import stat
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from joblet_cluster.node.certs import CertFiles, RnxNode, generate, parse_host, write_rnx_config


def sdk_config_module() -> ModuleType:
    """Joblet's SDK ``joblet.config``, loaded from its file without the ``joblet`` package.

    The package's ``__init__`` registers the SDK's own ``joblet.*`` protobuf messages, which
    clash with ours in the process-wide descriptor pool; the config module needs none of it.
    """
    spec = importlib.util.find_spec("joblet")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "config.py"
    module_spec = importlib.util.spec_from_file_location("joblet_sdk_config", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


ConfigLoader = sdk_config_module().ConfigLoader


KEYS = ("ca_key", "server_key", "admin_key", "viewer_key")
CERTS = ("ca_cert", "server_cert", "admin_cert", "viewer_cert")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    directory = tmp_path_factory.mktemp("certs") / "out"
    return generate(directory, ["10.1.2.3:50051", "Node-A.example.com", "fd00::7", "[::1]:6000"])


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def san_of(cert: x509.Certificate) -> list[object]:
    return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def ou_cn(cert: x509.Certificate) -> tuple[str, str]:
    ou = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return str(ou), str(cn)


def ekus(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def server_verifier(
    ca: x509.Certificate, name: x509.DNSName | x509.IPAddress
) -> verification.ServerVerifier:
    """The strict (WebPKI) policy a browser-grade TLS client holds a server to."""
    store = verification.Store([ca])
    return verification.PolicyBuilder().store(store).build_server_verifier(name)


def client_verifier(ca: x509.Certificate) -> verification.ClientVerifier:
    """The strict policy, except that client certificates need no SAN (gRPC reads none)."""
    ee = verification.ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None
    )
    return (
        verification.PolicyBuilder()
        .store(verification.Store([ca]))
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee
        )
        .build_client_verifier()
    )


def test_every_file_is_written_with_its_mode(files: CertFiles) -> None:
    for name in KEYS:
        assert stat.S_IMODE(getattr(files, name).stat().st_mode) == 0o600, name
    for name in CERTS:
        assert stat.S_IMODE(getattr(files, name).stat().st_mode) == 0o644, name
    assert stat.S_IMODE(files.rnx_config.stat().st_mode) == 0o600
    written = sorted(p.name for p in files.ca_cert.parent.iterdir())
    assert written == sorted(
        [
            "ca.pem",
            "ca-key.pem",
            "server-cert.pem",
            "server-key.pem",
            "admin-cert.pem",
            "admin-key.pem",
            "viewer-cert.pem",
            "viewer-key.pem",
            "rnx-config.yml",
        ]
    )


def test_the_ca_is_a_self_signed_p256_ca(files: CertFiles) -> None:
    ca = load(files.ca_cert)

    ca.verify_directly_issued_by(ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert constraints.value.ca and constraints.critical
    assert usage.key_cert_sign and usage.crl_sign
    assert ca.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]


@pytest.mark.parametrize(("cert", "key"), [(c, k) for c, k in zip(CERTS, KEYS, strict=True)])
def test_each_key_belongs_to_its_certificate(files: CertFiles, cert: str, key: str) -> None:
    private = serialization.load_pem_private_key(getattr(files, key).read_bytes(), None)
    public = load(getattr(files, cert)).public_key()

    assert public == private.public_key()


@pytest.mark.parametrize(
    "name",
    [
        x509.DNSName("joblet"),
        x509.DNSName("localhost"),
        x509.DNSName("node-a.example.com"),
        x509.IPAddress(ipaddress.ip_address("10.1.2.3")),
        x509.IPAddress(ipaddress.ip_address("fd00::7")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ],
)
def test_the_server_certificate_verifies_for_each_of_its_names(
    files: CertFiles, name: x509.DNSName | x509.IPAddress
) -> None:
    ca, server = load(files.ca_cert), load(files.server_cert)

    chain = server_verifier(ca, name).verify(server, [])

    assert chain[-1] == ca


def test_the_server_certificate_lists_exactly_its_names(files: CertFiles) -> None:
    server = load(files.server_cert)

    assert san_of(server) == [
        x509.DNSName("joblet"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("10.1.2.3")),
        x509.DNSName("node-a.example.com"),
        x509.IPAddress(ipaddress.ip_address("fd00::7")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    assert ou_cn(server) == ("node", "joblet")
    assert ekus(server) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


@pytest.mark.parametrize(("cert", "role"), [("admin_cert", "admin"), ("viewer_cert", "viewer")])
def test_client_certificates_carry_their_role(files: CertFiles, cert: str, role: str) -> None:
    ca, client = load(files.ca_cert), load(getattr(files, cert))

    verified = client_verifier(ca).verify(client, [])

    assert verified.chain[-1] == ca
    assert ou_cn(client) == (role, role)
    assert ekus(client) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_the_node_certificate_also_verifies_as_a_client(files: CertFiles) -> None:
    ca = load(files.ca_cert)

    verified = client_verifier(ca).verify(load(files.server_cert), [])

    assert verified.chain[-1] == ca


def test_a_certificate_from_another_ca_does_not_verify(files: CertFiles, tmp_path: Path) -> None:
    other = generate(tmp_path, ["127.0.0.1"])

    with pytest.raises(verification.VerificationError):
        client_verifier(load(files.ca_cert)).verify(load(other.admin_cert), [])


def test_validity_follows_days(tmp_path: Path) -> None:
    made = generate(tmp_path, ["localhost"], days=10)
    cert = load(made.server_cert)

    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 10 * 86400 <= lifetime.total_seconds() <= 10 * 86400 + 3600


def test_the_sdk_reads_default_and_viewer(
    files: CertFiles, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # the SDK prefers ~/.rnx/ca.pem when it exists
    loader = ConfigLoader(str(files.rnx_config))
    assert loader.load()
    try:
        default = loader.extract_connection_info("default")
        viewer = loader.extract_connection_info("viewer")
        assert default is not None
        assert viewer is not None
        assert (default["host"], default["port"]) == ("10.1.2.3", 50051)
        assert (viewer["host"], viewer["port"]) == ("10.1.2.3", 50051)
        assert Path(default["ca_cert_path"]).read_bytes() == files.ca_cert.read_bytes()
        assert Path(default["client_cert_path"]).read_bytes() == files.admin_cert.read_bytes()
        assert Path(default["client_key_path"]).read_bytes() == files.admin_key.read_bytes()
        assert Path(viewer["client_cert_path"]).read_bytes() == files.viewer_cert.read_bytes()
        assert Path(viewer["client_key_path"]).read_bytes() == files.viewer_key.read_bytes()
    finally:
        loader.cleanup()


def test_nodes_get_an_admin_entry_each_and_default_is_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    made = generate(
        tmp_path / "c",
        ["10.0.0.1", "10.0.0.2"],
        nodes={"node-b": "10.0.0.2:7000", "node-a": "10.0.0.1"},
    )
    document = yaml.safe_load(made.rnx_config.read_text())
    assert list(document["nodes"]) == ["default", "viewer", "node-b", "node-a"]
    loader = ConfigLoader(str(made.rnx_config))
    assert loader.load()
    try:
        found = {n: loader.extract_connection_info(n) for n in document["nodes"]}
        addresses = {n: (info["host"], info["port"]) for n, info in found.items() if info}
        assert addresses == {
            "default": ("10.0.0.2", 7000),
            "viewer": ("10.0.0.2", 7000),
            "node-b": ("10.0.0.2", 7000),
            "node-a": ("10.0.0.1", 50051),
        }
        admin_pem = made.admin_cert.read_text()
        for name in ("default", "node-a", "node-b"):
            assert document["nodes"][name]["cert"] == admin_pem
        assert document["nodes"]["viewer"]["cert"] == made.viewer_cert.read_text()
    finally:
        loader.cleanup()


def test_write_rnx_config_writes_node_id_and_pem_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    made = generate(tmp_path / "c", ["127.0.0.1"])
    entry = RnxNode(
        address="127.0.0.1:50099",
        cert=made.admin_cert.read_text(),
        key=made.admin_key.read_text(),
        ca=made.ca_cert.read_text(),
        node_id="dev-1",
    )
    path = tmp_path / "dev" / "rnx-config.yml"
    path.parent.mkdir()

    write_rnx_config(path, {"default": entry})

    text = path.read_text()
    assert "cert: |" in text  # PEM as a block, not an escaped one-liner
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["rnx-config.yml"]  # no temp left
    loader = ConfigLoader(str(path))
    assert loader.load()
    try:
        info = loader.extract_connection_info()
        assert info is not None
        assert (info["host"], info["port"], info["node_id"]) == ("127.0.0.1", 50099, "dev-1")
    finally:
        loader.cleanup()


def test_generate_again_replaces_everything(tmp_path: Path) -> None:
    first = generate(tmp_path, ["127.0.0.1"])
    old_ca = first.ca_cert.read_bytes()

    second = generate(tmp_path, ["127.0.0.1"])

    assert second == first
    assert second.ca_cert.read_bytes() != old_ca
    load(second.admin_cert).verify_directly_issued_by(load(second.ca_cert))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    "addresses",
    [
        [],
        [""],
        ["bad host"],
        ["host:0"],
        ["host:65536"],
        ["host:abc"],
        ["999.1.1.1"],
        ["[::1"],
        ["[::1]x"],
        ["a..b"],
        ["-leading.example"],
        ["ok.example", "no/slash"],
    ],
)
def test_bad_addresses_are_refused_before_writing(tmp_path: Path, addresses: list[str]) -> None:
    with pytest.raises(ValueError, match="address") as caught:
        generate(tmp_path / "out", addresses)

    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_one_string_is_not_a_list_of_addresses(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="list"):
        generate(tmp_path, "127.0.0.1")


@pytest.mark.parametrize("name", ["default", "viewer", ""])
def test_reserved_node_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="node name"):
        generate(tmp_path / "out", ["127.0.0.1"], nodes={name: "127.0.0.1:50051"})

    assert not (tmp_path / "out").exists()


def test_a_bad_node_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bad address"):
        generate(tmp_path / "out", ["127.0.0.1"], nodes={"n1": "10.0.0.1:x"})


def test_days_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="1 day"):
        generate(tmp_path / "out", ["127.0.0.1"], days=0)


def test_an_empty_rnx_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        write_rnx_config(tmp_path / "rnx-config.yml", {})


@pytest.mark.parametrize(
    ("address", "host"),
    [
        ("10.0.0.1", ipaddress.ip_address("10.0.0.1")),
        ("10.0.0.1:50051", ipaddress.ip_address("10.0.0.1")),
        ("::1", ipaddress.ip_address("::1")),
        ("[fd00::1]:50051", ipaddress.ip_address("fd00::1")),
        ("Example.COM.", "example.com"),
        (" node-1:7 ", "node-1"),
    ],
)
def test_parse_host(address: str, host: object) -> None:
    assert parse_host(address) == host
