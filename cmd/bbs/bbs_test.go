package main_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/tlsconfig"
)

func clientTLS() *tls.Config {
	t, err := tlsconfig.Client(certs.ClientCert, certs.ClientKey, certs.CACert)
	Expect(err).NotTo(HaveOccurred())
	return t
}

func clientFor(p *bbsProc) *bbs.Client { return bbs.NewClient("https://"+p.api, clientTLS()) }

func pingOK(p *bbsProc) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	return clientFor(p).Ping(ctx)
}

func desired(guid string) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: guid, Domain: "d", RootFs: "preloaded:cflinuxfs4", Instances: 2, MemoryMb: 64,
		EnvironmentVariables: []*models.EnvironmentVariable{{Name: "TOKEN", Value: "very-secret-token"}},
		Action:               &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/secret-cmd", User: "vcap"}}},
	}
}

func clearEtcd() {
	cli, err := db.NewEtcdClient([]string{etcd.ClientURL()}, 5*time.Second, nil)
	Expect(err).NotTo(HaveOccurred())
	defer cli.Close()
	_, err = cli.Delete(context.Background(), "/v1/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred())
}

var _ = Describe("the bbs daemon", func() {
	ctx := context.Background()
	BeforeEach(clearEtcd)

	It("refuses a bad config", func() {
		p := writeConfig(map[string]string{"k": "p"}, "missing-label", map[string]any{"health_address": "0.0.0.0:1"})
		s := daemontest.Start(bbsPath, "-config", p.cfgPath)
		Eventually(s).Should(gexec.Exit(2))
		Expect(string(s.Err.Contents())).To(And(ContainSubstring("active_key_label"), ContainSubstring("loopback")))
	})

	It("serves only on the lock holder, over mutual TLS, and fails over within 1.2 x (TTL + retry) after kill -9", func() {
		keys := map[string]string{"k1": "pass-1"}
		leader := startBBS(keys, "k1")
		Eventually(func() bool { return pingOK(leader) }, "20s", "50ms").Should(BeTrue())
		standby := startBBS(keys, "k1")
		Eventually(func() bool { return daemontest.Listening(standby.health) }, "10s", "50ms").Should(BeTrue())

		By("the health endpoints answer on both, the API only on the leader")
		for _, p := range []*bbsProc{leader, standby} {
			resp, err := http.Get("http://" + p.health + "/")
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
		}
		Consistently(func() bool { return daemontest.Listening(standby.api) }, "1s", "100ms").Should(BeFalse())

		By("metrics say who leads")
		Expect(daemontest.Scrape(leader.metrics)).To(ContainSubstring("bbs_leader 1"))

		By("mutual TLS: no client certificate and an untrusted one are refused")
		plain := bbs.NewClient("https://"+leader.api, &tls.Config{RootCAs: clientTLS().RootCAs})
		Expect(plain.Ping(ctx)).To(BeFalse())
		untrusted, err := tlsconfig.Client(certs.UntrustedClientCert, certs.UntrustedClientKey, certs.CACert)
		Expect(err).NotTo(HaveOccurred())
		Expect(bbs.NewClient("https://"+leader.api, untrusted).Ping(ctx)).To(BeFalse())

		By("data written through the leader")
		Expect(clientFor(leader).DesireLRP(ctx, desired("survivor"))).To(Succeed())

		By("kill -9 the leader")
		Expect(leader.session.Command.Process.Signal(syscall.SIGKILL)).To(Succeed())
		killed := time.Now()
		Eventually(leader.session).Should(gexec.Exit())
		bound := time.Duration(1.2 * float64(lockTTL+lockRetry))
		Eventually(func() bool { return pingOK(standby) }, bound, "20ms").Should(BeTrue())
		took := time.Since(killed)
		AddReportEntry("failover", took.String()+" (bound "+bound.String()+")")
		GinkgoWriter.Printf("failover took %s (bound %s)\n", took, bound)
		Expect(took).To(BeNumerically("<=", bound))

		By("the new leader has the data")
		d, err := clientFor(standby).DesiredLRPByProcessGuid(ctx, "survivor")
		Expect(err).NotTo(HaveOccurred())
		Expect(d.GetEnvironmentVariables()[0].GetValue()).To(Equal("very-secret-token"))
		Expect(clientFor(standby).ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "survivor"})).To(HaveLen(2))
	})

	It("stops serving and exits when it loses the lock, event streams open or not", func() {
		p := startBBS(map[string]string{"k1": "pass-1"}, "k1")
		Eventually(func() bool { return pingOK(p) }, "20s", "50ms").Should(BeTrue())
		// an open stream must not hold up the exit (the server's drain waits for it otherwise)
		stream, err := bbs.NewClient("https://"+p.api, clientTLS(), bbs.WithRetry(1, 0)).SubscribeToLRPInstanceEvents(ctx, "")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(stream.Close)
		req, err := http.NewRequest(http.MethodDelete, "http://"+consul.HTTPAddr()+"/v1/kv/"+locket.LockKey("bbs_lock"), nil)
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Eventually(p.session, "10s").Should(gexec.Exit(1))
		Expect(daemontest.Listening(p.api)).To(BeFalse())
		Expect(string(p.session.Err.Contents())).To(ContainSubstring("lost lock"))
	})

	It("streams events over mutual TLS", func() {
		p := startBBS(map[string]string{"k1": "pass-1"}, "k1")
		Eventually(func() bool { return pingOK(p) }, "20s", "50ms").Should(BeTrue())
		src, err := clientFor(p).SubscribeToLRPInstanceEvents(ctx, "")
		Expect(err).NotTo(HaveOccurred())
		defer src.Close()
		tasks, err := clientFor(p).SubscribeToTaskEvents(ctx, "")
		Expect(err).NotTo(HaveOccurred())
		defer tasks.Close()
		Expect(clientFor(p).DesireLRP(ctx, desired("streamed"))).To(Succeed())
		e, err := src.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.EventType()).To(Equal(models.EventTypeDesiredLRPCreated))
		Expect(e.Key()).To(Equal("streamed"))
		Expect(clientFor(p).DesireTask(ctx, "streamed-task", "d", &models.TaskDefinition{RootFs: "docker:///busybox",
			Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/true", User: "root"}}}})).To(Succeed())
		e, err = tasks.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.EventType()).To(Equal(models.EventTypeTaskCreated))
	})

	// vanishingCell starts a BBS with extra config and a cell presence "cell-z", claims instance 0
	// of "on-cell-z" on it and stops the presence; it returns the BBS and the auction requests it
	// makes after that.
	vanishingCell := func(extra map[string]any) (*bbsProc, chan []models.LRPStartRequest) {
		GinkgoHelper()
		auctions := make(chan []models.LRPStartRequest, 10)
		auctioneer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/lrps" {
				var reqs []models.LRPStartRequest
				_ = json.NewDecoder(r.Body).Decode(&reqs)
				auctions <- reqs
			}
			w.WriteHeader(http.StatusAccepted)
		}))
		DeferCleanup(auctioneer.Close)
		extra["auctioneer_url"] = auctioneer.URL
		p := writeConfig(map[string]string{"k1": "pass-1"}, "k1", extra).start()
		Eventually(func() bool { return pingOK(p) }, "20s", "50ms").Should(BeTrue())

		lc, err := locket.NewClient(consul.HTTPAddr())
		Expect(err).NotTo(HaveOccurred())
		presence, _ := json.Marshal(map[string]any{"cell_id": "cell-z", "rep_url": "http://127.0.0.1:1", "zone": "z1"})
		proc := ifrit.Invoke(locket.NewPresence(nil, lc, locket.CellPresenceKey("cell-z"), presence, 2*time.Second, 500*time.Millisecond))
		DeferCleanup(func() { proc.Signal(os.Kill); <-proc.Wait() })
		Eventually(func() ([]*models.CellPresence, error) { return clientFor(p).Cells(ctx) }, "10s").Should(HaveLen(1))
		cells, _ := clientFor(p).Cells(ctx)
		Expect(cells[0].GetZone()).To(Equal("z1"))

		Expect(clientFor(p).DesireLRP(ctx, desired("on-cell-z"))).To(Succeed())
		Eventually(auctions, "5s").Should(Receive())
		Expect(clientFor(p).ClaimActualLRP(ctx, "on-cell-z", 0, &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "cell-z"})).To(Succeed())

		proc.Signal(os.Interrupt) // the presence goes away
		<-proc.Wait()
		return p, auctions
	}
	unclaimedAndAuctioned := func(p *bbsProc, auctions chan []models.LRPStartRequest) {
		GinkgoHelper()
		var reqs []models.LRPStartRequest
		Eventually(auctions, "10s").Should(Receive(&reqs))
		Expect(reqs).To(HaveLen(1))
		Expect(reqs[0].ProcessGUID).To(Equal("on-cell-z"))
		Expect(reqs[0].Indices).To(Equal([]int32{0}))
		as, err := clientFor(p).ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "on-cell-z", Index: ptr(int32(0))})
		Expect(err).NotTo(HaveOccurred())
		Expect(as[0].GetState()).To(Equal(models.ActualLRPStateUnclaimed))
	}

	It("lists present cells and, when one vanishes, unclaims and auctions its instances at once", func() {
		unclaimedAndAuctioned(vanishingCell(map[string]any{"convergence_interval": "10m"}))
	})

	It("with convergence_interval 0s converges only when asked (a converger drives it): a vanished cell waits for /v1/converge", func() {
		p, auctions := vanishingCell(map[string]any{"convergence_interval": "0s"})
		Consistently(auctions, "3s").ShouldNot(Receive())
		as, err := clientFor(p).ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "on-cell-z", Index: ptr(int32(0))})
		Expect(err).NotTo(HaveOccurred())
		Expect(as[0].GetState()).To(Equal(models.ActualLRPStateClaimed))

		Expect(clientFor(p).Converge(ctx)).To(Succeed())
		unclaimedAndAuctioned(p, auctions)
	})

	It("stops serving on SIGINT and a restarted BBS still has the data", func() {
		keys := map[string]string{"k1": "pass-1"}
		p := startBBS(keys, "k1")
		Eventually(func() bool { return pingOK(p) }, "20s", "50ms").Should(BeTrue())
		Expect(clientFor(p).DesireTask(ctx, "kept-task", "d", &models.TaskDefinition{RootFs: "docker:///busybox",
			Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/true", User: "root"}}}})).To(Succeed())
		p.session.Interrupt()
		Eventually(p.session, "10s").Should(gexec.Exit(0))

		again := p.start()
		Eventually(func() bool { return pingOK(again) }, "20s", "50ms").Should(BeTrue())
		t, err := clientFor(again).TaskByGuid(ctx, "kept-task")
		Expect(err).NotTo(HaveOccurred())
		Expect(t.GetState()).To(Equal(models.Task_Pending))
	})

	It("keeps serving the data across a crash and restart of etcd", func() {
		p := startBBS(map[string]string{"k1": "pass-1"}, "k1")
		Eventually(func() bool { return pingOK(p) }, "20s", "50ms").Should(BeTrue())
		Expect(clientFor(p).DesireLRP(ctx, desired("through-etcd-restart"))).To(Succeed())
		Expect(etcd.Kill()).To(Succeed())
		Expect(etcd.Restart()).To(Succeed())
		Eventually(func() error {
			return clientFor(p).ClaimActualLRP(ctx, "through-etcd-restart", 0, &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c"})
		}, "15s", "100ms").Should(Succeed())
		Expect(clientFor(p).DesireLRP(ctx, desired("after-etcd-restart"))).To(Succeed())
		Eventually(func() ([]*models.ActualLRP, error) {
			return clientFor(p).ActualLRPs(ctx, bbs.ActualLRPFilter{CellID: "c"})
		}, "5s").Should(HaveLen(1))
		Expect(clientFor(p).ActualLRPs(ctx, bbs.ActualLRPFilter{})).To(HaveLen(4))
		Expect(clientFor(p).DesiredLRPs(ctx, bbs.DesiredLRPFilter{})).To(HaveLen(2))
	})

	It("re-encrypts records under the new active key when it starts leading", func() {
		p := startBBS(map[string]string{"old": "old-pass"}, "old")
		Eventually(func() bool { return pingOK(p) }, "20s", "50ms").Should(BeTrue())
		for _, g := range []string{"rotated-guid-1", "rotated-guid-2", "rotated-guid-3"} {
			Expect(clientFor(p).DesireLRP(ctx, desired(g))).To(Succeed())
		}
		p.session.Interrupt()
		Eventually(p.session, "10s").Should(gexec.Exit(0))

		rotated := startBBS(map[string]string{"old": "old-pass", "new": "new-pass"}, "new")
		Eventually(func() bool { return pingOK(rotated) }, "20s", "50ms").Should(BeTrue())

		cli, err := db.NewEtcdClient([]string{etcd.ClientURL()}, 5*time.Second, nil)
		Expect(err).NotTo(HaveOccurred())
		defer cli.Close()
		resp, err := cli.Get(ctx, "/v1/", clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())
		n := 0
		for _, kv := range resp.Kvs {
			Expect(bytes.Contains(kv.Value, []byte("very-secret-token"))).To(BeFalse())
			Expect(bytes.Contains(kv.Value, []byte("secret-cmd"))).To(BeFalse())
			// long enough that random ciphertext cannot hold it by chance (two bytes could)
			Expect(bytes.Contains(kv.Value, []byte("rotated-guid-"))).To(BeFalse())
			if label, ok := db.Label(kv.Value); ok {
				Expect(label).To(Equal("new"), string(kv.Key))
				n++
			}
		}
		Expect(n).To(Equal(3*2 + 3*2))
		ds, err := clientFor(rotated).DesiredLRPs(ctx, bbs.DesiredLRPFilter{})
		Expect(err).NotTo(HaveOccurred())
		Expect(ds).To(HaveLen(3))
	})
})

func ptr[T any](v T) *T { return &v }
