# Two commands on a fresh machine with Python 3.11+, git and make: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8001

.PHONY: demo test install browser tools screenshots lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py archive/diffs/_diffcore.c
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "provenance-archive needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The demo archive is (re)built only when the corpus or the sample history changed, so
# restarting `make demo` records no empty runs. `make demo PORT=8080 HOST=0.0.0.0` to move it.
archive.db: $(STAMP) $(wildcard corpus/*) samples/terms-sample.bundle
	$(BIN)/archive ingest corpus/
	$(BIN)/archive ingest --git samples/terms-sample.bundle
	touch archive.db

demo: archive.db
	$(BIN)/archive serve --host $(HOST) --port $(PORT)

# The README's screenshots (docs/screenshots/), photographed from the demo archive.
screenshots: $(STAMP) browser
	$(BIN)/python scripts/screenshots.py

browser:
	@sh scripts/ensure-chromium.sh

# Tools the tests run as programs (b3sum, patch, wacz): scripts/ensure-tools.sh.
tools:
	@sh scripts/ensure-tools.sh

test: $(STAMP) browser tools
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .venv-tools archive.db archive.db-wal archive.db-shm test-output .pytest_cache build archive/diffs/_diffcore*.so
