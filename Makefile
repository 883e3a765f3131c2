# hactl — run `make help` for the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
SEEDS ?= 500
SEED_START ?= 0

# Debian packages the tests and the demo use (installed when run as root on Debian).
DEBIAN_PACKAGES := resource-agents pacemaker-resource-agents fence-agents pacemaker-cli-utils \
	etcd-server etcd-client iproute2 systemd dbus procps psmisc curl

.PHONY: help install deps-debian test test-fast lint proto demo bench bench-scheduler bench-store bench-failover sim clean

help:
	@echo "make install          venv in $(VENV), hactl editable with test+dev extras, Debian packages (as root)"
	@echo "make test             the whole test suite (what CI runs)"
	@echo "make test-fast        unit tests only"
	@echo "make lint             ruff + mypy --strict + import contracts"
	@echo "make proto            regenerate reconciler/_proto from proto/*.proto"
	@echo "make demo             a local 3-node cluster running the example web service"
	@echo "make sim SEEDS=N SEED_START=S   deterministic Raft simulation over a seed range"
	@echo "make bench            every benchmark (writes docs/BENCHMARKS.md)"

install: $(VENV)/.installed deps-debian

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev]'
	@touch $@

# Installs the Debian packages once (stamp in the venv); skipped when not root or not Debian.
deps-debian: $(VENV)/.debian
$(VENV)/.debian: Makefile
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
		if [ -n "$$missing" ]; then \
			echo "apt-get install $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		fi; \
	else \
		echo "not root or not Debian: skipping apt-get; tests that need $(DEBIAN_PACKAGES) will skip"; \
	fi
	@mkdir -p $(VENV) && touch $@

test: install
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check reconciler tests bench
	$(VENV)/bin/ruff format --check reconciler tests bench
	$(VENV)/bin/mypy reconciler
	$(VENV)/bin/lint-imports

proto: install
	$(PY) -m grpc_tools.protoc -Ireconciler/_proto=proto --python_out=. --grpc_python_out=. --pyi_out=. \
		$(patsubst proto/%,reconciler/_proto/%,$(wildcard proto/*.proto))

sim: install
	$(PY) -m pytest tests/sim -q --sim-seeds=$(SEEDS) --sim-seed-start=$(SEED_START)

demo: install
	$(VENV)/bin/hactl demo

bench: bench-scheduler bench-store bench-failover bench-cluster

bench-scheduler: install
	$(PY) -m bench.scheduler

bench-store: install
	$(PY) -m bench.store

bench-failover: install
	$(PY) -m bench.failover

bench-store-failover: install
	$(PY) -m bench.store_failover --rounds 10 --perf l

bench-cluster: install
	$(PY) -m bench.cluster

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
