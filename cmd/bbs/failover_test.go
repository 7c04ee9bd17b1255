package main_test

import (
	"context"
	"log/slog"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/models"
)

var _ = Describe("a client of two BBSes", func() {
	ctx := context.Background()
	BeforeEach(clearEtcd)

	It("rides out the leader's death: reads retried, changes sent to the new leader, the event stream reconnected and saying so", func() {
		keys := map[string]string{"k1": "pass-1"}
		leader := startBBS(keys, "k1")
		Eventually(func() bool { return pingOK(leader) }, "20s", "50ms").Should(BeTrue())
		standby := startBBS(keys, "k1")
		Eventually(func() bool { return daemontest.Listening(standby.health) }, "10s", "50ms").Should(BeTrue())

		logs := gbytes.NewBuffer()
		// rounds enough to outlast a failover (lock TTL + retry interval)
		c := bbs.NewClient("https://"+standby.api, clientTLS(), bbs.WithURLs("https://"+leader.api),
			bbs.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), bbs.WithRetry(40, 100*time.Millisecond))

		By("the standby refuses connections, so the client talks to the leader")
		Expect(c.DesireLRP(ctx, desired("before-failover"))).To(Succeed())
		stream, err := c.SubscribeToLRPInstanceEvents(ctx, "")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(stream.Close)

		By("kill -9 the leader: one read, which the client retries until the standby leads")
		Expect(leader.session.Command.Process.Signal(syscall.SIGKILL)).To(Succeed())
		Eventually(leader.session).Should(gexec.Exit())
		killed := time.Now()
		ds, err := c.DesiredLRPs(ctx, bbs.DesiredLRPFilter{})
		AddReportEntry("read across the failover", time.Since(killed).String())
		Expect(err).NotTo(HaveOccurred())
		Expect(ds).To(HaveLen(1))
		Expect(pingOK(standby)).To(BeTrue())

		By("the event stream reopens on the new leader and says so once")
		next := make(chan error, 1)
		go func() { _, err := stream.Next(); next <- err }()
		Eventually(next, "10s").Should(Receive(MatchError(bbs.ErrReconnected)))
		Expect(string(logs.Contents())).To(ContainSubstring("event stream reconnected"))

		By("changes go to the new leader, and its events reach the stream")
		Expect(c.DesireLRP(ctx, desired("after-failover"))).To(Succeed())
		e, err := stream.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.EventType()).To(Equal(models.EventTypeDesiredLRPCreated))
		Expect(e.Key()).To(Equal("after-failover"))
	})
})
