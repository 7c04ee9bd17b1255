package inigo_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/inigo/world"
	"github.com/diego-go/diego/models"
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
	// a crash is restarted at once, then after 1 s, 2 s, 2 s and 2 s (the cap), and the
	// sixth is the last: the crash spec sees every stage in seconds
	w = world.Start(world.Options{CrashRestartPolicy: models.RestartPolicy{
		ImmediateRestarts: 2, MinBackoff: time.Second, MaxBackoff: 2 * time.Second, MaxRestarts: 6, CrashResetAfter: 5 * time.Minute,
	}})
})

// host is a route's hostname of its own for a process guid.
func host(processGuid string) string { return processGuid + ".example.com" }
