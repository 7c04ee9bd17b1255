package main_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"strconv"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/auctioneer"
	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/reptest"
)

const rootFS = "preloaded:cflinuxfs4"

func lrpRequest(guid string, memory int32, indices ...int32) models.LRPStartRequest {
	return models.LRPStartRequest{
		ProcessGUID: guid, Domain: "d", Indices: indices,
		PlacementConstraint: models.PlacementConstraint{RootFs: rootFS},
		Resource:            models.Resource{MemoryMB: memory, DiskMB: 10},
	}
}

func indicesOf(rep *reptest.Rep, guid string) []int32 {
	var idx []int32
	for _, l := range rep.Placed().LRPs {
		if l.ProcessGUID == guid {
			idx = append(idx, l.Index)
		}
	}
	sort.Slice(idx, func(i, j int) bool { return idx[i] < idx[j] })
	return idx
}

var _ = Describe("the auctioneer daemon", func() {
	ctx := context.Background()

	It("refuses a bad config with every problem named", func() {
		s := daemontest.Start(auctioneerPath, "-config", daemontest.WriteConfig(map[string]any{"health_address": "0.0.0.0:1", "bbs_url": "bbs:8889"}))
		Eventually(s, 10*time.Second).Should(gexec.Exit(2))
		Expect(string(s.Err.Contents())).To(And(ContainSubstring("ca_file is required"), ContainSubstring("consul_address is required"),
			ContainSubstring("loopback"), ContainSubstring("bbs_url")))
	})

	It("serves only on the lock holder, over mutual TLS; a standby serves within lock TTL + retry interval after kill -9 of the holder", func() {
		rep := startRep("cell-failover", reptest.Options{})
		first := startAuctioneer("https://127.0.0.1:1", nil)
		firstClient := auctioneer.NewClient("https://"+first.api, clientTLS())
		Eventually(func() error { return firstClient.RequestLRPAuctions(ctx, nil) }, 20*time.Second, 50*time.Millisecond).Should(Succeed())
		standby := startAuctioneer("https://127.0.0.1:1", nil)
		Eventually(func() error { _, err := standby.healthz(); return err }, 10*time.Second, 50*time.Millisecond).Should(Succeed())

		By("both answer the health endpoint; only the holder leads and listens on the API")
		Expect(first.healthz()).To(Equal(daemontest.Health{Healthy: true, Leader: true}))
		Expect(standby.healthz()).To(Equal(daemontest.Health{Healthy: true, Leader: false}))
		Consistently(func() bool { return daemontest.Listening(standby.api) }, time.Second, 100*time.Millisecond).Should(BeFalse())

		By("the holder auctions: work reaches the rep found through its Consul presence")
		Expect(firstClient.RequestLRPAuctions(ctx, []models.LRPStartRequest{lrpRequest("before", 64, 0, 1)})).To(Succeed())
		Eventually(func() []int32 { return indicesOf(rep, "before") }, 5*time.Second).Should(Equal([]int32{0, 1}))

		By("metrics: leader, batch size, auction duration, cell-state fetch time")
		metrics := func() string { return daemontest.Scrape(first.metrics) }
		// The batch's metrics are recorded when it ends, just after the rep took the work.
		Eventually(metrics, 5*time.Second, 50*time.Millisecond).Should(And(ContainSubstring("auctioneer_leader 1"), ContainSubstring(`auctioneer_batch_size_sum{kind="lrp"} 2`),
			ContainSubstring("auctioneer_auction_duration_seconds_count 1"), ContainSubstring("auctioneer_cell_state_fetch_duration_seconds_count 1"),
			ContainSubstring(`auctioneer_placed_total{kind="lrp"} 2`)))

		By("the holder is registered in Consul as the auctioneer service")
		Eventually(func() []int { return servicePorts("auctioneer") }, 5*time.Second, 100*time.Millisecond).Should(ConsistOf(portOf(first.api)))

		By("mutual TLS: a client without a certificate is refused")
		noCert := auctioneer.NewClient("https://"+first.api, nil)
		Expect(noCert.RequestLRPAuctions(ctx, nil)).NotTo(Succeed())

		By("kill -9 the holder")
		Expect(first.session.Command.Process.Signal(syscall.SIGKILL)).To(Succeed())
		killed := time.Now()
		Eventually(first.session).Should(gexec.Exit())
		bound := lockTTL + lockRetry
		standbyClient := auctioneer.NewClient("https://"+standby.api, clientTLS())
		short := func() error {
			c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			return standbyClient.RequestLRPAuctions(c, nil)
		}
		Eventually(short, bound+2*time.Second, 20*time.Millisecond).Should(Succeed())
		took := time.Since(killed)
		AddReportEntry("auctioneer failover after kill -9", took.String()+" (lock TTL "+lockTTL.String()+", retry "+lockRetry.String()+", bound "+bound.String()+")")
		GinkgoWriter.Printf("failover took %s (bound %s)\n", took, bound)
		Expect(took).To(BeNumerically("<=", bound))
		Expect(standby.healthz()).To(Equal(daemontest.Health{Healthy: true, Leader: true}))

		By("the new holder registers itself")
		Eventually(func() []int { return servicePorts("auctioneer") }, 5*time.Second, 100*time.Millisecond).Should(ContainElement(portOf(standby.api)))

		By("the new holder auctions")
		Expect(standbyClient.RequestLRPAuctions(ctx, []models.LRPStartRequest{lrpRequest("after", 64, 0)})).To(Succeed())
		Eventually(func() []int32 { return indicesOf(rep, "after") }, 5*time.Second).Should(Equal([]int32{0}))

		By("SIGINT: the holder stops at once, exits 0 and releases the lock")
		standby.session.Interrupt()
		Eventually(standby.session, 5*time.Second).Should(gexec.Exit(0))
		Eventually(func() []int { return servicePorts("auctioneer") }, 5*time.Second, 100*time.Millisecond).ShouldNot(ContainElement(portOf(standby.api)))
		Expect(lockHolder("v1/locks/auctioneer_lock")).To(BeEmpty())
	})

	It("reports placement failures to a real BBS, found through Consul: the ActualLRP gets the placement error, the Task fails after its rejections", func() {
		rep := startRep("cell-small", reptest.Options{Total: models.Resources{MemoryMB: 1024, DiskMB: 1024, Containers: 10}})
		bbsAddr := daemontest.FreeAddr()
		// bbs_url leads nowhere: the auctioneer finds the BBS as the Consul service it registers
		a := startAuctioneer("https://"+daemontest.FreeAddr(), map[string]any{"bbs_service_name": "bbs"})
		startBBS(bbsAddr, a.api)
		client := bbs.NewClient("https://"+bbsAddr, clientTLS())
		Eventually(func() bool { return client.Ping(ctx) }, 20*time.Second, 50*time.Millisecond).Should(BeTrue())
		Eventually(func() bool { h, _ := a.healthz(); return h.Leader }, 20*time.Second, 50*time.Millisecond).Should(BeTrue())

		run := &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/true", User: "vcap"}}}
		desired := func(guid string, memory int32) *models.DesiredLRP {
			return &models.DesiredLRP{ProcessGuid: guid, Domain: "d", RootFs: rootFS, Instances: 2, MemoryMb: memory, DiskMb: 10, Action: run}
		}

		By("an LRP no cell has the memory for")
		Expect(client.DesireLRP(ctx, desired("too-big", 8192))).To(Succeed())
		Eventually(func() []string {
			lrps, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "too-big"})
			Expect(err).NotTo(HaveOccurred())
			var errs []string
			for _, l := range lrps {
				errs = append(errs, l.GetPlacementError())
			}
			return errs
		}, 10*time.Second, 100*time.Millisecond).Should(Equal([]string{"insufficient resources: memory", "insufficient resources: memory"}))

		By("an LRP that fits reaches the rep")
		Expect(client.DesireLRP(ctx, desired("fits", 64))).To(Succeed())
		Eventually(func() []int32 { return indicesOf(rep, "fits") }, 10*time.Second).Should(Equal([]int32{0, 1}))

		By("a Task no cell has the memory for is rejected, re-auctioned by the BBS, and failed with the reason")
		Expect(client.DesireTask(ctx, "huge-task", "d", &models.TaskDefinition{RootFs: rootFS, MemoryMb: 8192, DiskMb: 10, Action: run})).To(Succeed())
		Eventually(func() *models.Task {
			t, err := client.TaskByGuid(ctx, "huge-task")
			Expect(err).NotTo(HaveOccurred())
			return t
		}, 15*time.Second, 100*time.Millisecond).Should(And(
			HaveField("State", models.Task_Completed),
			HaveField("Failed", true),
			HaveField("FailureReason", ContainSubstring("insufficient resources: memory")),
		))
		t, _ := client.TaskByGuid(ctx, "huge-task")
		AddReportEntry("task failure reason", t.GetFailureReason())
	})
})

// servicePorts lists the ports of the service's instances whose checks pass (Consul's HTTP API).
func servicePorts(name string) []int {
	GinkgoHelper()
	resp, err := http.Get(consul.URL() + "/v1/health/service/" + name + "?passing=true")
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var entries []struct{ Service struct{ Port int } }
	Expect(json.NewDecoder(resp.Body).Decode(&entries)).To(Succeed())
	ports := []int{}
	for _, e := range entries {
		ports = append(ports, e.Service.Port)
	}
	return ports
}

func portOf(addr string) int {
	GinkgoHelper()
	_, p, err := net.SplitHostPort(addr)
	Expect(err).NotTo(HaveOccurred())
	n, err := strconv.Atoi(p)
	Expect(err).NotTo(HaveOccurred())
	return n
}

// lockHolder is the session holding the key ("" when free or absent), from Consul's HTTP API.
func lockHolder(key string) string {
	GinkgoHelper()
	resp, err := http.Get(consul.URL() + "/v1/kv/" + key)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ""
	}
	var entries []struct{ Session string }
	Expect(json.NewDecoder(resp.Body).Decode(&entries)).To(Succeed())
	if len(entries) == 0 {
		return ""
	}
	return entries[0].Session
}
