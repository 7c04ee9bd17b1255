#!/usr/bin/env bash
# Regenerates models/*.pb.go from models/*.proto with the pinned protoc
# (Debian bookworm's protobuf-compiler) and protoc-gen-go (built by make deps).
# With --check it regenerates into a scratch folder and fails if the committed
# files differ by a single byte.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.deps/bin:$PATH"
command -v protoc >/dev/null || { echo "generate: protoc missing: run make deps" >&2; exit 1; }
command -v protoc-gen-go >/dev/null || { echo "generate: protoc-gen-go missing: run make deps" >&2; exit 1; }

out=models
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
else
  rm -f models/*.pb.go
fi
protoc --proto_path=models --go_out="$out" --go_opt=paths=source_relative models/*.proto

if [ "$out" != models ]; then
  for f in "$out"/*.pb.go; do
    if ! cmp -s "$f" "models/$(basename "$f")"; then
      echo "generate: models/$(basename "$f") differs from what models/*.proto generate: run make generate" >&2
      exit 1
    fi
  done
  [ "$(ls "$out"/*.pb.go | wc -l)" = "$(ls models/*.pb.go | wc -l)" ] || { echo "generate: stale .pb.go files in models/" >&2; exit 1; }
  echo "generate: models/*.pb.go match their .proto files"
  exit 0
fi
echo "generate: $(ls models/*.pb.go | wc -l) files from $(protoc --version), $(protoc-gen-go --version)"
