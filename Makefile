# `make demo` and `make test` each create .venv on first use and install the pinned stack into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: demo test test-all install clean zoo

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/keras-cnn demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --durations=25 tests

# the tests marked slow too (minutes each; see docs/testing.md)
test-all: $(STAMP)
	KERAS_CNN_SLOW=1 $(BIN)/python -m pytest -n 2 --dist loadgroup -q --durations=25 tests

zoo: $(STAMP)
	$(BIN)/keras-cnn zoo --readme README.md --chart docs/zoo.png

clean:
	rm -rf $(VENV) build *.egg-info
