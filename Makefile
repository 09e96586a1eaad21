# Entry points for readers, learners, instructors and contributors.
# Every target creates .venv when it is missing and installs the pinned requirements into it.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_PIN := torch==2.13.0
MATHJAX_JS := _build/vendor/mathjax/tex-mml-chtml.js
PORT ?= 8000
# nbgrader shells out to alembic, and the tests start `rnn-course`: both must come from the venv.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help venv book gettext serve test lint bench clean

help:
	@echo "make book    build the book into _build/html (English) and _build/html/zh (Chinese)"
	@echo "make gettext update the Chinese catalogues locale/zh_CN/**/*.po from the English pages"
	@echo "make test    lint, build the book and run the whole test suite"
	@echo "make serve   serve _build/html on http://127.0.0.1:$(PORT)"
	@echo "make lint    ruff"
	@echo "make bench   benchmarks (ratios measured side by side)"

venv: $(STAMP)

# PyTorch's CPU build goes in first: a requirement on plain `torch` would otherwise pull a CUDA build.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

$(MATHJAX_JS): book/_ext/vendor_mathjax.py | $(STAMP)
	$(BIN)/python book/_ext/vendor_mathjax.py _build/vendor/mathjax

# Locally the execution cache skips notebooks whose code did not change; CI (CI=true) drops the
# cache and rebuilds every page so that every page is executed afresh.
# The Chinese edition is the same sources with the catalogues of locale/zh_CN: its code cells run
# again (with RNN_BOOK_LANG=zh_CN, so that the figures' words are Chinese) in a cache of its own.
# The two editions build side by side (separate kernels, caches and folders); the Chinese log is
# printed when both are done.
ZH_LOG := _build/book-zh_CN.log
book: $(STAMP) $(MATHJAX_JS)
	@if [ -n "$$CI" ]; then rm -rf _build/.jupyter_cache* _build/.doctrees* _build/zh_CN; fi
	@mkdir -p _build
	@echo "Chinese edition: building in the background (log: $(ZH_LOG))"
	@$(BIN)/python book/_ext/build_language.py zh_CN -W $(if $(CI),--all) > $(ZH_LOG) 2>&1 & zh=$$!; \
	$(BIN)/jupyter-book build . --path-output . -W -n --keep-going $(if $(CI),--all); en=$$?; \
	wait $$zh; zh_rc=$$?; echo; echo "----- Chinese edition ($(ZH_LOG)) -----"; cat $(ZH_LOG); \
	if [ $$en -ne 0 ] || [ $$zh_rc -ne 0 ]; then \
	  echo "ERROR: book build failed (English: $$en, Chinese: $$zh_rc)" >&2; exit 1; fi
	@echo
	@echo "The book is in _build/html (English) and _build/html/zh (Chinese)."
	@echo "Open file://$(CURDIR)/_build/html/index.html"
	@echo "or run 'make serve' and visit http://127.0.0.1:$(PORT)/"

# After an English page changed: its messages go into the catalogues, and a translation whose
# English changed is marked fuzzy (not shown, and tests/test_book_zh.py fails until it is redone).
gettext: $(STAMP)
	$(BIN)/python book/_ext/build_language.py gettext
	$(BIN)/sphinx-intl update -p _build/gettext -l zh_CN -d locale

serve:
	@test -f _build/html/index.html || { echo "No book built yet: run 'make book' first." >&2; exit 1; }
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory _build/html $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pytest exits with 5 when it collected nothing: that is a broken suite, never a pass.
test: lint book
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests; the suite is broken." >&2; exit 1; fi; \
	exit $$rc

# The NumPy reference against PyTorch, then the grading engine against stock nbgrader (~4 min),
# then `rnn-course check` against `jupyter nbconvert --execute` for every exercise, then the Dask
# backend's throughput against its worker count beside the local engine's (~3 min).
bench: $(STAMP)
	$(BIN)/python bench/bench_reference.py
	@echo
	$(BIN)/python bench/bench_grading.py
	@echo
	$(BIN)/python bench/bench_check.py
	@echo
	$(BIN)/python bench/bench_dask.py

clean:
	rm -rf _build .pytest_cache .ruff_cache .hypothesis
