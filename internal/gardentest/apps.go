package gardentest

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// appClient keeps no connection: a garden hands a host port to another container once the last
// one is gone, and a kept connection would still reach the old container's address.
var appClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// AppsAlone is what garden alone takes to run n instances of the test app: n containers created
// on gardens in turn, all at once, each as a cell's executor creates an instance of 32 MB (the
// limits, port 8080 mapped, healthcheckDir bind mounted where the executor mounts its health
// check), the app run in each, until every one answers HTTP on its host port. It is the floor
// of a cell's benchmark. The containers are destroyed before it returns.
func AppsAlone(gardens []*Garden, n int, healthcheckDir string) time.Duration {
	GinkgoHelper()
	counterMu.Lock()
	counter++
	prefix := fmt.Sprintf("alone-%d-%d", os.Getpid(), counter)
	counterMu.Unlock()
	type made struct {
		g      *Garden
		handle string
	}
	all := make([]made, n)
	for i := range all {
		all[i] = made{gardens[i%len(gardens)], fmt.Sprintf("%s-%d", prefix, i)}
	}
	defer func() {
		var wg sync.WaitGroup
		for _, m := range all {
			wg.Go(func() { _ = m.g.Client.Destroy(m.handle) })
		}
		wg.Wait()
	}()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i, m := range all {
		wg.Go(func() { errs <- runApp(m.g, m.handle, i, healthcheckDir) })
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		Expect(err).NotTo(HaveOccurred())
	}
	return took
}

func runApp(g *Garden, handle string, index int, healthcheckDir string) error {
	c, err := g.Client.Create(garden.ContainerSpec{
		Handle: handle,
		Image:  garden.ImageRef{URI: g.RootFS},
		BindMounts: []garden.BindMount{{SrcPath: healthcheckDir, DstPath: "/etc/cf-assets/healthcheck",
			Mode: garden.BindMountModeRO, Origin: garden.BindMountOriginHost}},
		Limits: garden.Limits{
			CPU:    garden.CPULimits{LimitInShares: 10},
			Memory: garden.MemoryLimits{LimitInBytes: 32 << 20},
			Disk:   garden.DiskLimits{ByteHard: 32 << 20, InodeHard: 200000, Scope: garden.DiskLimitScopeTotal},
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
		Path: TestAppPath(), User: "vcap",
		Env: []string{"PORT=8080", fmt.Sprintf("CF_INSTANCE_INDEX=%d", index), "CF_INSTANCE_GUID=" + handle},
	}, garden.ProcessIO{}); err != nil {
		return fmt.Errorf("run in %s: %w", handle, err)
	}
	url := fmt.Sprintf("http://%s:%d/", info.ExternalIP, info.MappedPorts[0].HostPort)
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := appClient.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s never answered on %s", handle, url)
}
