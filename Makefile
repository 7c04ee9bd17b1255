# Entry points for newcomers and CI (.ci/run runs `make deps && make test`).
SHELL := /bin/bash
export PATH := $(CURDIR)/.deps/bin:$(PATH)

GO_TEST_FLAGS ?= -p 2 -timeout 60m

.PHONY: deps test vet check-generated generate

## deps: install Debian packages and build etcd, nats-server, consul, protoc-gen-go, buf into .deps (see docs/deps.md)
deps:
	@scripts/deps.sh

## test: go vet, the generated code's check, then every suite of the root module (ginkgo v2 specs run under go test)
test: vet check-generated
	go test $(GO_TEST_FLAGS) ./...

## check-generated: fail if models/*.pb.go differ from what models/*.proto generate
check-generated:
	@scripts/generate.sh --check

vet:
	go vet ./...

## generate: regenerate models/*.pb.go with buf and protoc-gen-go from make deps
generate:
	@scripts/generate.sh
