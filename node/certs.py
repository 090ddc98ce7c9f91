"""``joblet certs generate``: a cluster's CA, the node certificate and the two client roles.

One CA signs everything, so any node can check any other node and any client with nothing
but ``ca.pem``. The node certificate serves (``rnx`` and other nodes call it) and also
calls (nodes call each other with it). The client certificates carry their role in the
Subject OU, which is what the node's authorization reads. ``rnx-config.yml`` bundles the
admin and viewer certificates in Joblet's format, so ``rnx`` and Joblet's Python SDK work
with a fresh cluster straight away.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from joblet_cluster.common.tls import SERVER_NAME, Role

log = logging.getLogger("joblet.certs")

DEFAULT_PORT = 50051
DEFAULT_DAYS = 825  # the longest validity clients commonly accept for a leaf certificate
ORGANIZATION = "joblet"
NODE_OU = "node"
#: Entry names ``generate`` writes itself; a node may not take one of them.
DEFAULT_ENTRY = "default"
VIEWER_ENTRY = "viewer"

_KEY_MODE = 0o600
_CERT_MODE = 0o644
_CLOCK_SKEW = datetime.timedelta(minutes=5)  # certificates valid a little before "now"
_DNS_NAME = re.compile(
    r"(?=.{1,253}\Z)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)"
    r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?"
)

Host: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address | str


@dataclass(frozen=True)
class CertFiles:
    """The files ``generate`` wrote (keys and ``rnx_config`` are mode 0600)."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path
    viewer_cert: Path
    viewer_key: Path
    rnx_config: Path


@dataclass(frozen=True)
class RnxNode:
    """One ``nodes:`` entry of ``rnx-config.yml``: where to call and as whom."""

    address: str  # "host:port"
    cert: str  # PEM text
    key: str  # PEM text
    ca: str  # PEM text
    node_id: str = ""

    def to_yaml(self) -> dict[str, str]:
        """The entry in Joblet's spelling; ``nodeId`` only when known (it is optional)."""
        entry = {"address": self.address, "cert": self.cert, "key": self.key, "ca": self.ca}
        if self.node_id:
            entry["nodeId"] = self.node_id
        return entry


@dataclass(frozen=True)
class _Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()


def generate(
    directory: Path,
    addresses: Sequence[str],
    nodes: Mapping[str, str] | None = None,
    days: int = DEFAULT_DAYS,
) -> CertFiles:
    """Write a new CA, node and client certificates and ``rnx-config.yml`` into ``directory``.

    ``addresses`` are the names and IPs clients may dial the node by (a ``:port`` is ignored);
    they go into the node certificate beside ``joblet`` and ``localhost`` so clients that
    check the dialled name (Joblet's SDK) work as well as those that ask for ``joblet``.
    ``nodes`` (name -> "host:port") adds one admin entry per node to ``rnx-config.yml``; the
    first one is also ``default``. Everything is checked before anything is written.
    """
    hosts = _parse_hosts(addresses)
    if days < 1:
        raise ValueError(f"certificate validity must be at least 1 day, got {days}")
    entries_at = _node_addresses(nodes) if nodes else {DEFAULT_ENTRY: _with_port(addresses[0])}

    ca = _issue_ca(days)
    server = _issue(ca, "joblet", NODE_OU, days, server=True, hosts=hosts)
    admin = _issue(ca, Role.ADMIN, Role.ADMIN, days)
    viewer = _issue(ca, Role.VIEWER, Role.VIEWER, days)

    files = _paths(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path, text, mode in (
        (files.ca_cert, ca.cert_pem, _CERT_MODE),
        (files.ca_key, ca.key_pem, _KEY_MODE),
        (files.server_cert, server.cert_pem, _CERT_MODE),
        (files.server_key, server.key_pem, _KEY_MODE),
        (files.admin_cert, admin.cert_pem, _CERT_MODE),
        (files.admin_key, admin.key_pem, _KEY_MODE),
        (files.viewer_cert, viewer.cert_pem, _CERT_MODE),
        (files.viewer_key, viewer.key_pem, _KEY_MODE),
    ):
        _write_atomic(path, text, mode)
    write_rnx_config(files.rnx_config, _rnx_entries(entries_at, ca, admin, viewer))
    log.info("wrote a CA and certificates for %s into %s", ", ".join(map(str, hosts)), directory)
    return files


def write_rnx_config(path: Path, entries: Mapping[str, RnxNode]) -> None:
    """Write Joblet's client config (mode 0600: every entry holds a private key).

    PEM text is written as YAML block literals so the file stays readable and diffable.
    """
    if not entries:
        raise ValueError("an rnx config needs at least one node entry")
    document = {"nodes": {name: entry.to_yaml() for name, entry in entries.items()}}
    text = yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False)
    _write_atomic(path, text, _KEY_MODE)


