"""The AWS edge of the CloudWatch backend: region, clients, and botocore's errors.

botocore raises its own exception tree; everything that leaves this module is a
``CloudWatchError`` (a ``JobletError``) whose message says what was being done and what to
check, so callers never import botocore.
"""

from __future__ import annotations

import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from joblet_cluster.common.errors import ConfigError, JobletError

log = logging.getLogger("joblet.persist.cloudwatch")

DEFAULT_REGION = "us-east-1"
IMDS = "http://169.254.169.254"
IMDS_TIMEOUT = 1.0  # s, for the whole detection: off EC2 nothing answers, and we must not wait
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")

#: ``fetch(request, timeout) -> body``: the one HTTP call region detection makes.
Fetch = Callable[[urllib.request.Request, float], bytes]


class CloudWatchError(JobletError):
    """A CloudWatch call failed.

    ``code`` is AWS's error code (empty when the service was not reached); ``retryable``
    says whether the same call may succeed later (throttling, outage, network), as opposed
    to a refusal that needs a fix (permissions, credentials, a bad parameter).
    """

    def __init__(self, message: str, code: str = "", *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class ResourceMissing(CloudWatchError):
    """The log group or stream does not exist (callers usually create it, or read nothing)."""


class ResourceExists(CloudWatchError):
    """The log group or stream already exists (harmless when creating on demand)."""


_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
}
_BUSY = {
    "Throttling",
    "ThrottlingException",
    "LimitExceededException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServiceError",
}


def translate(exc: Exception, what: str) -> CloudWatchError:
    """botocore's exception for ``what`` (e.g. "writing job-1-stdout") as a CloudWatchError."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or str(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code == "ResourceNotFoundException":
            return ResourceMissing(f"CloudWatch {what}: {message}", code)
        if code == "ResourceAlreadyExistsException":
            return ResourceExists(f"CloudWatch {what}: {message}", code)
        if code in _DENIED:
            return CloudWatchError(
                f"CloudWatch refused {what} ({code}: {message}); check the node's AWS "
                "credentials and its IAM permissions for CloudWatch Logs and Metrics",
                code,
            )
        if code in _BUSY or status >= 500:
            return CloudWatchError(
                f"CloudWatch is busy or unavailable while {what} ({code}: {message}); "
                "retries were exhausted, try again later",
                code,
                retryable=True,
            )
        return CloudWatchError(f"CloudWatch rejected {what} ({code}: {message})", code)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CloudWatchError(
            f"no usable AWS credentials for {what}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, a shared credentials file, or attach an instance role",
            "NoCredentials",
        )
    if isinstance(exc, NoRegionError):
        return CloudWatchError(f"no AWS region for {what}: set cloudwatch.region", "NoRegion")
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return CloudWatchError(
            f"cannot reach CloudWatch while {what}: {exc}", "Unreachable", retryable=True
        )
    if isinstance(exc, BotoCoreError):
        return CloudWatchError(f"CloudWatch client error while {what}: {exc}")
    raise TypeError(f"not a botocore error: {exc!r}")


def invoke(
    what: str, method: Callable[..., dict[str, Any]], params: dict[str, Any]
) -> dict[str, Any]:
    """Call one client method (in a worker thread), translating its errors."""
    try:
        return method(**params)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, what) from exc


def make_clients(
    region: str, endpoint_url: str, overrides: Config | None = None
) -> tuple[Any, Any]:
    """A CloudWatch Logs and a CloudWatch client from one session of their own.

    botocore retries throttling and transient errors itself ("standard" mode, with
    backoff); timeouts are short enough that a dead endpoint surfaces as an error.
    """
    config = Config(
        region_name=region,
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=16,
        user_agent_extra="joblet-persist",
    )
    if overrides is not None:
        config = config.merge(overrides)
    session = boto3.session.Session()
    endpoint = endpoint_url or None
    try:
        logs = session.client("logs", endpoint_url=endpoint, config=config)
        metrics = session.client("cloudwatch", endpoint_url=endpoint, config=config)
    except ValueError as exc:  # botocore's answer to a malformed endpoint or region
        key = "endpoint_url" if endpoint_url else "region"
        raise ConfigError(f"persist.storage.cloudwatch.{key}: {exc}") from exc
    except BotoCoreError as exc:
        raise translate(exc, "creating the CloudWatch clients") from exc
    return logs, metrics


def resolve_region(
    configured: str,
    detect: Callable[[], str | None],
    environ: Mapping[str, str] = os.environ,
) -> str:
    """The configured region, else the environment's, else EC2's, else us-east-1."""
    if configured:
        return configured
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if environ.get(name):
            return environ[name]
    detected = detect()
    if detected:
        log.info("CloudWatch region %s detected from EC2 instance metadata", detected)
        return detected
    log.info("CloudWatch region not configured nor detected; using %s", DEFAULT_REGION)
    return DEFAULT_REGION


def _imds_fetch(request: urllib.request.Request, timeout: float) -> bytes:
    # Never through a proxy: the metadata service is link-local.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        body: bytes = response.read(256)
    return body


def detect_ec2_region(timeout: float = IMDS_TIMEOUT, fetch: Fetch = _imds_fetch) -> str | None:
    """The region of the EC2 instance we run on, from its metadata service; None elsewhere.

    IMDSv2 first (a session token from a PUT), then IMDSv1 when the token call is refused
    with an HTTP error. ``timeout`` bounds the whole detection: off EC2 the address does
    not answer, and a node must not wait seconds for that at every start.
    """
    deadline = time.monotonic() + timeout
    headers: dict[str, str] = {}
    token_request = urllib.request.Request(
        f"{IMDS}/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
    )
    try:
        token = fetch(token_request, timeout).decode("ascii").strip()
        headers["X-aws-ec2-metadata-token"] = token
    except urllib.error.HTTPError:
        pass  # something answered but refused tokens: IMDSv1 may still work
    except (OSError, ValueError, UnicodeDecodeError):
        return None  # nothing there: not on EC2
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    region_request = urllib.request.Request(
        f"{IMDS}/latest/meta-data/placement/region", headers=headers
    )
    try:
        region = fetch(region_request, remaining).decode("ascii").strip()
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return region if _REGION.fullmatch(region) else None
