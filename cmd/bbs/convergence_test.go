package main_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/cmd/bbs/config"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/models"
)

var _ = Describe("the bbs daemon's convergence", func() {
	ctx := context.Background()
	BeforeEach(clearEtcd)

	It("converges on its own every 30 s unless configured otherwise (upstream's interval)", func() {
		cfg, err := config.Load(writeConfig(map[string]string{"k": "p"}, "k", nil).cfgPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ConvergenceInterval.D()).To(Equal(30 * time.Second))
	})

	It("reports upstream's gauges from each pass on /metrics", func() {
		// passes only when asked, so the counts below are of known passes
		p := writeConfig(map[string]string{"k1": "pass-1"}, "k1", map[string]any{"convergence_interval": "0s"}).start()
		Eventually(func() bool { return pingOK(p) }, "20s", "50ms").Should(BeTrue())
		c := clientFor(p)
		Expect(c.DesireLRP(ctx, desired("gauged"))).To(Succeed()) // 2 instances
		Expect(c.RemoveActualLRP(ctx, "gauged", 1, nil)).To(Succeed())
		Expect(c.DesireTask(ctx, "gauged-task", "d", &models.TaskDefinition{RootFs: "docker:///busybox",
			Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/true", User: "root"}}}})).To(Succeed())

		scrape := func() string { return daemontest.Scrape(p.metrics) }
		Expect(c.Converge(ctx)).To(Succeed())
		m := scrape()
		for _, line := range []string{"bbs_lrps_desired 2", "bbs_lrps_unclaimed 1", "bbs_lrps_missing 1", "bbs_lrps_running 0",
			"bbs_lrps_extra 0", "bbs_suspect_running_actual_lrps 0", "bbs_tasks_pending 1", "bbs_tasks_resolving 0",
			"bbs_present_cells 0", "bbs_convergence_runs_total 1", "bbs_convergence_duration_seconds_count 1"} {
			Expect(m).To(ContainSubstring("\n"+line+"\n"), line)
		}

		// the pass created the missing instance: the next one counts it
		Expect(c.Converge(ctx)).To(Succeed())
		m = scrape()
		for _, line := range []string{"bbs_lrps_unclaimed 2", "bbs_lrps_missing 0", "bbs_convergence_runs_total 2"} {
			Expect(m).To(ContainSubstring("\n"+line+"\n"), line)
		}
		Expect(m).To(ContainSubstring(`bbs_request_duration_seconds_count{route="/v1/converge"} 2`))
	})
})
