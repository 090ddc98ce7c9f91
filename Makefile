# One entry point for people and CI. `make test` is the whole suite, from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install redis test typecheck lint format proto bench state persist clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)  ## the package and its test tools, in .venv

redis:  ## redis-server and etcd, which the benchmarks compare against (Debian packages)
	@command -v redis-server >/dev/null && command -v etcd >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server etcd-server; }

test: install redis  ## lint, type-check, then every test tier and the benchmarks in smoke mode
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MAKE) typecheck
	$(PY) -m pytest

# mypy needs the package as it is imported (joblet_cluster.*); the folders map into it
# through package-dir, so it reads them through a tree of links.
typecheck: install
	rm -rf .typecheck && mkdir -p .typecheck/joblet_cluster
	for d in common proto state persist node rnx cluster; do ln -s ../../$$d .typecheck/joblet_cluster/$$d; done
	cd .typecheck && ../$(PY) -m mypy --namespace-packages --explicit-package-bases \
		--ignore-missing-imports --follow-imports=silent \
		-p joblet_cluster.common -p joblet_cluster.state -p joblet_cluster.persist \
		-p joblet_cluster.node -p joblet_cluster.rnx -p joblet_cluster.cluster

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

proto: install  ## regenerate proto/*_pb2*.py from proto/*.proto
	$(PY) -m joblet_cluster.proto.generate

bench: install redis  ## the full benchmarks (minutes); figures go to BENCHMARKS.md
	$(PY) -m tests.benchmarks.bench_state_ipc
	$(PY) -m tests.benchmarks.bench_persist
	$(PY) -m tests.benchmarks.bench_local_backend
	$(PY) -m tests.benchmarks.bench_node
	$(PY) -m tests.benchmarks.bench_raft

.dev/joblet-config.yml:
	mkdir -p .dev
	printf 'server:\n  nodeId: dev-1\nstate:\n  socket: run/state.sock\npersist:\n  ipc:\n    socket: run/persist-ipc.sock\n  server:\n    grpc_socket: run/persist-grpc.sock\n  storage:\n    base_dir: data\n' > $@

state: install .dev/joblet-config.yml  ## a state service on ./.dev/run/state.sock, in the foreground
	$(VENV)/bin/joblet state -c .dev/joblet-config.yml

persist: install .dev/joblet-config.yml  ## a persist service under ./.dev (logs in .dev/data), in the foreground
	$(VENV)/bin/joblet persist -c .dev/joblet-config.yml

clean:
	rm -rf $(VENV) .dev .typecheck build *.egg-info .pytest_cache .ruff_cache .hypothesis
