package main_test

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/internal/gardentest"
)

// benchmarkInstances is how many instances the benchmark places on one cell at once.
const benchmarkInstances = 100

// The benchmark of docs/performance.md: the same containers, first created and run through
// garden alone, then placed on a cell through the BBS and the auctioneer, in one run.
var _ = Describe("placing 100 instances on one cell", Serial, Label("benchmark"), func() {
	It("takes the cell at most 1.3 times as long as garden alone", func() {
		if os.Getenv("DIEGO_REP_BENCHMARK") == "" {
			Skip("set DIEGO_REP_BENCHMARK=1 to run the benchmark")
		}
		g := gardens[0]
		alone := gardenAlone(g, benchmarkInstances)

		startCell(guid("bench-cell"), g, nil)
		processGuid := guid("bench")
		lrp := appLRP(processGuid, benchmarkInstances)
		lrp.MemoryMb, lrp.DiskMb = 32, 32
		start := time.Now()
		desire(lrp)
		Eventually(func() int { return len(running(processGuid)) }, 10*time.Minute, 50*time.Millisecond).Should(Equal(benchmarkInstances))
		cellTime := time.Since(start)
		for _, a := range running(processGuid) {
			Expect(answer(a, "/")).NotTo(BeEmpty(), "instance %d answers on its host port", a.GetActualLrpKey().GetIndex())
		}

		ratio := float64(cellTime) / float64(alone)
		AddReportEntry("garden alone", alone.String())
		AddReportEntry("cell (desire to all RUNNING)", cellTime.String())
		AddReportEntry("ratio", fmt.Sprintf("%.2f", ratio))
		fmt.Fprintf(GinkgoWriter, "benchmark: %d instances: garden alone %s, cell %s, ratio %.2f\n", benchmarkInstances, alone, cellTime, ratio)
		Expect(ratio).To(BeNumerically("<=", 1.3))
	})
})

// gardenAlone creates n containers of the test app through garden's client, all at once, each
// with a memory and disk limit and its port 8080 mapped, runs the app in each and returns how
// long it took until every one answered HTTP on its host port. The containers are destroyed
// before it returns.
func gardenAlone(g *gardentest.Garden, n int) time.Duration {
	GinkgoHelper()
	handles := make([]string, n)
	for i := range handles {
		handles[i] = guid("alone")
	}
	defer func() {
		for _, h := range handles {
			_ = g.Client.Destroy(h)
		}
	}()

	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i, h := range handles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- runAlone(g, h, i)
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		Expect(err).NotTo(HaveOccurred())
	}
	return took
}

func runAlone(g *gardentest.Garden, handle string, index int) error {
	c, err := g.Client.Create(garden.ContainerSpec{
		Handle: handle,
		Image:  garden.ImageRef{URI: g.RootFS},
		Limits: garden.Limits{
			Memory: garden.MemoryLimits{LimitInBytes: 32 << 20},
			Disk:   garden.DiskLimits{ByteHard: 32 << 20, Scope: garden.DiskLimitScopeExclusive},
		},
		NetIn: []garden.NetIn{{ContainerPort: 8080}},
	})
	if err != nil {
		return fmt.Errorf("create %s: %w", handle, err)
	}
	info, err := c.Info()
	if err != nil {
		return fmt.Errorf("info %s: %w", handle, err)
	}
	if len(info.MappedPorts) != 1 {
		return fmt.Errorf("container %s has ports %v", handle, info.MappedPorts)
	}
	if _, err := c.Run(garden.ProcessSpec{
		Path: gardentest.TestAppPath(), User: "vcap",
		Env: []string{"PORT=8080", fmt.Sprintf("CF_INSTANCE_INDEX=%d", index), "CF_INSTANCE_GUID=" + handle},
	}, garden.ProcessIO{}); err != nil {
		return fmt.Errorf("run in %s: %w", handle, err)
	}
	url := fmt.Sprintf("http://%s:%d/", info.ExternalIP, info.MappedPorts[0].HostPort)
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s never answered on %s", handle, url)
}
