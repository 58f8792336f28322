# For those who have make: each target calls the course's launcher, course.py (standard library only),
# which works the same without make: `python3 course.py lab`, `python3 course.py test` (`py course.py ...` on Windows).
PYTHON ?= python3
COURSE := $(PYTHON) course.py
PY := .venv/bin/python
# Test processes for `make test`; each takes whole files, so a notebook always runs in one kernel.
JOBS ?= 2
ROSTER ?= workshop/roster.example.txt

.PHONY: lab tools test check notebooks check-notebooks run-notebooks env clean workshop workshop-proxy workshop-rehearsal

env:                              ## create or update the environment only (.venv)
	$(COURSE) env

lab:                              ## open your working copy (my-work/) in JupyterLab on this machine only
	$(COURSE) lab

tools:                            ## build llama.cpp's tools (llama-server, llama-bench) that notebooks 04 and 14 start, once
	$(COURSE) tools

test:                             ## lint (ruff), then unit tests + nbval over every notebook, in JOBS processes
	$(COURSE) test --jobs $(JOBS)

check:                            ## is everything in place? what is missing, with the command that fixes it
	$(COURSE) check

notebooks:                        ## rebuild every notebook from lessons/ and re-execute it (ONLY=00 03 for some)
	$(COURSE) notebooks $(if $(ONLY),--only $(ONLY))

check-notebooks:                  ## list notebooks that disagree with their lesson source
	$(COURSE) check-notebooks

run-notebooks:                    ## run every notebook headless with papermill into build/papermill
	$(COURSE) run-notebooks $(if $(ONLY),--only $(ONLY))

workshop-proxy:                   ## install JupyterHub's proxy (npm) into build/workshop/node
	$(COURSE) workshop-proxy

workshop: env workshop-proxy      ## host the course with JupyterHub for ROSTER=file on 127.0.0.1 (IP=0.0.0.0 PORT=8000 for a room)
	$(PY) -m helpers.workshop start --roster $(ROSTER) $(if $(IP),--ip $(IP)) $(if $(PORT),--port $(PORT))

workshop-rehearsal: env workshop-proxy ## K=4 simulated learners on loopback, measured: benchmarks/results/workshop_rehearsal.md
	$(PY) -m helpers.workshop rehearse --learners $(or $(K),4)

.PHONY: vllm-env
vllm-env: env                     ## create vLLM's own environment, .venv-vllm (about 3.5 GB), for serving with vLLM
	$(PY) -m helpers.serving.vllm_env

clean:
	rm -rf build
