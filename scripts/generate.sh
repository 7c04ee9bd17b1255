#!/usr/bin/env bash
# Regenerates models/*.pb.go from models/*.proto with the pinned protoc
# (Debian bookworm's protobuf-compiler) and protoc-gen-go (built by make deps).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.deps/bin:$PATH"
command -v protoc >/dev/null || { echo "generate: protoc missing: run make deps" >&2; exit 1; }
command -v protoc-gen-go >/dev/null || { echo "generate: protoc-gen-go missing: run make deps" >&2; exit 1; }
rm -f models/*.pb.go
protoc --proto_path=models --go_out=models --go_opt=paths=source_relative models/*.proto
echo "generate: $(ls models/*.pb.go | wc -l) files from $(protoc --version), $(protoc-gen-go --version)"
