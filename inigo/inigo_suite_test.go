package inigo_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/inigo/world"
)

// TestInigo runs the whole system end to end: real etcd, Consul and NATS, garden servers on runc
// and every daemon of the project as a process (inigo/world); nothing between them is faked.
func TestInigo(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "inigo Suite")
}

// w is one world for the suite: every spec leaves it as it found it (a cell, daemon or server it
// stops is started again when the spec ends) and uses process guids and hostnames of its own.
var w *world.World

var _ = BeforeSuite(func() {
	w = world.Start(world.Options{})
})

// host is a route's hostname of its own for a process guid.
func host(processGuid string) string { return processGuid + ".example.com" }
