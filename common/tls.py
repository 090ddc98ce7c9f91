"""Mutual TLS for the node's gRPC API: the daemon's side, and the side of ``rnx`` and of nodes
calling each other.

Both ends prove who they are with certificates signed by the cluster's one CA. A client's
role travels in its certificate (Subject OU ``admin`` or ``viewer``), as in Joblet, so a node
needs no user database to decide what a caller may do.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID

from joblet_cluster.common.config import SecurityConfig
from joblet_cluster.common.errors import ConfigError

log = logging.getLogger("joblet.tls")

#: The TLS server name Joblet's ``rnx`` asks for; every server certificate carries it, so a
#: client may dial an IP address and still check the certificate by this one name.
SERVER_NAME = "joblet"

_PEM_MARKER = "-----BEGIN"
_PEER_CERT_KEY = "x509_pem_cert"


class Role(StrEnum):
    """What a caller may do: ``admin`` everything, ``viewer`` only reads; ``node`` is
    another node of the cluster forwarding a user's call, with an admin's rights."""

    ADMIN = "admin"
    VIEWER = "viewer"
    NODE = "node"


class _HasAuthContext(Protocol):
    def auth_context(self) -> Any: ...


def read_pem(value: str, what: str) -> bytes:
    """PEM bytes from a config value that is either the PEM text itself or a file's path.

    Config files may inline certificates (handy for secrets managers) or point at files
    (handy on disk); failing here, with ``what`` named, beats an opaque TLS handshake error
    much later.
    """
    if _PEM_MARKER in value:
        return value.encode()
    if not value.strip():
        raise ConfigError(f"{what} is not set (PEM text or a file path)")
    try:
        data = Path(value).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {value}: {exc.strerror or exc}") from exc
    if _PEM_MARKER.encode() not in data:
        raise ConfigError(f"{what}: {value} holds no PEM block")
    return data


def server_credentials(cert: bytes, key: bytes, ca: bytes) -> grpc.ServerCredentials:
    """Credentials that make the server demand a client certificate signed by ``ca``.

    Without a client certificate there is no role, so a handshake without one is refused
    outright rather than let through to fail later in every handler.
    """
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )


def server_credentials_from_config(security: SecurityConfig) -> grpc.ServerCredentials:
    """:func:`server_credentials` from the ``security`` section, errors naming its keys."""
    return server_credentials(
        read_pem(security.server_cert, "security.serverCert"),
        read_pem(security.server_key, "security.serverKey"),
        read_pem(security.ca_cert, "security.caCert"),
    )


def channel_credentials(ca: bytes, cert: bytes, key: bytes) -> grpc.ChannelCredentials:
    """Credentials that trust only the cluster's CA (never the system's) and present ``cert``."""
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


def channel_options(extra: Iterable[tuple[str, Any]] = ()) -> list[tuple[str, Any]]:
    """Channel options that check the server certificate by :data:`SERVER_NAME`.

    Nodes are often reached by IP address; checking the name every server certificate
    carries keeps that working without listing every address in every certificate.
    """
    return [("grpc.ssl_target_name_override", SERVER_NAME), *extra]


def peer_role(context: _HasAuthContext) -> Role | None:
    """The role of the caller of an RPC, from the OU of its client certificate.

    ``None`` when there is no certificate or its OU names no role: the caller may do nothing.
    Works with ``grpc.ServicerContext`` and ``grpc.aio.ServicerContext`` alike.
    """
    certs = context.auth_context().get(_PEER_CERT_KEY) or []
    if not certs:
        return None
    return _role_of(bytes(certs[0]))


@functools.lru_cache(maxsize=256)
def _role_of(pem: bytes) -> Role | None:
    """Parse once per distinct certificate: every RPC asks, and callers are few."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        log.warning("peer certificate could not be parsed")
        return None
    units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not units:
        return None
    # The first OU decides, as in Joblet: a second OU cannot widen a certificate's rights.
    value = units[0].value
    ou = value.decode() if isinstance(value, bytes) else value
    try:
        return Role(ou)
    except ValueError:
        return None
