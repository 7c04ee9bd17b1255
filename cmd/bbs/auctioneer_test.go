package main_test

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/auctioneer/auctioneertest"
	"github.com/diego-go/diego/internal/daemon"
	"github.com/diego-go/diego/locket"
)

var _ = Describe("the bbs daemon finding the auctioneer", func() {
	BeforeEach(clearEtcd)

	It("asks the auctioneer registered in Consul under auctioneer_service_name, not a fixed auctioneer_url that went away", func() {
		gone := httptest.NewServer(nil)
		gone.Close()
		leader := auctioneertest.New()
		DeferCleanup(leader.Close)

		// as the auctioneer holding its lock registers itself
		lc, err := locket.NewClient(consul.HTTPAddr())
		Expect(err).NotTo(HaveOccurred())
		reg, err := daemon.ServiceRegistration("auctioneer-spec", strings.TrimPrefix(leader.URL(), "http://"))
		Expect(err).NotTo(HaveOccurred())
		proc := ifrit.Invoke(locket.NewServiceRegistration(nil, lc, reg, 2*time.Second))
		DeferCleanup(func() { proc.Signal(os.Interrupt); <-proc.Wait() })

		p := writeConfig(map[string]string{"k1": "pass-1"}, "k1", map[string]any{
			"auctioneer_url": gone.URL, "auctioneer_service_name": "auctioneer-spec",
		}).start()
		DeferCleanup(func() { p.session.Interrupt().Wait("10s") })
		Eventually(func() bool { return pingOK(p) }, "20s", "50ms").Should(BeTrue())

		Expect(clientFor(p).DesireLRP(context.Background(), desired("placed-by-the-leader"))).To(Succeed())
		Eventually(leader.LRPs, "5s", "20ms").Should(ContainElement(HaveField("ProcessGUID", "placed-by-the-leader")))
	})
})
