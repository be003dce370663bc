# The project's commands. The README's two: `make demo` (main job) and `make test` (every test).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help venv demo test test-quick sanity units lint docs harness server-tests integration molecule reliability bench build clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

venv:  ## create .venv (Python 3.12, pinned tools, the local server)
	@tools/venv.sh

demo: venv  ## start the local server and throwaway databases, apply the example connections, show re-run and export
	@tools/demo.sh

test: venv  ## run every test: lint, sanity, units, harness, server, integration (each flavour), molecule, reliability, build
	@tools/test.sh all

sanity: venv  ## ansible-test sanity
	@tools/test.sh sanity

units: venv  ## ansible-test units
	@tools/test.sh units

lint: venv  ## ansible-lint (production profile) and the docs render check
	@tools/test.sh lint docs

harness: venv  ## pytest tests/harness: the services harness, parallel ansible-test runs on a fresh HOME
	@tools/test.sh harness

server-tests: venv  ## pytest tests/server against real databases
	@tools/test.sh server

integration: venv  ## ansible-test integration against the local server, one run per flavour (as is, hiding passwords), at once
	@tools/test.sh integration

molecule: venv  ## molecule test --all
	@tools/test.sh molecule

reliability: venv  ## the reliability suite (writes docs/reliability.md)
	@tools/test.sh reliability

bench: venv  ## the bulk converge and the load benchmarks (print tables; docs/performance.md)
	@tools/test.sh bench

build: venv  ## build the collection tarball, install it offline, render its docs
	@tools/test.sh build

clean:  ## remove build output and tool caches (keeps .venv)
	rm -rf dbconvert-streams-*.tar.gz tests/output .ansible .cache collections .hypothesis .schemathesis .pytest_cache
