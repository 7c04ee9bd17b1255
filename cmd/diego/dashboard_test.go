package main_test

import (
	"encoding/json"
	"net"
	"net/http"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/dashboard"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/reptest"
)

var _ = Describe("diego dashboard", func() {
	It("serves the live view of its BBS and its reps' states on --listen until interrupted", func() {
		desire(desiredLRP("dash-a", "dash-domain", 2))
		r := reptest.New("dash-cell", reptest.Options{Total: models.Resources{MemoryMB: 2048, DiskMB: 4096, Containers: 12}})
		DeferCleanup(r.Close)
		reptest.RegisterPresence(logger, consulClient, "dash-cell", r.URL(), lockTTL, lockRetry)
		addr := daemontest.FreeAddr()
		s := start(nil, append(bbsFlags(), "dashboard", "--listen", addr)...)
		Eventually(s.Out, 10*time.Second).Should(gbytes.Say(`diego dashboard: http://` + addr + `/ \(BBS ` + bbsURL + `\)`))

		resp, err := http.Get("http://" + addr + "/api/state")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		v := dashboard.View{}
		Expect(json.NewDecoder(resp.Body).Decode(&v)).To(Succeed())
		Expect(v.DesiredLRPs).To(ContainElement(HaveField("ProcessGuid", "dash-a")))
		Expect(v.Cells).To(ContainElement(And(HaveField("CellID", "dash-cell"),
			HaveField("Rep", &dashboard.RepState{Available: dashboard.Resources{MemoryMB: 2048, DiskMB: 4096, Containers: 12}}))))

		s.Signal(syscall.SIGINT)
		Eventually(s, 5*time.Second).Should(gexec.Exit(0))
		Expect(daemontest.Listening(addr)).To(BeFalse())
	})

	It("says it cannot reach the BBS, and names an address it cannot listen on", func() {
		unreachable := "https://" + daemontest.FreeAddr()
		args := []string{"--bbs-url", unreachable, "--bbs-ca-cert-file", certs.CACert, "--bbs-cert-file", certs.ClientCert, "--bbs-key-file", certs.ClientKey, "dashboard"}
		Expect(fails(nil, args...)).To(Equal("diego: cannot reach the BBS at " + unreachable + "\n"))

		taken, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		defer taken.Close()
		Expect(fails(nil, append(bbsFlags(), "dashboard", "--listen", taken.Addr().String())...)).To(HavePrefix("diego: cannot listen on " + taken.Addr().String() + ": "))
	})

	It("names a bad --listen before it looks for the BBS", func() {
		unreachable := "https://" + daemontest.FreeAddr()
		Expect(fails(nil, "--bbs-url", unreachable, "dashboard", "--listen", "bad")).To(HavePrefix("diego: cannot listen on bad: "), "no BBS settings")
		args := []string{"--bbs-url", unreachable, "--bbs-ca-cert-file", certs.CACert, "--bbs-cert-file", certs.ClientCert, "--bbs-key-file", certs.ClientKey}
		Expect(fails(nil, append(args, "dashboard", "--listen", "bad")...)).To(HavePrefix("diego: cannot listen on bad: "), "a BBS that does not answer")
	})
})
