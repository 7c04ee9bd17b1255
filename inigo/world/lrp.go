package world

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/routeemitter/cfroutes"
)

// AppPort is the port the test app listens on in its container.
const AppPort = 8080

// AppLRP is a desired LRP of the test app (internal/testapp) on port AppPort, checked there over
// HTTP the way Cloud Controller desires a web process, with a cf-router route for each hostname.
func AppLRP(processGuid string, instances int32, hostnames ...string) *models.DesiredLRP {
	GinkgoHelper()
	lrp := &models.DesiredLRP{
		ProcessGuid: processGuid,
		Domain:      Domain,
		LogGuid:     processGuid,
		RootFs:      gardentest.RootFS,
		Instances:   instances,
		MemoryMb:    32,
		DiskMb:      32,
		Ports:       []uint32{AppPort},
		Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{
			Path: gardentest.TestAppPath(), User: "vcap",
			Env: []*models.EnvironmentVariable{{Name: "PORT", Value: fmt.Sprint(AppPort)}},
		}}},
		CheckDefinition: &models.CheckDefinition{Checks: []*models.Check{
			{Value: &models.Check_HttpCheck{HttpCheck: &models.HTTPCheck{Port: AppPort, Path: "/"}}},
		}},
		StartTimeoutMs: 60000,
	}
	if len(hostnames) > 0 {
		lrp.Routes = cfroutes.Encode([]cfroutes.Route{{Hostnames: hostnames, Port: AppPort}})
	}
	return lrp
}

// Ctx is a context for one call to the bbs, ended with the spec.
func Ctx() context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	DeferCleanup(cancel)
	return c
}

// Desire desires lrp and, when the spec ends, removes it and waits until its instances are gone.
func (w *World) Desire(lrp *models.DesiredLRP) {
	GinkgoHelper()
	Expect(w.BBS.DesireLRP(Ctx(), lrp)).To(Succeed())
	DeferCleanup(func() {
		_ = w.BBS.RemoveDesiredLRP(context.Background(), lrp.ProcessGuid)
		Eventually(func() []*models.ActualLRP { return w.Actuals(lrp.ProcessGuid) }, 60*time.Second, 200*time.Millisecond).Should(BeEmpty(),
			"%s's instances are gone", lrp.ProcessGuid)
	})
}

// Scale sets the desired LRP's instances.
func (w *World) Scale(processGuid string, instances int32) {
	GinkgoHelper()
	Expect(w.BBS.UpdateDesiredLRP(Ctx(), processGuid, &models.DesiredLRPUpdate{Instances: &instances})).To(Succeed())
}

// Actuals are the process's instance records (every presence).
func (w *World) Actuals(processGuid string) []*models.ActualLRP {
	GinkgoHelper()
	lrps, err := w.BBS.ActualLRPs(context.Background(), bbs.ActualLRPFilter{ProcessGuid: processGuid})
	Expect(err).NotTo(HaveOccurred())
	return lrps
}

// Running lists the process's RUNNING ORDINARY instances.
func (w *World) Running(processGuid string) []*models.ActualLRP {
	GinkgoHelper()
	var out []*models.ActualLRP
	for _, a := range w.Actuals(processGuid) {
		if a.GetState() == models.ActualLRPStateRunning && a.GetPresence() == models.ActualLRP_ORDINARY {
			out = append(out, a)
		}
	}
	return out
}

// CellsOf maps the cell id of each RUNNING ORDINARY instance of the process to how many run there.
func (w *World) CellsOf(processGuid string) map[string]int {
	GinkgoHelper()
	out := map[string]int{}
	for _, a := range w.Running(processGuid) {
		out[a.GetActualLrpInstanceKey().GetCellId()]++
	}
	return out
}

// Answer is one request's outcome through a router: on 200 the app's body and the guid of the
// instance that answered (its X-Testapp-Instance header), else Err says what went wrong.
type Answer struct {
	Body     string
	Instance string
	Err      error
}

// client reaches routers; keeping connections to them is what a load balancer in front of them
// does.
var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// Get sends GET path with Host: host to the router.
func (r *Router) Get(host, path string) Answer { return r.Do(http.MethodGet, host, path, "") }

// Do sends a request with Host: host and body (none when empty) to the router.
func (r *Router) Do(method, host, path, body string) Answer {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.URL()+path, rd)
	if err != nil {
		return Answer{Err: err}
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return Answer{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Answer{Err: fmt.Errorf("reading the body: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		reason := resp.Header.Get("X-Cf-RouterError")
		if reason == "" {
			reason = strings.TrimSpace(string(b))
		}
		return Answer{Err: fmt.Errorf("%d %s", resp.StatusCode, reason)}
	}
	_, guid, _ := strings.Cut(resp.Header.Get("X-Testapp-Instance"), " ")
	return Answer{Body: string(b), Instance: guid}
}

// Instances asks the router for host until it has seen n distinct instances answer in a row of
// tries (round-robin: 4n requests reach every backend), and returns the instance guids seen.
func (r *Router) Instances(host string, n int) map[string]bool {
	seen := map[string]bool{}
	for range 4 * n {
		if g := r.Get(host, "/").Instance; g != "" {
			seen[g] = true
		}
		if len(seen) >= n {
			break
		}
	}
	return seen
}

// WaitRoutable waits until host answers through the router from n distinct instances.
func (r *Router) WaitRoutable(host string, n int, timeout time.Duration) {
	GinkgoHelper()
	Eventually(func() int { return len(r.Instances(host, n)) }, timeout, 50*time.Millisecond).Should(BeNumerically(">=", n),
		"%s answers from %d instances through the router at %s", host, n, r.Addr)
}

// WaitRunning waits until the process has n RUNNING ORDINARY instances.
func (w *World) WaitRunning(processGuid string, n int, timeout time.Duration) {
	GinkgoHelper()
	Eventually(func() int { return len(w.Running(processGuid)) }, timeout, 100*time.Millisecond).Should(Equal(n),
		"%s has %d instances RUNNING", processGuid, n)
}

// Events subscribes to the bbs's instance event stream until the spec ends; each event arrives on
// the returned channel with the time it was read (the channel is closed when the stream ends).
func (w *World) Events() <-chan Event {
	GinkgoHelper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := w.BBS.SubscribeToLRPInstanceEvents(ctx, "")
	Expect(err).NotTo(HaveOccurred())
	out := make(chan Event, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		for {
			e, err := stream.Next()
			if errors.Is(err, bbs.ErrReconnected) {
				continue
			}
			if err != nil {
				return
			}
			select {
			case out <- Event{Event: e, At: time.Now()}:
			case <-ctx.Done():
				return
			}
		}
	}()
	DeferCleanup(func() {
		cancel()
		_ = stream.Close()
		<-done
	})
	return out
}

// Event is a bbs event and when the spec read it.
type Event struct {
	models.Event
	At time.Time
}

// BecameRoutable is the instance change an event shows when an instance turns RUNNING with
// routable unset or true, or a RUNNING one turns routable: the moment a route-emitter routes it.
// It is nil for any other event.
func BecameRoutable(e models.Event) *models.ActualLRPInstanceChangedEvent {
	c, ok := e.(*models.ActualLRPInstanceChangedEvent)
	if !ok || !routable(c.GetAfter()) || routable(c.GetBefore()) {
		return nil
	}
	return c
}

func routable(i *models.ActualLRPInfo) bool {
	return i.GetState() == models.ActualLRPStateRunning && (i.Routable == nil || *i.Routable)
}
