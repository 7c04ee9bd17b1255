# Entry points for newcomers and CI (.ci/run runs `make deps test`).
SHELL := /bin/bash
export PATH := $(CURDIR)/.deps/bin:$(PATH)

GO_TEST_FLAGS ?= -p 2 -timeout 60m

.PHONY: deps test vet generate

## deps: install Debian packages and build etcd, nats-server, consul, protoc-gen-go into .deps (see docs/deps.md)
deps:
	@scripts/deps.sh

## test: go vet, then every suite of the root module (ginkgo v2 specs run under go test)
test: vet
	go test $(GO_TEST_FLAGS) ./...

vet:
	go vet ./...

## generate: regenerate code (protobuf models) with the tools from make deps
generate:
	@if [ -x scripts/generate.sh ]; then scripts/generate.sh; \
	elif [ -f scripts/generate.sh ]; then bash scripts/generate.sh; \
	else echo "generate: scripts/generate.sh does not exist yet; nothing to do"; fi
