# Quick start: `make demo` and `make test`. Each creates .venv if missing and installs the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench chaos storm outage soak eval clean report-png

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# setuptools prints an information-only notice on every editable install ("be careful with folders
# ... with the same name as your package"); it says nothing about this project, so it is not shown.
$(STAMP): $(BIN)/python pyproject.toml
	PYTHONWARNINGS=ignore::UserWarning:setuptools.command.editable_wheel $(BIN)/pip install --quiet -e '.[test,train]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/cx demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 4 --dist loadfile --no-loadscope-reorder

bench: $(STAMP)
	$(BIN)/python -m bench

# The long fault runs (their CI-sized versions are in the test suite): SIGKILLs during 100,000
# events (~25 min), and 60 s of refused ClickHouse writes while events flow (~3 min).
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos --events 100000 --kills 10

storm: $(STAMP)
	$(BIN)/python -m bench.storm --events 50000 --changes 10 --runs 5

outage: $(STAMP)
	$(BIN)/python -m bench.outage --events 30000 --outage 60

soak: $(STAMP)
	$(BIN)/python -m bench.soak --events 1000000 --marks 100000,500000

# Sentiment accuracy on the labelled review test sets beside the repository (../shared/data/reviews,
# or CX_REVIEWS_DIR) and the repo's service set, with snownlp beside it; fails below a floor.
REVIEWS ?= $(or $(CX_REVIEWS_DIR),../shared/data/reviews)
eval: $(STAMP)
	$(BIN)/cx text eval --snownlp $(REVIEWS)/waimai_10k.test.csv $(REVIEWS)/chnsenticorp_hotel.test.csv tests/data/service_reviews.csv

# docs/report.png: the HTML report of a demo run, screenshot by headless Chromium (apt install chromium).
# The report page and one screenshot per dashboard in docs/ (needs a Chromium; not part of the tests).
SHOT := chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
	--disable-component-update --disable-sync --hide-scrollbars --window-size=1400,9000
TRIM := $(BIN)/python -c "import sys; from PIL import Image, ImageChops; i = Image.open(sys.argv[1]).convert('RGB'); \
	box = ImageChops.difference(i, Image.new('RGB', i.size, i.getpixel((0, i.height - 1)))).getbbox(); \
	i.crop((0, 0, i.width, min(i.height, box[3] + 24))).save(sys.argv[1], optimize=True)"

report-png: $(STAMP)
	CX_REPORT_PORT=off $(BIN)/cx demo --events 20000
	$(BIN)/cx report --html .cx/report.html
	$(SHOT) --user-data-dir=$$(mktemp -d) --screenshot=docs/report.png file://$(CURDIR)/.cx/report.html
	$(TRIM) docs/report.png
	for uid in cx-overview cx-latency cx-voice cx-closed-loop; do \
		$(BIN)/cx report --html .cx/$$uid.html --dashboard $$uid && \
		$(SHOT) --user-data-dir=$$(mktemp -d) --screenshot=docs/dashboard-$$uid.png file://$(CURDIR)/.cx/$$uid.html && \
		$(TRIM) docs/dashboard-$$uid.png || exit 1; \
	done

clean:
	rm -rf $(VENV) .cx build *.egg-info
