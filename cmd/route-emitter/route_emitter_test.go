package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/router"
)

const (
	register   = router.RegisterSubject
	unregister = router.UnregisterSubject
)

var _ = Describe("the route-emitter daemon", func() {
	ctx := context.Background()

	It("refuses a bad config with every problem named, exit 2", func() {
		s := daemontest.Start(emitterPath, "-config", daemontest.WriteConfig(map[string]any{
			"health_address": "0.0.0.0:1", "bbs_url": "bbs:8889", "sync_interval": "0s",
		}))
		Eventually(s, 10*time.Second).Should(gexec.Exit(2))
		Expect(string(s.Err.Contents())).To(And(
			ContainSubstring("route-emitter: config"), ContainSubstring("nats_urls is required"),
			ContainSubstring("consul_address is required"), ContainSubstring("loopback"),
			ContainSubstring("bbs_url"), ContainSubstring("sync_interval 0s: must be positive")))
	})

	It("registers a RUNNING instance with upstream's message and renews it at the interval the router asked for", func() {
		spy := newRouterSpy(1)
		e := startEmitter(nil)
		e.synced()
		Eventually(func() int { spy.mu.Lock(); defer spy.mu.Unlock(); return spy.greets }).Should(BeNumerically(">=", 1))

		t0 := time.Now()
		desire("reg", "reg.example.com", 1)
		start("reg", 0, nil)
		Eventually(func() []heard { return spy.messages(register, "reg.example.com", t0) }, 5*time.Second).ShouldNot(BeEmpty())
		actual, err := bbsClient.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "reg"})
		Expect(err).NotTo(HaveOccurred())
		Expect(actual).To(HaveLen(1))
		Expect(spy.messages(register, "reg.example.com", t0)[0].raw).To(MatchJSON(fmt.Sprintf(`{
			"host": "127.0.0.1", "port": 61000, "uris": ["reg.example.com"], "app": "log-reg",
			"private_instance_id": "reg-0", "private_instance_index": "0", "server_cert_domain_san": "reg-0",
			"availability_zone": "z1", "endpoint_updated_at_ns": %d,
			"tags": {"component": "route-emitter", "source_id": "app-reg"}
		}`, actual[0].GetSince())))

		By("renewed every second, the interval the router answered the greeting with")
		t1 := time.Now()
		Eventually(func() []heard { return spy.messages(register, "reg.example.com", t1) }, 5*time.Second).Should(HaveLen(3))
		renewals := spy.messages(register, "reg.example.com", t1)
		for i, h := range renewals {
			Expect(h.msg.EndpointUpdatedAtNs).To(BeZero(), "a renewal is not the endpoint's first registration")
			if i > 0 {
				Expect(h.at.Sub(renewals[i-1].at)).To(BeNumerically("~", time.Second, 500*time.Millisecond))
			}
		}

		By("health and metrics")
		Expect(e.healthz()).To(Equal(daemontest.Health{Healthy: true, Leader: true}))
		Expect(e.metric("route_emitter_routes")).To(Equal(1.0))
		Expect(e.metric("route_emitter_routes_registered_total")).To(BeNumerically(">=", 4))
		Expect(e.metric("route_emitter_sync_duration_seconds_count")).To(BeNumerically(">=", 1))
	})

	It("unregisters an instance when it is scaled away, crashes, is removed or marked unroutable, and when its LRP goes", func() {
		spy := newRouterSpy(60)
		e := startEmitter(nil)
		e.synced()
		routesBefore := e.metric("route_emitter_routes")
		t0 := time.Now()
		desire("un", "un.example.com", 5)
		for i := range int32(5) {
			start("un", i, nil)
		}
		Eventually(func() []string { return instances(spy.messages(register, "un.example.com", t0)) }, 5*time.Second).
			Should(ConsistOf("0", "1", "2", "3", "4"))

		step := func(what string, do func(), index string) {
			GinkgoHelper()
			By(what)
			t := time.Now()
			do()
			Eventually(func() []string { return instances(spy.messages(unregister, "un.example.com", t)) }, 5*time.Second).
				Should(Equal([]string{index}))
			Consistently(func() []string { return instances(spy.messages(unregister, "un.example.com", t)) }, 300*time.Millisecond).
				Should(Equal([]string{index}))
		}
		step("scale 5 -> 4", func() {
			Expect(bbsClient.UpdateDesiredLRP(ctx, "un", &models.DesiredLRPUpdate{Instances: ptr(int32(4))})).To(Succeed())
		}, "4")
		step("index 3 crashes", func() {
			Expect(bbsClient.CrashActualLRP(ctx, lrpKey("un", 3), instanceKey("un", 3), "boom")).To(Succeed())
		}, "3")
		step("index 2's record is removed", func() {
			Expect(bbsClient.RemoveActualLRP(ctx, "un", 2, instanceKey("un", 2))).To(Succeed())
		}, "2")
		step("index 1 is marked unroutable", func() {
			Expect(bbsClient.StartActualLRP(ctx, &models.StartActualLRPRequest{
				ActualLrpKey: lrpKey("un", 1), ActualLrpInstanceKey: instanceKey("un", 1), ActualLrpNetInfo: netInfo(61001),
				Routable: ptr(false), AvailabilityZone: "z1",
			})).To(Succeed())
		}, "1")
		step("the LRP is removed", func() {
			Expect(bbsClient.RemoveDesiredLRP(ctx, "un")).To(Succeed())
		}, "0")
		Eventually(func() float64 { return e.metric("route_emitter_routes") }).Should(Equal(routesBefore))
	})

	It("logs a desired LRP whose cf-router routes do not decode, and routes nothing for it", func() {
		spy := newRouterSpy(60)
		e := startEmitter(nil)
		e.synced()
		t0 := time.Now()
		desireRoutes("bad", `[{"hostnames":["bad.example.com"],"port":"8080"}]`, 1)
		start("bad", 0, nil)
		Eventually(e.session.Err, 5*time.Second).Should(gbytes.Say(`desired LRP's routes route nothing.*"process_guid":"bad"`))
		Consistently(func() []heard { return spy.messages(register, "bad.example.com", t0) }, time.Second).Should(BeEmpty())
	})

	It("routes an instance started unroutable once it is marked routable", func() {
		spy := newRouterSpy(60)
		startEmitter(nil).synced()
		t0 := time.Now()
		desire("late", "late.example.com", 1)
		start("late", 0, ptr(false))
		Consistently(func() []heard { return spy.messages(register, "late.example.com", t0) }, time.Second).Should(BeEmpty())
		Expect(bbsClient.StartActualLRP(ctx, &models.StartActualLRPRequest{
			ActualLrpKey: lrpKey("late", 0), ActualLrpInstanceKey: instanceKey("late", 0), ActualLrpNetInfo: netInfo(61000),
			Routable: ptr(true),
		})).To(Succeed())
		Eventually(func() []string { return instances(spy.messages(register, "late.example.com", t0)) }, 5*time.Second).Should(Equal([]string{"0"}))
	})

	It("keeps an evacuating instance registered until its evacuating record goes, after its replacement is registered", func() {
		spy := newRouterSpy(60)
		startEmitter(nil).synced()
		t0 := time.Now()
		desire("ev", "ev.example.com", 1)
		start("ev", 0, nil)
		Eventually(func() []heard { return spy.messages(register, "ev.example.com", t0) }, 5*time.Second).ShouldNot(BeEmpty())

		t1 := time.Now()
		keep, err := bbsClient.EvacuateRunningActualLRP(ctx, &models.EvacuateRunningActualLRPRequest{
			ActualLrpKey: lrpKey("ev", 0), ActualLrpInstanceKey: instanceKey("ev", 0), ActualLrpNetInfo: netInfo(61000),
			AvailabilityZone: "z1",
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(keep).To(BeTrue())
		Consistently(func() []heard { return spy.messages(unregister, "ev.example.com", t1) }, time.Second).Should(BeEmpty())

		By("the replacement runs: registered, while the evacuating instance stays")
		replacement := &models.ActualLRPInstanceKey{InstanceGuid: "ev-replacement", CellId: cellID}
		startAs(replacement, lrpKey("ev", 0), 62000, nil)
		Eventually(func() []heard { return spy.messages(register, "ev.example.com", t1) }, 5*time.Second).Should(HaveLen(1))
		regs := spy.messages(register, "ev.example.com", t1)
		Expect(regs[0].msg.PrivateInstanceID).To(Equal("ev-replacement"))
		Expect(regs[0].msg.Port).To(BeEquivalentTo(62000))
		Consistently(func() []heard { return spy.messages(unregister, "ev.example.com", t1) }, 500*time.Millisecond).Should(BeEmpty())

		By("the evacuating cell asks again and is told to stop: its record goes, and only then its route")
		keep, err = bbsClient.EvacuateRunningActualLRP(ctx, &models.EvacuateRunningActualLRPRequest{
			ActualLrpKey: lrpKey("ev", 0), ActualLrpInstanceKey: instanceKey("ev", 0), ActualLrpNetInfo: netInfo(61000),
			AvailabilityZone: "z1",
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(keep).To(BeFalse())
		Eventually(func() []heard { return spy.messages(unregister, "ev.example.com", t1) }, 5*time.Second).Should(HaveLen(1))
		Expect(spy.messages(unregister, "ev.example.com", t1)[0].msg.PrivateInstanceID).To(Equal("ev-0"))
	})

	It("registers everything again soon after a router.start", func() {
		spy := newRouterSpy(60)
		startEmitter(nil).synced()
		t0 := time.Now()
		desire("st", "st.example.com", 2)
		start("st", 0, nil)
		start("st", 1, nil)
		Eventually(func() []string { return instances(spy.messages(register, "st.example.com", t0)) }, 5*time.Second).Should(ConsistOf("0", "1"))

		t1 := time.Now()
		b, _ := json.Marshal(router.RouterStart{ID: "another", MinimumRegisterIntervalInSeconds: 60, PruneThresholdInSeconds: 120})
		Expect(spy.conn.Publish(router.StartSubject, b)).To(Succeed())
		Eventually(func() []string { return instances(spy.messages(register, "st.example.com", t1)) }, 3*time.Second).Should(ConsistOf("0", "1"))
	})

	It("registers the whole table at once when started again after kill -9", func() {
		spy := newRouterSpy(60)
		e := startEmitter(nil)
		e.synced()
		t0 := time.Now()
		desire("rs", "rs.example.com", 2)
		start("rs", 0, nil)
		start("rs", 1, nil)
		Eventually(func() []string { return instances(spy.messages(register, "rs.example.com", t0)) }, 5*time.Second).Should(ConsistOf("0", "1"))

		e.session.Kill()
		Eventually(e.session).Should(gexec.Exit())
		t1 := time.Now()
		startEmitter(nil)
		// the dead holder's lock lasts until its TTL runs out
		Eventually(func() []string { return instances(spy.messages(register, "rs.example.com", t1)) }, lockTTL+5*time.Second).Should(ConsistOf("0", "1"))
	})

	It("runs only on the lock holder: a standby publishes nothing until the holder dies, then takes over", func() {
		spy := newRouterSpy(1)
		holder := startEmitter(nil)
		holder.synced()
		standby := startEmitter(nil)
		Eventually(standby.healthz, 10*time.Second).Should(Equal(daemontest.Health{Healthy: true, Leader: false}))
		Expect(holder.healthz()).To(Equal(daemontest.Health{Healthy: true, Leader: true}))

		t0 := time.Now()
		desire("sb", "sb.example.com", 1)
		start("sb", 0, nil)
		Eventually(func() []heard { return spy.messages(register, "sb.example.com", t0) }, 5*time.Second).Should(HaveLen(2))
		Expect(standby.metric("route_emitter_routes_registered_total")).To(BeZero())

		holder.session.Kill()
		Eventually(holder.session).Should(gexec.Exit())
		Eventually(standby.healthz, lockTTL+5*time.Second).Should(Equal(daemontest.Health{Healthy: true, Leader: true}))
		Eventually(func() float64 { return standby.metric("route_emitter_routes_registered_total") }, 5*time.Second).Should(BeNumerically(">=", 1))
		t1 := time.Now()
		Eventually(func() []heard { return spy.messages(register, "sb.example.com", t1) }, 5*time.Second).Should(HaveLen(2))
	})

	It("reports NATS gone in its health check and resumes registering once NATS is back", func() {
		spy := newRouterSpy(1)
		e := startEmitter(nil)
		e.synced()
		t0 := time.Now()
		desire("nr", "nr.example.com", 1)
		start("nr", 0, nil)
		Eventually(func() []heard { return spy.messages(register, "nr.example.com", t0) }, 5*time.Second).ShouldNot(BeEmpty())

		Expect(natsServer.Kill()).To(Succeed())
		Eventually(func() string { h, _ := e.healthz(); return h.Reason }, 5*time.Second).Should(ContainSubstring("nats: not connected"))
		Expect(natsServer.Restart()).To(Succeed())
		t1 := time.Now()
		Eventually(func() []heard { return spy.messages(register, "nr.example.com", t1) }, 10*time.Second).Should(HaveLen(2))
		Expect(e.healthz()).To(Equal(daemontest.Health{Healthy: true, Leader: true}))
	})
	It("renews at the smallest interval the routers ask for", func() {
		spy := newRouterSpy(5)
		newRouterSpy(1)
		startEmitter(nil).synced()
		t0 := time.Now()
		desire("iv", "iv.example.com", 1)
		start("iv", 0, nil)
		Eventually(func() []heard { return spy.messages(register, "iv.example.com", t0) }, 5*time.Second).ShouldNot(BeEmpty())

		By("a router starting with a longer interval changes nothing")
		b, _ := json.Marshal(router.RouterStart{ID: "slow", MinimumRegisterIntervalInSeconds: 3})
		Expect(spy.conn.Publish(router.StartSubject, b)).To(Succeed())
		time.Sleep(1500 * time.Millisecond)
		t1 := time.Now()
		Eventually(func() []heard { return spy.messages(register, "iv.example.com", t1) }, 5*time.Second).Should(HaveLen(3))
		renewals := spy.messages(register, "iv.example.com", t1)
		for i := 1; i < len(renewals); i++ {
			Expect(renewals[i].at.Sub(renewals[i-1].at)).To(BeNumerically("~", time.Second, 500*time.Millisecond))
		}
	})

	It("syncs again after the BBS's event stream broke: a change it missed is registered, nothing is lost", func() {
		spy := newRouterSpy(60)
		// a lock that outlasts the pause below
		e := startEmitter(map[string]any{"lock_ttl": "30s"})
		e.synced()
		t0 := time.Now()
		desire("br", "br.example.com", 2)
		start("br", 0, nil)
		Eventually(func() []string { return instances(spy.messages(register, "br.example.com", t0)) }, 5*time.Second).Should(Equal([]string{"0"}))

		By("while the emitter is paused, the BBS is killed and started again, and instance 1 starts: no stream carries its event")
		Expect(e.session.Command.Process.Signal(syscall.SIGSTOP)).To(Succeed())
		resumed := false
		DeferCleanup(func() {
			if !resumed {
				_ = e.session.Command.Process.Signal(syscall.SIGCONT)
			}
		})
		bbsSession.Kill()
		Eventually(bbsSession).Should(gexec.Exit())
		bbsSession = startBBS()
		Eventually(func() bool { return bbsClient.Ping(ctx) }, 20*time.Second, 100*time.Millisecond).Should(BeTrue())
		tChange := time.Now()
		start("br", 1, nil)
		Expect(e.session.Command.Process.Signal(syscall.SIGCONT)).To(Succeed())
		resumed = true

		By("the emitter finds its stream broken, reopens it and syncs: instance 1 is registered, instance 0 kept")
		Eventually(e.session.Err, 15*time.Second).Should(gbytes.Say("the BBS's event stream broke and was reopened; syncing"))
		Eventually(func() []string { return instances(spy.messages(register, "br.example.com", tChange)) }, 10*time.Second).Should(Equal([]string{"1"}))
		Expect(e.metric(`route_emitter_syncs_total{result="ok"}`)).To(BeNumerically(">=", 2))
		Expect(spy.messages(unregister, "br.example.com", t0)).To(BeEmpty())
	})
	It("feeds the project's router: one started after the routes were registered learns them through router.start and proxies to the instance", func() {
		// the instance: a server on the host port its net info names
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", r.Header.Get("X-CF-ApplicationID"), r.Header.Get("X-CF-InstanceID"))
		})}
		go func() { _ = backend.Serve(ln) }()
		DeferCleanup(backend.Close)

		spy := newRouterSpy(60)
		startEmitter(nil).synced()
		t0 := time.Now()
		desire("rt", "rt.example.com", 1)
		startAs(instanceKey("rt", 0), lrpKey("rt", 0), uint32(ln.Addr().(*net.TCPAddr).Port), nil)
		Eventually(func() []heard { return spy.messages(register, "rt.example.com", t0) }, 5*time.Second).ShouldNot(BeEmpty())

		By("a router starts: it announces itself and the emitter registers everything again")
		listen, health := daemontest.FreeAddr(), daemontest.FreeAddr()
		daemontest.Start(routerPath, "-config", daemontest.WriteConfig(map[string]any{
			"listen_address": listen, "health_address": health, "nats_urls": []string{natsServer.URL()},
		}))
		Eventually(func() int { return daemontest.Status(health, "/health") }, 20*time.Second, 50*time.Millisecond).Should(Equal(http.StatusOK))
		ready := time.Now()
		get := func() (string, error) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+listen+"/", nil)
			req.Host = "rt.example.com"
			resp, err := (&http.Client{Timeout: time.Second}).Do(req)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return string(b), err
		}
		Eventually(get, 5*time.Second, 20*time.Millisecond).Should(Equal("log-rt rt-0"))
		GinkgoWriter.Printf("the router answered for the route %s after it was ready\n", time.Since(ready))
		Expect(time.Since(ready)).To(BeNumerically("<", 3*time.Second), "router.start's pause is at most a second, the register interval 20 s")
	})
	It("fails over to its other NATS server when the one it publishes through dies", func() {
		// two servers that do not know each other: a message reaches only the spy on the server
		// the emitter is connected to
		var servers [2]*testservers.NATS
		var spies [2]*routerSpy
		for i := range servers {
			n, err := testservers.StartNATS(GinkgoT().TempDir())
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { _ = n.Stop() })
			servers[i], spies[i] = n, newRouterSpyOn(n.URL(), 60)
		}
		startEmitter(map[string]any{"nats_urls": []string{servers[0].URL(), servers[1].URL()}}).synced()
		t0 := time.Now()
		desire("fo", "fo.example.com", 1)
		start("fo", 0, nil)
		used := -1
		Eventually(func() int {
			for i, spy := range spies {
				if len(spy.messages(register, "fo.example.com", t0)) > 0 {
					used = i
				}
			}
			return used
		}, 5*time.Second).ShouldNot(Equal(-1))

		By("the server the emitter publishes through is killed: a route desired afterwards goes through the other")
		Expect(servers[used].Kill()).To(Succeed())
		t1 := time.Now()
		desire("fo2", "fo2.example.com", 1)
		start("fo2", 0, nil)
		Eventually(func() []heard { return spies[1-used].messages(register, "fo2.example.com", t1) }, 10*time.Second).ShouldNot(BeEmpty())
	})
})
