"""mTLS over a real socket: a grpc.aio server with ``server_credentials`` and real clients."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import grpc
import pytest

from joblet_cluster.common.tls import (
    channel_credentials,
    channel_options,
    peer_role,
    read_pem,
    server_credentials,
)
from joblet_cluster.node.certs import CertFiles, generate


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


METHOD = "/test.T/Who"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return generate(tmp_path_factory.mktemp("ours"), ["127.0.0.1"])


@pytest.fixture(scope="module")
def strangers(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    """A second, unrelated cluster: its certificates must be worthless to ours."""
    return generate(tmp_path_factory.mktemp("theirs"), ["127.0.0.1"])


async def who(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    role = peer_role(context)
    return b"" if role is None else role.encode()


@pytest.fixture
async def port(files: CertFiles) -> AsyncIterator[int]:
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "test.T", {"Who": grpc.unary_unary_rpc_method_handler(who)}
    )
    server.add_generic_rpc_handlers((handler,))
    credentials = server_credentials(
        files.server_cert.read_bytes(), files.server_key.read_bytes(), files.ca_cert.read_bytes()
    )
    bound = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    try:
        yield bound
    finally:
        await server.stop(grace=None)


async def call(
    port: int,
    credentials: grpc.ChannelCredentials,
    options: list[tuple[str, object]] | None = None,
) -> bytes:
    opts = channel_options() if options is None else options
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials, options=opts) as channel:
        reply: bytes = await channel.unary_unary(METHOD)(b"", timeout=5)
        return reply


def client(files: CertFiles, cert: Path, key: Path) -> grpc.ChannelCredentials:
    return channel_credentials(files.ca_cert.read_bytes(), cert.read_bytes(), key.read_bytes())


async def test_the_admin_is_admin(files: CertFiles, port: int) -> None:
    assert await call(port, client(files, files.admin_cert, files.admin_key)) == b"admin"


async def test_the_viewer_is_viewer(files: CertFiles, port: int) -> None:
    assert await call(port, client(files, files.viewer_cert, files.viewer_key)) == b"viewer"


async def test_a_node_calling_a_node_has_the_node_role(files: CertFiles, port: int) -> None:
    assert await call(port, client(files, files.server_cert, files.server_key)) == b"node"


async def test_a_client_without_a_certificate_is_refused(files: CertFiles, port: int) -> None:
    anonymous = grpc.ssl_channel_credentials(root_certificates=files.ca_cert.read_bytes())

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(port, anonymous)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_certificate_from_another_ca_is_refused(
    files: CertFiles, strangers: CertFiles, port: int
) -> None:
    # It trusts our CA, so only its own certificate can be what fails the handshake.
    foreign = channel_credentials(
        files.ca_cert.read_bytes(),
        strangers.admin_cert.read_bytes(),
        strangers.admin_key.read_bytes(),
    )

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(port, foreign)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_client_that_trusts_another_ca_refuses_the_server(
    files: CertFiles, strangers: CertFiles, port: int
) -> None:
    misled = client(strangers, files.admin_cert, files.admin_key)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(port, misled)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_the_sdk_way_checks_the_dialled_ip(
    files: CertFiles, port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Joblet's SDK sets no name override: it dials 127.0.0.1 and the certificate lists it."""
    monkeypatch.setenv("HOME", str(tmp_path))
    loader = ConfigLoader(str(files.rnx_config))
    assert loader.load()
    try:
        info = loader.extract_connection_info("viewer")
        assert info is not None
        credentials = grpc.ssl_channel_credentials(
            read_pem(info["ca_cert_path"], "ca"),
            read_pem(info["client_key_path"], "key"),
            read_pem(info["client_cert_path"], "cert"),
        )
        assert await call(port, credentials, options=[]) == b"viewer"
    finally:
        loader.cleanup()
