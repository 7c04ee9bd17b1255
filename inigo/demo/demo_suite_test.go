package demo_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/inigo/world"
)

// TestDemo is the seed's demo as a benchmark (docs/performance.md, "The demo"): a world of five
// cells of its own, an LRP scaled from 1 to 300 instances, then one cell lost under load. It runs
// only with DIEGO_DEMO_BENCHMARK=1: it takes minutes and the whole machine.
func TestDemo(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "demo Suite")
}

var w *world.World

var _ = BeforeSuite(func() {
	if os.Getenv("DIEGO_DEMO_BENCHMARK") == "" {
		Skip("set DIEGO_DEMO_BENCHMARK=1 to run the demo benchmark")
	}
	w = world.Start(world.Options{Cells: cells, LockTTL: lockTTL})
	// The seed's demo ran without instance identity credentials, and so do the demo's cells unless
	// DIEGO_DEMO_IDENTITY=1: each is a 2048-bit RSA key, about 0.1 s of CPU here, 30 s of the two
	// CPUs for 300 instances.
	if os.Getenv("DIEGO_DEMO_IDENTITY") != "" {
		return
	}
	for _, c := range w.Cells {
		c.Rep.Stop()
		executor := c.Rep.Config["executor"].(map[string]any)
		for _, k := range []string{"instance_identity_ca_path", "instance_identity_private_key_path", "instance_identity_cred_dir"} {
			delete(executor, k)
		}
		c.Rep.Start()
	}
})
