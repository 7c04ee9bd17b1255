package demo_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/inigo/demo/plot"
	"github.com/diego-go/diego/inigo/world"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/models"
)

const (
	cells     = 5
	instances = 300
	// lockTTL is every lock's and cell presence's TTL. The world's 2 s does not survive the
	// demo's load on 2 shared cores: Consul answered a renewal too late and a cell vanished, or
	// the bbs lost its lock, in the middle of the scale.
	lockTTL = 5 * time.Second
	// sampleEvery is how often the chart's values are read.
	sampleEvery = 100 * time.Millisecond
)

// sample is the system as seen at one moment since the scale.
type sample struct {
	at time.Duration
	// running counts RUNNING ORDINARY instances in the bbs; routed the router's endpoints
	// (router_endpoints: the demo's route is the only one).
	running, routed int
	// requests and failed are the load's counts so far (zero before it starts).
	requests, failed int
}

// sampler reads the bbs and the router every sampleEvery until stopped.
type sampler struct {
	start time.Time
	mu    sync.Mutex
	all   []sample
	load  *world.Load
	stop  chan struct{}
	done  chan struct{}
}

func startSampler(processGuid, metrics string) *sampler {
	s := &sampler{start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(s.done)
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			now := time.Now()
			// both read at once: a slow listing of the bbs must not make the router's count later
			routed := make(chan int)
			go func() { routed <- routerEndpoints(metrics) }()
			smp := sample{at: now.Sub(s.start), running: running(processGuid, "")}
			smp.routed = <-routed
			s.mu.Lock()
			if s.load != nil {
				r := s.load.Result()
				smp.requests, smp.failed = r.Requests, r.Failures
			}
			s.all = append(s.all, smp)
			s.mu.Unlock()
			select {
			case <-t.C:
			case <-s.stop:
				return
			}
		}
	}()
	DeferCleanup(s.end)
	return s
}

func (s *sampler) end() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

func (s *sampler) setLoad(l *world.Load) { s.mu.Lock(); s.load = l; s.mu.Unlock() }

func (s *sampler) last() sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.all) == 0 {
		return sample{}
	}
	return s.all[len(s.all)-1]
}

func (s *sampler) samples() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sample(nil), s.all...)
}

// running counts the process's RUNNING ORDINARY instances, leaving out those on cell notOn;
// -1 when the bbs does not answer.
func running(processGuid, notOn string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lrps, err := w.BBS.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: processGuid})
	if err != nil {
		return -1
	}
	n := 0
	for _, a := range lrps {
		if a.GetState() == models.ActualLRPStateRunning && a.GetPresence() == models.ActualLRP_ORDINARY &&
			(notOn == "" || a.GetActualLrpInstanceKey().GetCellId() != notOn) {
			n++
		}
	}
	return n
}

// routerEndpoints is the router's router_endpoints gauge; -1 when it does not answer.
func routerEndpoints(metrics string) int {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + metrics + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "router_endpoints "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return int(f)
			}
		}
	}
	return -1
}

// bridgePorts lists the interfaces on the garden's bridge (its containers' veths).
func bridgePorts(g *gardentest.Garden) []string {
	GinkgoHelper()
	b, err := os.ReadFile(g.ConfigPath)
	Expect(err).NotTo(HaveOccurred())
	var cfg struct {
		Bridge string `json:"bridge_name"`
	}
	Expect(json.Unmarshal(b, &cfg)).To(Succeed())
	Expect(cfg.Bridge).NotTo(BeEmpty(), "%s names the garden's bridge", g.ConfigPath)
	ports, err := os.ReadDir(filepath.Join("/sys/class/net", cfg.Bridge, "brif"))
	Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, p := range ports {
		names = append(names, p.Name())
	}
	return names
}

// loadAverage is /proc/loadavg's first three fields.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

