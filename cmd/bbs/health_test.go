package main_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/internal/daemontest"
)

// healthOf is the status and body of a BBS's health endpoint.
func healthOf(p *bbsProc) (int, map[string]any) {
	resp, err := http.Get("http://" + p.health + "/")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, body
}

// bbsServicePorts lists the ports of the passing instances of the Consul service "bbs".
func bbsServicePorts() []string {
	resp, err := http.Get(consul.URL() + "/v1/health/service/bbs?passing=true")
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var entries []struct {
		Service struct{ Port int }
	}
	Expect(json.NewDecoder(resp.Body).Decode(&entries)).To(Succeed())
	var ports []string
	for _, e := range entries {
		ports = append(ports, strconv.Itoa(e.Service.Port))
	}
	return ports
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	Expect(err).NotTo(HaveOccurred())
	return port
}

var _ = Describe("the bbs daemon in Consul and its health", func() {
	BeforeEach(clearEtcd)

	It("registers itself as the Consul service bbs while it holds the lock, and only then", func() {
		keys := map[string]string{"k1": "pass-1"}
		leader := startBBS(keys, "k1")
		Eventually(func() bool { return pingOK(leader) }, "20s", "50ms").Should(BeTrue())
		standby := startBBS(keys, "k1")
		Eventually(func() bool { return daemontest.Listening(standby.health) }, "10s", "50ms").Should(BeTrue())

		Eventually(bbsServicePorts, "10s").Should(Equal([]string{portOf(leader.api)}))
		Consistently(bbsServicePorts, "1s").Should(Equal([]string{portOf(leader.api)}))
		_, body := healthOf(standby)
		Expect(body).To(Equal(map[string]any{"healthy": true, "leader": false}))

		leader.session.Interrupt()
		Eventually(leader.session, "10s").Should(gexec.Exit(0))
		Eventually(bbsServicePorts, "10s").Should(Equal([]string{portOf(standby.api)}))
		standby.session.Interrupt()
		Eventually(standby.session, "10s").Should(gexec.Exit(0))
		Eventually(bbsServicePorts, "10s").Should(BeEmpty())
	})

	It("reports unhealthy, with the reason, while it cannot reach etcd", func() {
		p := startBBS(map[string]string{"k1": "pass-1"}, "k1")
		Eventually(func() bool { return pingOK(p) }, "20s", "50ms").Should(BeTrue())
		status, body := healthOf(p)
		Expect(status).To(Equal(http.StatusOK))
		Expect(body).To(Equal(map[string]any{"healthy": true, "leader": true}))

		Expect(etcd.Kill()).To(Succeed())
		restarted := false
		DeferCleanup(func() {
			if !restarted {
				_ = etcd.Restart()
			}
		})
		Eventually(func() int { s, _ := healthOf(p); return s }, "10s").Should(Equal(http.StatusServiceUnavailable))
		_, body = healthOf(p)
		Expect(body["healthy"]).To(BeFalse())
		Expect(body["reason"]).To(HavePrefix("etcd: "))

		Expect(etcd.Restart()).To(Succeed())
		restarted = true
		Eventually(func() int { s, _ := healthOf(p); return s }, "15s").Should(Equal(http.StatusOK))
	})
})
