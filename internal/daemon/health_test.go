package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/internal/daemon"
	"github.com/diego-go/diego/internal/daemonconfig"
	"github.com/diego-go/diego/locket"
)

type health struct {
	status int
	body   map[string]any
}

func get(h http.Handler) health {
	GinkgoHelper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	out := health{status: rec.Code}
	Expect(json.Unmarshal(rec.Body.Bytes(), &out.body)).To(Succeed())
	return out
}

var _ = Describe("health", func() {
	var lc *locket.Client
	BeforeEach(func() {
		var err error
		lc, err = locket.NewClient(consul.HTTPAddr())
		Expect(err).NotTo(HaveOccurred())
	})

	lockMember := func(name string) (*daemon.LockState, ifrit.Process) {
		state := &daemon.LockState{}
		m := state.Track(daemon.LockMember(nil, lc, name, daemonconfig.Lock{
			LockTTL: daemonconfig.Duration(2 * time.Second), LockRetryInterval: daemonconfig.Duration(200 * time.Millisecond),
		}, "https://me"))
		return state, ifrit.Background(m.Runner)
	}

	It("is healthy while the lock is held or awaited, and unhealthy, saying why, once it was lost", func() {
		state, proc := lockMember("health-lost")
		h := daemon.HealthHandler(state)
		Eventually(proc.Ready(), "10s").Should(BeClosed())
		Expect(get(h)).To(Equal(health{http.StatusOK, map[string]any{"healthy": true, "leader": true}}))

		req, err := http.NewRequest(http.MethodDelete, consul.URL()+"/v1/kv/"+locket.LockKey("health-lost"), nil)
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Eventually(proc.Wait(), "10s").Should(Receive(HaveOccurred()))
		Expect(get(h)).To(Equal(health{http.StatusServiceUnavailable, map[string]any{"healthy": false, "leader": false, "reason": "lost the lock"}}))
	})

	It("does not call a lock given up on a signal lost", func() {
		state, proc := lockMember("health-released")
		Eventually(proc.Ready(), "10s").Should(BeClosed())
		proc.Signal(os.Interrupt)
		Eventually(proc.Wait(), "10s").Should(Receive(BeNil()))
		Expect(state.Lost()).To(BeFalse())
		Expect(get(daemon.HealthHandler(state)).status).To(Equal(http.StatusOK))
	})

	It("answers 503 naming each check that fails", func() {
		failing := true
		h := daemon.HealthHandler(nil,
			daemon.HealthCheck{Name: "etcd", Check: func(context.Context) error {
				if failing {
					return errors.New("connection refused")
				}
				return nil
			}},
			daemon.HealthCheck{Name: "disk", Check: func(context.Context) error { return nil }})
		Expect(get(h)).To(Equal(health{http.StatusServiceUnavailable, map[string]any{"healthy": false, "reason": "etcd: connection refused"}}))
		failing = false
		Expect(get(h)).To(Equal(health{http.StatusOK, map[string]any{"healthy": true}}))
	})
})

var _ = Describe("ServiceRegistration", func() {
	It("registers the listener's port, leaving an unspecified host to the agent", func() {
		reg, err := daemon.ServiceRegistration("bbs", "0.0.0.0:8889")
		Expect(err).NotTo(HaveOccurred())
		Expect(reg).To(Equal(locket.Registration{Name: "bbs", ID: "bbs-:8889", Port: 8889}))
		reg, err = daemon.ServiceRegistration("bbs", "10.0.0.5:8889")
		Expect(err).NotTo(HaveOccurred())
		Expect(reg).To(Equal(locket.Registration{Name: "bbs", ID: "bbs-10.0.0.5:8889", Address: "10.0.0.5", Port: 8889}))
	})

	It("refuses an address without a port", func() {
		_, err := daemon.ServiceRegistration("bbs", "10.0.0.5")
		Expect(err).To(MatchError(ContainSubstring(`"10.0.0.5"`)))
	})
})
