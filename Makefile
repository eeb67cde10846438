# Swivel: every entry point. `make run` and `make test` work as the first command on a fresh machine.
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST := $(PY) -m pytest

.PHONY: setup run test test-python test-firmware proofs bench firmware install uninstall clean

# Idempotent: Debian packages, the venv and the package; quick when already done.
setup:
	@bash tools/setup.sh

firmware: setup
	@$(MAKE) --no-print-directory -C firmware_mcu all sim

run: setup firmware
	$(PY) -m device run $(ARGS)

# Two streams (tools/test_streams.sh): the real-time tests in front; the firmware's host tests, its proofs and
# the batch test modules beside them at idle priority, in the cores the real-time ones leave unused.
test: setup firmware
	@bash tools/test_streams.sh $(PYTEST_ARGS)

test-firmware:
	@$(MAKE) --no-print-directory -C firmware_mcu host-test

# Frama-C (EVA, WP) and spin over the firmware and the link (firmware_mcu/proofs/README.md); the z3
# proofs are in tests/proofs. A broken proof fails `make test` (its batch stream).
proofs:
	@$(MAKE) --no-print-directory -C firmware_mcu proofs

# Every Python test in one stream, in order (`make test` splits them in two).
test-python:
	$(PYTEST) -q -ra --durations=30 $(PYTEST_ARGS)

# Benchmarks write their own sections of BENCHMARKS.md (each with the command that made it).
bench: setup firmware
	@set -e; for b in tools/bench/bench_*.py; do echo "== $$b"; nice $(PY) $$b $(BENCH_ARGS); done

install: firmware
	bash tools/install.sh

uninstall:
	bash tools/uninstall.sh

clean:
	rm -rf $(VENV) *.egg-info firmware_mcu/build .pytest_cache
