# The course's commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.py))
IPYNBS := $(NOTEBOOKS:.py=.ipynb)
# the Chinese notebooks nbval runs too: their code cells are the English ones (tests/test_i18n_notebooks.py
# proves it), so one of them proves what only a Chinese run exercises: the language switch, the Chinese
# messages and the CJK font (both texts of every tr(en, zh) are built in the English runs as well)
ZH_NBVAL := $(wildcard notebooks/zh/00_overview.ipynb)
# nbval: --nbval-current-env runs the venv's python as the kernel. Notebooks run two at a time
# (pytest-xdist, one worker per notebook file), each with one BLAS/OpenMP thread, so that the two
# never fight over the cores (threads that wait for each other are many times slower than one).
NBVAL_JOBS ?= 2
NBVAL := OMP_NUM_THREADS=1 $(PY) -m pytest --nbval-lax --nbval-current-env --nbval-kernel-startup-timeout=300 \
	-p no:cacheprovider -q \
	-n $(NBVAL_JOBS) --dist loadfile
export PYTHONDONTWRITEBYTECODE := 1
# reveal.js, require.js and the widget manager for the static pages (tools/webassets.py): installed
# once with npm by `make setup`, kept with the venv (make clean keeps them), never fetched by a page
export COURSE_WEB_ASSETS ?= $(CURDIR)/$(VENV)/share/course-web

.PHONY: help setup lab present notebooks translations test unit nbval test-cpu test-full-dry test-gpu test-student \
	test-browser course slides site student web-assets bench lint clean pretrain install-models

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

setup: $(STAMP)  ## create .venv and install requirements + course_utils (quick when done)
	@$(PY) tools/webassets.py check >/dev/null 2>&1 || $(PY) tools/webassets.py install \
	  || echo "note: the static slides, pages and site need the web assets above; make slides tries again"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing requirements into $(VENV) (first time: a few minutes; torch is large)"
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@# RISE (and the MathJax extension it pulled in) was replaced by jupyterlab-slideshow: remove it from
	@# a venv made before, where it would still load (and log errors) in JupyterLab
	@$(PY) -m pip uninstall --disable-pip-version-check -y -q jupyterlab-rise jupyterlab-mathjax3 2>/dev/null || true
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# installed when missing or not the pinned versions (what the folder holds is compared, not file times)
web-assets: $(STAMP)
	@$(PY) tools/webassets.py check >/dev/null 2>&1 || $(PY) tools/webassets.py install

lab: setup  ## open the course in JupyterLab
	$(VENV)/bin/jupyter lab notebooks/

present: setup $(IPYNBS)  ## open copies of the notebooks (build/present/) in JupyterLab to present as live slides
	$(PY) tools/nbtools.py present $(IPYNBS)
	$(VENV)/bin/jupyter lab build/present/

notebooks: setup  ## regenerate every .ipynb from its .py source; never overwrites edits in an .ipynb (FORCE=1 discards them)
	$(PY) tools/nbtools.py $(if $(FORCE),--force) build $(NOTEBOOKS)

translations: setup  ## record changed English in notebooks/zh/*.zh.md (NB=03: start translating notebook 03)
	$(PY) tools/i18n_build.py sync $(if $(NB),--start $(wildcard notebooks/$(NB)_*.py),$(NOTEBOOKS))

# Whatever runs, copies or renders the notebooks first rebuilds each .ipynb whose .py is newer (the .py
# is the file one edits), so a changed source never runs as its old notebook. `nbtools build` gives a
# rebuilt notebook its .py's time; one with edits of its own is left alone, named, and the target stops.
$(IPYNBS): notebooks/%.ipynb: notebooks/%.py | $(STAMP)
	$(PY) tools/nbtools.py build $<

unit: setup  ## unit tests of course_utils and tools (fast)
	$(PY) -m pytest tests -q -p no:cacheprovider --ignore=tests/e2e

# nbval trains from scratch (its checkpoints go to a fresh folder, not the data/checkpoints cache)
# and writes its figures, samples and metrics under build/<folder>/, so a test run never overwrites
# the artifacts of a `make course` run. $(call run_nbval,<folder>,<environment>,<pytest options>)
run_nbval = rm -rf $(CURDIR)/build/$(1) && $(2) COURSE_BUILD_DIR=$(CURDIR)/build/$(1) \
	COURSE_CHECKPOINT_DIR=$(CURDIR)/build/$(1)/checkpoints $(NBVAL) --durations=0 $(3) $(IPYNBS) $(ZH_NBVAL)

nbval: setup $(IPYNBS)  ## execute every notebook with nbval at COURSE_PROFILE (default smoke)
	$(call run_nbval,nbval,COURSE_PROFILE=$${COURSE_PROFILE:-smoke},--nbval-cell-timeout=$${COURSE_CELL_TIMEOUT:-900})

test: setup  ## unit tests, then every notebook with nbval in the smoke profile
	@start=$$(date +%s); $(MAKE) --no-print-directory unit; \
	  rc=$$?; echo "unit tests: $$(( $$(date +%s) - start )) s"; exit $$rc
	@start=$$(date +%s); COURSE_PROFILE=smoke $(MAKE) --no-print-directory nbval; \
	  rc=$$?; echo "nbval (smoke): $$(( $$(date +%s) - start )) s"; exit $$rc

