#!/usr/bin/env bash
# Regenerates models/*.pb.go from models/*.proto with the pinned buf (its built-in compiler stands
# in for protoc) and protoc-gen-go, both built from the Go module proxy by make deps (tools/buf,
# tools/protoc-gen-go), so the output is the same byte for byte on any machine.
# With --check it regenerates into a scratch folder and fails if the committed files differ by a
# single byte, or if a .pb.go has no .proto.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.deps/bin:$PATH"

. scripts/modver.sh
# want TOOL MODULE VERSION_PREFIX: the TOOL on PATH must print the version tools/TOOL pins; another
# version could write other bytes (a worktree may use a shared .deps/bin through PATH).
want() {
  local pinned got
  pinned=$(modver "tools/$1" "$2")
  command -v "$1" >/dev/null || { echo "generate: $1 missing: run make deps" >&2; exit 1; }
  got=$("$1" --version 2>&1)
  [ "$got" = "$3$pinned" ] || { echo "generate: $(command -v "$1") says '$got', tools/$1 pins $pinned: run make deps" >&2; exit 1; }
}
want buf github.com/bufbuild/buf ""
want protoc-gen-go google.golang.org/protobuf "protoc-gen-go v"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# buf keeps a cache in the home folder by default; the models import nothing outside models/, so a
# throwaway one keeps the run independent of whatever an earlier buf left there.
export BUF_CACHE_DIR="$scratch/cache"
out="$scratch/out"
mkdir -p "$out"
# models/ is the module root, so the files are named "actions.proto", ... as their imports say.
buf generate models --output "$out" --template \
  '{"version":"v2","plugins":[{"local":"protoc-gen-go","out":".","opt":"paths=source_relative"}]}'

if [ "${1:-}" = "--check" ]; then
  status=0
  for f in "$out"/*.pb.go; do
    if ! cmp -s "$f" "models/$(basename "$f")"; then
      echo "generate: models/$(basename "$f") differs from what models/*.proto generate: run make generate" >&2
      status=1
    fi
  done
  for f in models/*.pb.go; do
    [ -e "$out/$(basename "$f")" ] || { echo "generate: $f has no .proto: remove it" >&2; status=1; }
  done
  [ $status = 0 ] && echo "generate: models/*.pb.go match their .proto files"
  exit $status
fi
rm -f models/*.pb.go
cp "$out"/*.pb.go models/
echo "generate: $(ls models/*.pb.go | wc -l) files with buf $(buf --version), $(protoc-gen-go --version)"
