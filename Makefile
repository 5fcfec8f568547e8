# Quick start: `make demo` and `make test`. Each creates .venv if missing and installs the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/cx demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# Sentiment accuracy on the labelled review test sets beside the repository (../shared/data/reviews,
# or CX_REVIEWS_DIR) and the repo's service set, with snownlp beside it; fails below a floor.
REVIEWS ?= $(or $(CX_REVIEWS_DIR),../shared/data/reviews)
eval: $(STAMP)
	$(BIN)/cx text eval --snownlp $(REVIEWS)/waimai_10k.test.csv $(REVIEWS)/chnsenticorp_hotel.test.csv tests/data/service_reviews.csv

clean:
	rm -rf $(VENV) .cx build *.egg-info
