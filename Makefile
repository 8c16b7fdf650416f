# Everything runs inside .venv, built from PyPI on first use. Works on a fresh clone with only
# python3 (>= 3.10) and network access to PyPI.
PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
PIP    := $(VPY) -m pip
PYTEST_ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: venv test soak run bench clean interop

venv: $(VPY)

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# One stamp per extra: pip reruns only when pyproject.toml changes (or the venv is recreated).
# The install is editable, so source edits never need a reinstall. -qq: setuptools prints a
# warning box for every editable install (whatever its editable_mode); pip errors still show.
$(VENV)/.installed-%: pyproject.toml | $(VPY)
	@echo "installing natsobj[$*] into $(VENV) (editable)"
	$(PIP) install -qq -e '.[$*]'
	@touch $@

test: $(VENV)/.installed-test
	$(VPY) -m pytest -q -m "not soak" $(PYTEST_ARGS)

# Repeated fault scenarios (kill, pause, leader loss) in bounded loops; SOAK_ROUNDS per scenario.
SOAK_ROUNDS ?= 10
soak: $(VENV)/.installed-test
	SOAK_ROUNDS=$(SOAK_ROUNDS) $(VPY) -m pytest -q -m soak -p no:cacheprovider --timeout 1800 -rA $(PYTEST_ARGS)

# The cross-client matrix with nats.go and nats.js peers (interop/run.sh: installs Go via apt and the
# Node packages via npm ci when missing, builds both peers, runs tests/test_interop_peers*.py on one
# nats-server and prints the matrix per peer). Exit 3: a peer could not be installed (printed).
interop: $(VENV)/.installed-test
	PYTHON=$(VPY) interop/run.sh

run: $(VENV)/.installed-server
	$(VPY) -m objstore.cli.demo

bench: $(VENV)/.installed-bench
	$(VPY) -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis interop/build interop/node/node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
