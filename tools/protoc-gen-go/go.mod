// Tool module that pins protoc-gen-go at the google.golang.org/protobuf version of the root go.mod.
// Built by scripts/deps.sh into .deps/protoc-gen-go-<version>/; used by make generate.
module github.com/diego-go/diego/tools/protoc-gen-go

go 1.26.8

tool google.golang.org/protobuf/cmd/protoc-gen-go

require google.golang.org/protobuf v1.36.12 // indirect
