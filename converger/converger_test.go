package converger_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/converger"
)

// fakeBBS counts passes; each pass blocks until release is sent to (when hold is set) and answers
// the next queued error, nil when none is queued.
type fakeBBS struct {
	mu      sync.Mutex
	calls   int
	errs    []error
	hold    bool
	started chan struct{}
	release chan struct{}
}

func newFakeBBS() *fakeBBS {
	return &fakeBBS{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (f *fakeBBS) Converge(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	hold := f.hold
	var err error
	if len(f.errs) > 0 {
		err, f.errs = f.errs[0], f.errs[1:]
	}
	f.mu.Unlock()
	f.started <- struct{}{}
	if hold {
		select {
		case <-f.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (f *fakeBBS) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

var _ = Describe("Runner", func() {
	var (
		bbs     *fakeBBS
		reg     *prometheus.Registry
		metrics *converger.Metrics
		logs    *gbytes.Buffer
		logger  *slog.Logger
	)
	BeforeEach(func() {
		bbs = newFakeBBS()
		reg = prometheus.NewRegistry()
		metrics = converger.NewMetrics(reg)
		logs = gbytes.NewBuffer()
		logger = slog.New(slog.NewJSONHandler(logs, nil))
	})
	start := func(r *converger.Runner) ifrit.Process {
		p := ifrit.Invoke(r)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait()).Should(Receive(BeNil()))
		})
		return p
	}
	counter := func(name string) float64 {
		GinkgoHelper()
		families, err := reg.Gather()
		Expect(err).NotTo(HaveOccurred())
		for _, f := range families {
			if f.GetName() == name {
				m := f.GetMetric()[0]
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
		Fail("no metric " + name)
		return 0
	}

	It("converges at once when it starts (the lock was just won), then only when asked within a long interval", func() {
		start(converger.New(logger, bbs, time.Hour, metrics))
		Eventually(bbs.started).Should(Receive())
		Consistently(bbs.Calls, 200*time.Millisecond).Should(Equal(1))
		Expect(counter("converger_passes_total")).To(Equal(1.0))
		Expect(counter("converger_failures_total")).To(Equal(0.0))
		Expect(string(logs.Contents())).To(ContainSubstring(`"msg":"convergence pass done","reason":"lock won"`))
	})

	It("converges every interval", func() {
		start(converger.New(logger, bbs, 50*time.Millisecond, metrics))
		Eventually(bbs.Calls, 2*time.Second).Should(BeNumerically(">=", 4))
		Expect(string(logs.Contents())).To(ContainSubstring(`"reason":"interval"`))
	})

	It("converges at once on Trigger, and triggers during a pass coalesce into one more pass", func() {
		r := converger.New(logger, bbs, time.Hour, metrics)
		start(r)
		Eventually(bbs.started).Should(Receive())
		Eventually(bbs.Calls).Should(Equal(1))

		r.Trigger()
		Eventually(bbs.started, time.Second).Should(Receive())
		Expect(bbs.Calls()).To(Equal(2))

		bbs.mu.Lock()
		bbs.hold = true
		bbs.mu.Unlock()
		r.Trigger()
		Eventually(bbs.started, time.Second).Should(Receive())
		r.Trigger()
		r.Trigger()
		r.Trigger()
		bbs.release <- struct{}{}
		Eventually(bbs.started, time.Second).Should(Receive())
		bbs.release <- struct{}{}
		Consistently(bbs.Calls, 200*time.Millisecond).Should(Equal(4))
		Expect(string(logs.Contents())).To(ContainSubstring(`"reason":"cell vanished"`))
	})

	It("logs and counts a failed pass, and asks again at the next trigger", func() {
		bbs.errs = []error{errors.New("bbs unreachable")}
		r := converger.New(logger, bbs, time.Hour, metrics)
		start(r)
		Eventually(bbs.started).Should(Receive())
		Eventually(func() float64 { return counter("converger_failures_total") }).Should(Equal(1.0))
		Eventually(logs).Should(gbytes.Say(`"msg":"convergence pass failed".*"error":"bbs unreachable"`))
		Consistently(bbs.Calls, 200*time.Millisecond).Should(Equal(1), "no retry in a loop")

		r.Trigger()
		Eventually(bbs.started, time.Second).Should(Receive())
		Eventually(func() float64 { return counter("converger_passes_total") }).Should(Equal(2.0))
		Expect(counter("converger_failures_total")).To(Equal(1.0))
	})

	It("records the duration of the last pass", func() {
		bbs.hold = true
		start(converger.New(logger, bbs, time.Hour, metrics))
		Eventually(bbs.started).Should(Receive())
		time.Sleep(100 * time.Millisecond)
		bbs.release <- struct{}{}
		Eventually(func() float64 { return counter("converger_last_pass_duration_seconds") }).Should(BeNumerically(">=", 0.1))
	})

	It("stops on a signal, cancelling the pass in flight, which counts as neither pass nor failure", func() {
		bbs.hold = true
		p := ifrit.Invoke(converger.New(logger, bbs, time.Hour, metrics))
		Eventually(bbs.started).Should(Receive())
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), time.Second).Should(Receive(BeNil()))
		Expect(counter("converger_passes_total")).To(Equal(0.0))
		Expect(counter("converger_failures_total")).To(Equal(0.0))
	})
})