var _ = Describe("the seed's demo", Serial, Label("benchmark"), func() {
	It("scales an LRP from 1 to 300 instances, then loses one of five cells under load", func() {
		report := func(format string, args ...any) {
			line := "demo: " + fmt.Sprintf(format, args...) + "\n"
			AddReportEntry(strings.TrimSpace(line))
			fmt.Fprint(GinkgoWriter, line)
		}
		r := w.Routers[0]
		// the router's table is read from its metrics listener, which the world does not open
		metrics := daemontest.FreeAddr()
		r.Stop()
		r.Config["metrics_address"] = metrics
		// A request fails under the cell loss only when every attempt dials one of the lost
		// cell's dead endpoints (1 s each) before they are unregistered; with a fifth of the
		// instances there, 5 attempts instead of upstream's 3 let more of them reach a live one.
		r.Config["max_attempts"] = 5
		r.Start()

		// the floor: garden alone running as many instances of the app on the same gardens
		var gardens []*gardentest.Garden
		for _, c := range w.Cells {
			gardens = append(gardens, c.Garden)
		}
		report("load average before garden alone: %s", loadAverage())
		alone := gardentest.AppsAlone(gardens, instances, gardentest.HealthcheckDir())
		report("garden alone: %d instances of the test app on the %d gardens created, run and answering in %s (load average %s)",
			instances, cells, seconds(alone), loadAverage())
		// the kernel tears the destroyed containers' network namespaces down after their destroy,
		// under the lock veth pairs are made with: the scale starts once their veths are gone
		for _, g := range gardens {
			Eventually(func() []string { return bridgePorts(g) }, 3*time.Minute, 500*time.Millisecond).Should(BeEmpty(),
				"the veths of garden alone's containers are gone")
		}

		processGuid := w.Guid("demo")
		host := processGuid + ".example.com"
		lrp := world.AppLRP(processGuid, 1, host)
		Expect(w.BBS.DesireLRP(world.Ctx(), lrp)).To(Succeed())
		DeferCleanup(func() {
			_ = w.BBS.RemoveDesiredLRP(context.Background(), processGuid)
			Eventually(func() []*models.ActualLRP { return w.Actuals(processGuid) }, 3*time.Minute, time.Second).Should(BeEmpty(),
				"the demo's instances are gone")
		})
		w.WaitRunning(processGuid, 1, time.Minute)
		r.WaitRoutable(host, 1, 30*time.Second)
		report("load average before the scale: %s", loadAverage())

		s := startSampler(processGuid, metrics)
		var killedAt time.Duration
		// the chart and the timeline are written whatever happens: they are what shows a failure
		DeferCleanup(func() {
			s.end()
			samples := s.samples()
			for i, smp := range samples {
				if i%10 == 0 || i == len(samples)-1 {
					fmt.Fprintf(GinkgoWriter, "demo: t=%6.2f s running %3d routed %3d requests %6d failed %d\n",
						smp.at.Seconds(), smp.running, smp.routed, smp.requests, smp.failed)
				}
			}
			out := os.Getenv("DIEGO_DEMO_SVG")
			if out == "" {
				out = filepath.Join(os.TempDir(), "diego-demo.svg")
			}
			svg, err := chart(samples, killedAt).SVG()
			Expect(err).NotTo(HaveOccurred())
			Expect(os.WriteFile(out, svg, 0o644)).To(Succeed())
			report("chart: %s", out)
		})
		w.Scale(processGuid, instances)
		Eventually(func() bool { l := s.last(); return l.running == instances && l.routed == instances }, 3*time.Minute, sampleEvery).Should(BeTrue(),
			"%d instances RUNNING and in the router's table", instances)
		var allRunning, allRouted time.Duration
		for _, smp := range s.samples() {
			if allRunning == 0 && smp.running == instances {
				allRunning = smp.at
			}
			if allRouted == 0 && smp.routed == instances {
				allRouted = smp.at
			}
		}
		answered := r.Instances(host, instances)
		confirmed := time.Since(s.start)
		Expect(answered).To(HaveLen(instances), "%d distinct instances answer through the router", instances)
		report("1 -> %d: all RUNNING after %s, all in the router's table after %s, %d distinct instances had answered through the router by %s (load average %s)",
			instances, seconds(allRunning), seconds(allRouted), len(answered), seconds(confirmed), loadAverage())

		load := r.StartLoad(host, world.LoadOptions{Concurrency: 4, For: 5 * time.Minute})
		s.setLoad(load)
		time.Sleep(3 * time.Second)
		victim := w.Cells[len(w.Cells)-1]
		lost := w.CellsOf(processGuid)[victim.ID]
		victimID := victim.ID
		killedAt = time.Since(s.start)
		victim.Kill()
		report("killed %s (%d instances) at %s (load average %s)", victimID, lost, seconds(killedAt), loadAverage())
		var backAt time.Duration
		Eventually(func() bool {
			if running(processGuid, victimID) != instances || routerEndpoints(metrics) != instances {
				return false
			}
			backAt = time.Since(s.start)
			return true
		}, 3*time.Minute, sampleEvery).Should(BeTrue(), "%d instances RUNNING on the other cells and only theirs in the router's table", instances)
		// what the load sees once the table is whole again
		time.Sleep(3 * time.Second)
		res := load.Stop()
		s.end()
		report("back to %d RUNNING on %d cells and in the router's table %s after the kill (presence TTL %s); load: %s (load average %s)",
			instances, cells-1, seconds(backAt-killedAt), w.Options.LockTTL, res, loadAverage())

		if b, err := exec.Command("uptime").Output(); err == nil {
			report("uptime: %s", strings.TrimSpace(string(b)))
		}
	})
})

// chart is the demo's plot: RUNNING and routed instances, and failed requests, over the seconds
// since the scale, with the cell's loss marked (killedAt 0: no cell was lost).
func chart(samples []sample, killedAt time.Duration) plot.Chart {
	var run, routed, failed []plot.Point
	for _, smp := range samples {
		x := smp.at.Seconds()
		if smp.running >= 0 {
			run = append(run, plot.Point{X: x, Y: float64(smp.running)})
		}
		if smp.routed >= 0 {
			routed = append(routed, plot.Point{X: x, Y: float64(smp.routed)})
		}
		failed = append(failed, plot.Point{X: x, Y: float64(smp.failed)})
	}
	var marks []plot.Mark
	if killedAt > 0 {
		marks = append(marks, plot.Mark{X: killedAt.Seconds(), Label: "cell killed"})
	}
	return plot.Chart{
		Title:  fmt.Sprintf("1 -> %d instances on %d cells, then one cell lost under load", instances, cells),
		XLabel: "seconds since the scale to 300", YLabel: "instances", RightYLabel: "failed requests (total)",
		Series: []plot.Series{
			{Name: "RUNNING (bbs)", Color: "#1f77b4", Points: run},
			{Name: "routed (router's endpoints)", Color: "#2ca02c", Points: routed},
			{Name: "failed requests", Color: "#d62728", Right: true, Points: failed},
		},
		Marks: marks,
	}
}
