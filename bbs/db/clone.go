package db

import "google.golang.org/protobuf/proto"

func protoClone[T proto.Message](m T) T { return proto.Clone(m).(T) }

func proto_equal(a, b proto.Message) bool { return proto.Equal(a, b) }
