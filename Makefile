# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint stack-up stack-down bench clean

# setup.py compiles these (mypyc): an edit to one of them means a rebuild.
COMPILED := $(shell sed -n 's/^ *"\([a-z_/]*\.py\)",.*/\1/p' setup.py)

$(STAMP): pyproject.toml setup.py $(COMPILED)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/arbiter demo

test: $(STAMP)
	$(BIN)/ruff check streams rules tests
	$(BIN)/mypy rules streams
	$(BIN)/pytest -q --durations=15

lint: $(STAMP)
	$(BIN)/ruff check streams rules tests
	$(BIN)/mypy rules streams

bench: $(STAMP)
	$(BIN)/arbiter bench

stack-up: $(STAMP)
	$(BIN)/arbiter stack up

stack-down: $(STAMP)
	$(BIN)/arbiter stack down

clean:
	-$(BIN)/arbiter stack down
	rm -rf $(VENV) .arbiter build *.so
	find rules streams -name '*.so' -delete
