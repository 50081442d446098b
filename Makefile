# One entry point for people and CI. `make test` is the README's test command; `.ci/run` calls it.
# Every target installs what it needs (cached under ~/.cache/moe) so a fresh machine works.
SHELL := /bin/bash
export JAVA_HOME ?= /usr/lib/jvm/java-17-openjdk-amd64
MVN := mvn -B -ntp

.PHONY: test lint format test-java test-trainer test-e2e test-chart build demo deps-python deps-k8s deps-kueue deps-prometheus

build:                       ## operator jar, plan CLI jar, generated CRDs
	$(MVN) -DskipTests package

deps-python:                 ## trainer virtualenv (torch, transformers) under ~/.cache/moe/venv
	bash trainer-image/scripts/ensure-venv.sh

deps-k8s:                    ## kube-apiserver, scheduler, controller-manager, etcd, kwok built from the Go proxy
	bash e2e/bin/build-binaries.sh

deps-kueue:                  ## the Kueue manager (e2e suite kueue) built from the Go proxy, with its CRDs and webhooks
	bash e2e/bin/build-kueue.sh
deps-prometheus:             ## prometheus + promtool 3.x built from the Go proxy (e2e/bin/versions.sh pins them)
	bash e2e/bin/build-prometheus.sh >/dev/null

lint: deps-python            ## Python format and lint (ruff, ruff.toml); Java formatting is checked by `mvn verify` (Spotless)
	$(HOME)/.cache/moe/venv/bin/ruff format --check .
	$(HOME)/.cache/moe/venv/bin/ruff check .

format: deps-python          ## format the tree: Java (palantir-java-format through Spotless) and Python (ruff)
	$(MVN) spotless:apply
	$(HOME)/.cache/moe/venv/bin/ruff format .
	$(HOME)/.cache/moe/venv/bin/ruff check --fix .

test-java:                   ## plan engine, CLI, reconciler unit tests, CRD drift
	$(MVN) verify

test-trainer: deps-python    ## trainer on CPU: parity with transformers, gloo EP/TP/DP, checkpoint/resume
	bash trainer-image/scripts/test.sh

test-e2e: deps-k8s deps-kueue deps-prometheus build     ## real kube-apiserver + etcd + scheduler + KWOK: CEL tier and e2e scenarios
	bash e2e/run-tests.sh

test-chart: deps-python deps-prometheus  ## Helm chart by real helm: RBAC, monitoring, CRD copy; alerts by promtool
	$(HOME)/.cache/moe/venv/bin/python -m pytest -q charts/tests

test: lint test-java test-trainer test-chart test-e2e

demo: deps-k8s deps-python build        ## README's main job: local control plane with fake GPU nodes, apply examples/
	bash e2e/bin/demo.sh
