"""Regenerate the Python modules from the `.proto` sources beside this file.

Run ``python -m joblet_cluster.proto.generate`` (or ``make proto``) after editing a `.proto`
file; ``--check`` exits 1 when the committed modules differ from what the sources produce,
which is what the staleness test runs. The pinned ``grpcio-tools`` in pyproject.toml makes
the output reproducible.

The sources are compiled from a scratch tree laid out as ``joblet_cluster/proto/*.proto`` so
that the generated imports name our package (``from joblet_cluster.proto import ...``)
instead of a bare top-level module that would clash with Joblet's own SDK.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_PATH = Path("joblet_cluster") / "proto"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def sources() -> list[Path]:
    return sorted(HERE.glob("*.proto"))


def generate(out_dir: Path) -> dict[str, bytes]:
    """Compile every source into ``out_dir`` and return the generated files by name."""
    from grpc_tools import protoc  # noqa: PLC0415 - build-time tool, only in the test extra

    tree = out_dir / "tree"
    package_dir = tree / PACKAGE_PATH
    package_dir.mkdir(parents=True)
    for source in sources():
        shutil.copy(source, package_dir / source.name)
    proto_include = Path(protoc.__file__).resolve().parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{tree}",
        f"-I{proto_include}",
        f"--python_out={tree}",
        f"--pyi_out={tree}",
        f"--grpc_python_out={tree}",
        *(str(PACKAGE_PATH / s.name) for s in sources()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see its messages above")
    return {
        path.name: path.read_bytes()
        for path in sorted(package_dir.iterdir())
        if path.name.endswith(GENERATED_SUFFIXES)
    }


def committed() -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in sorted(HERE.iterdir())
        if path.name.endswith(GENERATED_SUFFIXES)
    }


def stale_files() -> list[str]:
    """Names of generated modules that differ from, or are missing beside, their sources."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
    current = committed()
    return sorted(
        name for name in fresh.keys() | current.keys() if fresh.get(name) != current.get(name)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale modules")
    options = parser.parse_args(argv)
    if options.check:
        stale = stale_files()
        for name in stale:
            print(f"stale: proto/{name} (run `make proto`)", file=sys.stderr)
        return 1 if stale else 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
    for path in HERE.iterdir():
        if path.name.endswith(GENERATED_SUFFIXES) and path.name not in fresh:
            path.unlink()
    for name, content in fresh.items():
        (HERE / name).write_bytes(content)
        print(f"wrote proto/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
