# Entry points for newcomers and CI (.ci/run runs `make deps && make test`).
SHELL := /bin/bash
export PATH := $(CURDIR)/.deps/bin:$(PATH)

GO_TEST_FLAGS ?= -p 2 -timeout 60m

.PHONY: deps test vet check-generated generate up down

## deps: install Debian packages and build etcd, nats-server, consul, protoc-gen-go, buf into .deps (see docs/deps.md)
deps:
	@scripts/deps.sh

## up: make deps, then build every program (CGO_ENABLED=0) and start the whole system on this machine,
## with a demo app at http://demo.localhost:18080/ (see docs/deploy.md; LOCAL_FLAGS=--cells=3 ...)
up: deps
	@CGO_ENABLED=0 go run ./deploy/local up $(LOCAL_FLAGS)

## down: destroy the containers and stop and remove everything make up started
down:
	@CGO_ENABLED=0 go run ./deploy/local down $(LOCAL_FLAGS)

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
