package main_test

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/models"
)

func desired(guid string, instances int32) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: guid, Domain: "d", RootFs: "preloaded:cflinuxfs4", Instances: instances, MemoryMb: 64,
		Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/app", User: "vcap"}}},
	}
}

// records lists guid's actual LRPs as "<index> <presence> <state> <cell>".
func records(guid string) []string {
	GinkgoHelper()
	as, err := bbsClient.ActualLRPs(context.Background(), bbs.ActualLRPFilter{ProcessGuid: guid})
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%d %s %s %s", a.GetActualLrpKey().GetIndex(), a.GetPresence(), a.GetState(), a.GetActualLrpInstanceKey().GetCellId()))
	}
	return out
}

var _ = Describe("the converger daemon", func() {
	ctx := context.Background()

	It("refuses a bad config with every problem named (exit 2)", func() {
		s := daemontest.Start(convergerPath, "-config", daemontest.WriteConfig(map[string]any{
			"health_address": "0.0.0.0:1", "bbs_url": "bbs:8889", "convergence_interval": "0s",
		}))
		Eventually(s, 10*time.Second).Should(gexec.Exit(2))
		Expect(string(s.Err.Contents())).To(And(ContainSubstring("converger: config"), ContainSubstring("consul_address is required"),
			ContainSubstring(`health_address "0.0.0.0:1" must be a loopback address`), ContainSubstring(`bbs_url "bbs:8889"`),
			ContainSubstring("convergence_interval 0s: must be positive")))
	})

	It("converges only while it holds the lock; a standby takes over within 2 x lock TTL after kill -9 of the holder and converges at once", func() {
		first := startConverger(nil)
		Eventually(func() bool { h, _ := daemontest.HealthOf(first.health, "/healthz"); return h.Leader }, 20*time.Second, 50*time.Millisecond).Should(BeTrue())
		standby := startConverger(nil)
		Eventually(func() error { _, err := daemontest.HealthOf(standby.health, "/ping"); return err }, 10*time.Second, 50*time.Millisecond).Should(Succeed())

		By("both answer /ping and /healthz; only the holder leads")
		for _, path := range []string{"/ping", "/healthz"} {
			Expect(daemontest.HealthOf(first.health, path)).To(Equal(daemontest.Health{Healthy: true, Leader: true}))
			Expect(daemontest.HealthOf(standby.health, path)).To(Equal(daemontest.Health{Healthy: true, Leader: false}))
		}

		By("the holder converged once, when it won the lock; the standby not at all")
		Eventually(func() string { return daemontest.Scrape(first.metrics) }, 5*time.Second, 50*time.Millisecond).Should(
			And(ContainSubstring("\nconverger_passes_total 1\n"), ContainSubstring("\nconverger_failures_total 0\n")))
		Expect(daemontest.Scrape(standby.metrics)).To(ContainSubstring("\nconverger_passes_total 0\n"))
		Expect(daemontest.Scrape(bbsMetrics)).To(ContainSubstring("\nbbs_convergence_runs_total 1\n"))

		By("an instance goes missing: nothing re-creates it while the interval (10 min) runs")
		Expect(bbsClient.DesireLRP(ctx, desired("failover", 2))).To(Succeed())
		Expect(bbsClient.RemoveActualLRP(ctx, "failover", 1, nil)).To(Succeed())
		Consistently(func() []string { return records("failover") }, time.Second, 100*time.Millisecond).Should(ConsistOf("0 ORDINARY UNCLAIMED "))

		By("kill -9 the holder: the standby wins the lock and its first pass re-creates the instance")
		Expect(first.session.Command.Process.Signal(syscall.SIGKILL)).To(Succeed())
		killed := time.Now()
		Eventually(first.session).Should(gexec.Exit())
		bound := 2*lockTTL + lockRetry
		Eventually(func() []string { return records("failover") }, bound+2*time.Second, 20*time.Millisecond).Should(
			ConsistOf("0 ORDINARY UNCLAIMED ", "1 ORDINARY UNCLAIMED "))
		took := time.Since(killed)
		AddReportEntry("converger failover after kill -9 (to the re-created instance)", took.String()+" (lock TTL "+lockTTL.String()+", retry "+lockRetry.String()+", bound "+bound.String()+")")
		GinkgoWriter.Printf("converger failover took %s (bound %s)\n", took, bound)
		Expect(took).To(BeNumerically("<=", bound))
		Expect(daemontest.HealthOf(standby.health, "/healthz")).To(Equal(daemontest.Health{Healthy: true, Leader: true}))
		Expect(daemontest.Scrape(standby.metrics)).To(ContainSubstring("\nconverger_passes_total 1\n"))
		Expect(daemontest.Scrape(bbsMetrics)).To(ContainSubstring("\nbbs_convergence_runs_total 2\n"))

		By("the lock names its holder; SIGINT: the holder exits 0 and releases it")
		Expect(consulClient.Presences(locket.LockKeyPrefix)).To(HaveKeyWithValue("converge_lock", []byte("http://"+standby.health)))
		standby.session.Interrupt()
		Eventually(standby.session, 5*time.Second).Should(gexec.Exit(0))
		Expect(consulClient.Presences(locket.LockKeyPrefix)).NotTo(HaveKey("converge_lock"))
	})

	It("converges at once when a cell's presence vanishes, without waiting for the interval", func() {
		c := startConverger(nil)
		Eventually(func() bool { h, _ := daemontest.HealthOf(c.health, "/healthz"); return h.Leader }, 20*time.Second, 50*time.Millisecond).Should(BeTrue())
		Eventually(func() string { return daemontest.Scrape(c.metrics) }, 5*time.Second, 50*time.Millisecond).Should(ContainSubstring("\nconverger_passes_total 1\n"))

		By("an instance RUNNING on cell-v, whose presence is in Consul")
		presence, err := locket.NewCellPresence(nil, consulClient, &models.CellPresence{CellId: "cell-v", RepAddress: "http://127.0.0.1:1", RepUrl: "http://127.0.0.1:1", Zone: "z1"}, lockTTL, lockRetry)
		Expect(err).NotTo(HaveOccurred())
		proc := ifrit.Invoke(presence)
		DeferCleanup(func() { proc.Signal(os.Kill); <-proc.Wait() })
		Eventually(func() ([]*models.CellPresence, error) { return bbsClient.Cells(ctx) }, 10*time.Second).Should(ContainElement(
			HaveField("CellId", "cell-v")))
		Expect(bbsClient.DesireLRP(ctx, desired("on-cell-v", 1))).To(Succeed())
		ik := &models.ActualLRPInstanceKey{InstanceGuid: "ig-v", CellId: "cell-v"}
		Expect(bbsClient.ClaimActualLRP(ctx, "on-cell-v", 0, ik)).To(Succeed())
		Expect(bbsClient.StartActualLRP(ctx, &models.StartActualLRPRequest{
			ActualLrpKey: &models.ActualLRPKey{ProcessGuid: "on-cell-v", Index: 0, Domain: "d"}, ActualLrpInstanceKey: ik,
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61001}}},
		})).To(Succeed())
		Expect(records("on-cell-v")).To(ConsistOf("0 ORDINARY RUNNING cell-v"))

		By("the presence goes away: the instance turns SUSPECT and a replacement is created within seconds")
		proc.Signal(os.Interrupt)
		Eventually(proc.Wait()).Should(Receive())
		gone := time.Now()
		Eventually(func() []string { return records("on-cell-v") }, 5*time.Second, 20*time.Millisecond).Should(
			ConsistOf("0 SUSPECT RUNNING cell-v", "0 ORDINARY UNCLAIMED "))
		took := time.Since(gone)
		AddReportEntry("vanished cell to SUSPECT instance (interval 10m)", took.String())
		GinkgoWriter.Printf("vanished cell converged after %s\n", took)
		Expect(daemontest.Scrape(c.metrics)).To(ContainSubstring("\nconverger_passes_total 2\n"))
	})
})