def parse_host(address: str) -> Host:
    """The host of ``address`` (``host``, ``host:port``, ``IP``, ``[IPv6]:port``), validated.

    IP addresses come back as ``ipaddress`` objects because a certificate lists them apart
    from DNS names, and a client dialling an IP only matches an IP entry.
    """
    text = address.strip()
    host, port = _split_port(text)
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"bad address {address!r}: port must be 1-65535")
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host)
    if not _DNS_NAME.fullmatch(host) or host.replace(".", "").isdigit():
        raise ValueError(f"bad address {address!r}: not an IP address or a DNS name")
    return host.rstrip(".").lower()


def _split_port(text: str) -> tuple[str, str | None]:
    """``[v6]:port`` and ``host:port`` split; a bare IPv6 address (many colons) has no port."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"bad address {text!r}: unbalanced [ ]")
        return host, rest[1:] if rest else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, None


def _parse_hosts(addresses: Sequence[str]) -> list[Host]:
    if isinstance(addresses, str):
        raise ValueError("addresses must be a list of addresses, not one string")
    if not addresses:
        raise ValueError("at least one address (DNS name or IP of the node) is required")
    hosts: list[Host] = []
    for address in addresses:
        host = parse_host(address)
        if host not in hosts:
            hosts.append(host)
    return hosts


def _with_port(address: str) -> str:
    """``address`` as ``host:port``, adding the default port when it has none."""
    host, port = _split_port(address.strip())
    parsed = parse_host(address)
    shown = f"[{parsed}]" if isinstance(parsed, ipaddress.IPv6Address) else host
    return f"{shown}:{port or DEFAULT_PORT}"


def _node_addresses(nodes: Mapping[str, str]) -> dict[str, str]:
    """Per-node entries plus ``default`` (the first node), all checked before writing."""
    out: dict[str, str] = {}
    for name, address in nodes.items():
        if not name or name in (DEFAULT_ENTRY, VIEWER_ENTRY):
            raise ValueError(f"bad node name {name!r}: empty, or reserved for rnx-config.yml")
        out[name] = _with_port(address)
    first = next(iter(out.values()))
    return {DEFAULT_ENTRY: first, **out}


def _rnx_entries(
    entries_at: Mapping[str, str], ca: _Issued, admin: _Issued, viewer: _Issued
) -> dict[str, RnxNode]:
    entries = {
        name: RnxNode(address, admin.cert_pem, admin.key_pem, ca.cert_pem)
        for name, address in entries_at.items()
    }
    # The viewer entry sits right after default, on the same node, so `rnx --node viewer`
    # is the read-only twin of the default.
    default = entries.pop(DEFAULT_ENTRY)
    viewer_entry = RnxNode(default.address, viewer.cert_pem, viewer.key_pem, ca.cert_pem)
    return {DEFAULT_ENTRY: default, VIEWER_ENTRY: viewer_entry, **entries}


def _paths(directory: Path) -> CertFiles:
    return CertFiles(
        ca_cert=directory / "ca.pem",
        ca_key=directory / "ca-key.pem",
        server_cert=directory / "server-cert.pem",
        server_key=directory / "server-key.pem",
        admin_cert=directory / "admin-cert.pem",
        admin_key=directory / "admin-key.pem",
        viewer_cert=directory / "viewer-cert.pem",
        viewer_key=directory / "viewer-key.pem",
        rnx_config=directory / "rnx-config.yml",
    )


def _new_key() -> ec.EllipticCurvePrivateKey:
    """P-256: fast to make and to handshake with, and accepted by every gRPC client."""
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, unit: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION)]
    if unit:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(parts)


def _builder(subject: x509.Name, issuer: x509.Name, key: Any, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _issue_ca(days: int) -> _Issued:
    key = _new_key()
    name = _name("joblet-ca")
    cert = (
        _builder(name, name, key, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _Issued(cert, key)


def _issue(
    ca: _Issued,
    common_name: str,
    unit: str,
    days: int,
    *,
    server: bool = False,
    hosts: Sequence[Host] = (),
) -> _Issued:
    """A leaf certificate: server certificates also authenticate as clients (node to node)."""
    key = _new_key()
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        _builder(_name(str(common_name), str(unit)), ca.cert.subject, key, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(_san(hosts), critical=False)
    return _Issued(builder.sign(ca.key, hashes.SHA256()), key)


def _san(hosts: Sequence[Host]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.DNSName(SERVER_NAME), x509.DNSName("localhost")]
    for host in hosts:
        if isinstance(host, str):
            entry: x509.GeneralName = x509.DNSName(host)
        else:
            entry = x509.IPAddress(host)
        if entry not in names:
            names.append(entry)
    return x509.SubjectAlternativeName(names)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_atomic(path: Path, text: str, mode: int) -> None:
    """Write beside ``path`` then rename, so a reader never sees half a key or config.

    The temporary file is created with ``mode`` (never wider), so a key is not readable by
    others even for the moment before the rename.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), mode)  # the umask may have narrowed it: make it exact
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (PEM) as ``|`` blocks instead of escaped one-liners."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)