test-cpu: setup $(IPYNBS)  ## every notebook at the cpu profile (what students run), quality asserted; slow
	@start=$$(date +%s); $(call run_nbval,nbval-cpu,COURSE_PROFILE=cpu,--nbval-cell-timeout=1800); \
	  rc=$$?; echo "nbval (cpu): $$(( $$(date +%s) - start )) s"; exit $$rc

# full sizes on the CPU with every training loop capped: catches errors in the full code paths
# (a typo, a shape) in minutes; the quality targets are skipped, and each notebook says so
test-full-dry: setup $(IPYNBS)  ## every notebook at full sizes on the CPU, training capped (COURSE_MAX_STEPS, default 2)
	@start=$$(date +%s); $(call run_nbval,nbval-full-dry,COURSE_PROFILE=full COURSE_DEVICE=cpu \
	  COURSE_MAX_STEPS=$${COURSE_MAX_STEPS:-2},--nbval-cell-timeout=900); rc=$$?; echo "nbval (full, dry): $$(( $$(date +%s) - start )) s"; exit $$rc

test-gpu: setup $(IPYNBS)  ## every notebook at full size (needs a GPU), quality asserted
	$(MAKE) --no-print-directory unit
	$(call run_nbval,nbval-full,COURSE_PROFILE=full,--nbval-cell-timeout=7200)

test-student: setup $(IPYNBS)  ## every notebook's student version at smoke: runs, each checker says "not attempted"
	@start=$$(date +%s); OMP_NUM_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider -n $(NBVAL_JOBS) --dist load \
	  tests/e2e/test_student_notebooks.py; rc=$$?; echo "student versions (smoke): $$(( $$(date +%s) - start )) s"; exit $$rc

test-browser: setup web-assets  ## JupyterLab, live slides, static slides and site in headless Chromium (offline)
	@start=$$(date +%s); $(PY) -m pytest -q -p no:cacheprovider -rs tests/e2e/test_browser.py; \
	  rc=$$?; echo "browser tests: $$(( $$(date +%s) - start )) s"; exit $$rc

course: setup web-assets $(IPYNBS)  ## execute every notebook in order into build/executed/ and render HTML (offline pages)
	$(PY) tools/nbtools.py execute $(IPYNBS)

slides: setup web-assets $(IPYNBS)  ## render every notebook as reveal.js slides into build/slides/ (offline; figures after make course)
	$(PY) tools/nbtools.py slides $(IPYNBS)

site: setup web-assets $(IPYNBS)  ## one static site of the executed notebooks (after make course) in build/site/
	$(PY) tools/site.py $(IPYNBS)

# `make pretrain` runs every notebook once at PROFILE (default cpu) with its own checkpoint folder, then packs
# the checkpoints that run used into one file with a SHA-256 per checkpoint. A killed run continues where
# it stopped (the folder is kept; FRESH=1 starts over).
PROFILE ?= cpu
PRETRAIN = $(CURDIR)/build/pretrain-$(PROFILE)
pretrain: setup web-assets $(IPYNBS)  ## train every model of PROFILE (default cpu) once, pack them: build/course-models-PROFILE.tar
	@$(if $(FRESH),rm -rf $(PRETRAIN))
	@mkdir -p $(PRETRAIN) && rm -f $(PRETRAIN)/used.txt
	@start=$$(date +%s); COURSE_PROFILE=$(PROFILE) COURSE_BUILD_DIR=$(PRETRAIN) COURSE_CHECKPOINT_DIR=$(PRETRAIN)/checkpoints \
	  COURSE_CHECKPOINT_LOG=$(PRETRAIN)/used.txt $(PY) tools/nbtools.py execute $(IPYNBS); \
	  rc=$$?; echo "pretrain ($(PROFILE)): $$(( $$(date +%s) - start )) s"; exit $$rc
	$(PY) -m course_utils.pack create $(PRETRAIN)/checkpoints build/course-models-$(PROFILE).tar \
	  --log $(PRETRAIN)/used.txt --profile $(PROFILE)

install-models: setup  ## install PACK (a make pretrain file) into INTO, a folder to share (checked first)
	@test -n "$(PACK)" -a -n "$(INTO)" || { echo "usage: make install-models PACK=course-models-cpu.tar INTO=/srv/course-models" >&2; exit 2; }
	$(PY) -m course_utils.pack install $(PACK) $(INTO)

student: setup $(IPYNBS)  ## student versions of the notebooks (solutions replaced by stubs) in build/student/
	$(PY) tools/nbtools.py student $(IPYNBS)

bench: setup  ## run tools/bench_*.py (inference; a training step at 1, 2, all threads), gather every metrics file into build/bench.md
	$(PY) -m course_utils.bench

lint: setup  ## ruff; every .ipynb in sync with its .py, free of outputs; the Chinese ones without drift
	$(VENV)/bin/ruff check course_utils tests tools notebooks
	$(PY) tools/nbtools.py check $(NOTEBOOKS)

clean:  ## remove build outputs and caches (keeps .venv and data/)
	rm -rf build .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
