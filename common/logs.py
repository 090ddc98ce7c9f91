"""Logging set-up shared by every process, driven by the ``logging`` config section."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import orjson

from joblet_cluster.common.config import LoggingConfig

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JSONFormatter(logging.Formatter):
    """One JSON object a line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def setup_logging(config: LoggingConfig) -> None:
    """Route the root logger as the config says; called once by each process's entry point."""
    stream: TextIO | None = None
    if config.output == "stdout":
        stream = sys.stdout
    elif config.output == "stderr":
        stream = sys.stderr
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream else logging.FileHandler(config.output)
    )
    handler.setFormatter(
        JSONFormatter() if config.format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel("WARNING" if config.level == "WARN" else config.level)
