package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/dashboard"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
	"github.com/diego-go/diego/rep/reptest"
)

// get is the status and body of GET url.
func get(url string) (int, string) {
	GinkgoHelper()
	return getWithin(url, 0)
}

// getWithin is get failing when the answer takes longer than timeout (0: no limit).
func getWithin(url string, timeout time.Duration) (int, string) {
	GinkgoHelper()
	resp, err := (&http.Client{Timeout: timeout}).Get(url)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(body)
}

// watch opens the event stream at url, as a page does, until the spec ends, and returns the
// latest view it sent (nil before the first) and the data of every view it sent, in order.
func watch(url string) (latest func() *dashboard.View, sent func() []string) {
	GinkgoHelper()
	ctx, cancel := context.WithCancel(context.Background())
	DeferCleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	Expect(resp.Header.Get("Content-Type")).To(Equal("text/event-stream"))

	var mu sync.Mutex
	var last *dashboard.View
	var all []string
	go func() {
		defer GinkgoRecover()
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				Expect(event).To(Equal("state"))
				data := strings.TrimPrefix(line, "data: ")
				v := &dashboard.View{}
				Expect(json.Unmarshal([]byte(data), v)).To(Succeed())
				mu.Lock()
				last, all = v, append(all, data)
				mu.Unlock()
			}
		}
	}()
	return func() *dashboard.View {
			mu.Lock()
			defer mu.Unlock()
			return last
		}, func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(all)
		}
}

// instances are the view's instance states of guid by index ("UNCLAIMED@", "RUNNING@cell").
func instances(v *dashboard.View, guid string) []string {
	var out []string
	if v == nil {
		return nil
	}
	for _, a := range v.ActualLRPs {
		if a.ProcessGuid == guid {
			out = append(out, a.State+"@"+a.CellID)
		}
	}
	return out
}

func desireLRP(guid string, instances int32) {
	GinkgoHelper()
	lrp := &models.DesiredLRP{
		ProcessGuid: guid, Domain: "dashboard", RootFs: "preloaded:busybox", Instances: instances, MemoryMb: 64, DiskMb: 32,
		Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/sh", User: "vcap"}}},
	}
	Expect(bbsClient.DesireLRP(context.Background(), lrp)).To(Succeed())
	DeferCleanup(func() { _ = bbsClient.RemoveDesiredLRP(context.Background(), guid) })
}

// fastPush is the push interval of most specs: short, so that they wait little.
const fastPush = 10 * time.Millisecond

var _ = Describe("the dashboard server", func() {
	var url string

	BeforeEach(func() {
		srv := httptest.NewServer(dashboard.NewTimed(bbsClient, logger, fastPush, time.Hour))
		DeferCleanup(srv.Close)
		url = srv.URL
	})

	It("serves the page and its own script and style, nothing from elsewhere", func() {
		status, page := get(url + "/")
		Expect(status).To(Equal(http.StatusOK))
		Expect(page).To(ContainSubstring(`<script src="app.js"`))
		Expect(page).To(ContainSubstring(`<link rel="stylesheet" href="style.css">`))
		for _, asset := range []string{"/", "/app.js", "/style.css"} {
			status, body := get(url + asset)
			Expect(status).To(Equal(http.StatusOK), asset)
			Expect(body).NotTo(MatchRegexp(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`), "%s loads nothing from another host (the machine may be offline)", asset)
		}
		status, _ = get(url + "/nothing-here")
		Expect(status).To(Equal(http.StatusNotFound))
	})

	It("answers GET /api/state with the whole view read from the BBS", func() {
		cell := "cell-" + uuid.NewString()
		reptest.RegisterPresence(logger, consulClient, cell, "http://127.0.0.1:1", 2*time.Second, 500*time.Millisecond)
		guid := "state-" + uuid.NewString()
		desireLRP(guid, 2)

		status, body := get(url + "/api/state")
		Expect(status).To(Equal(http.StatusOK))
		v := &dashboard.View{}
		Expect(json.Unmarshal([]byte(body), v)).To(Succeed())
		Expect(v.Cells).To(ContainElement(HaveField("CellID", cell)))
		Expect(v.DesiredLRPs).To(ContainElement(And(HaveField("ProcessGuid", guid), HaveField("Instances", BeEquivalentTo(2)))))
		Expect(instances(v, guid)).To(Equal([]string{"UNCLAIMED@", "UNCLAIMED@"}))
	})

	It("pushes the view as the BBS's events change it: instances claimed and started, tasks, removals", func() {
		latest, _ := watch(url + "/api/events")
		Eventually(latest).ShouldNot(BeNil(), "the first view comes at once")

		guid := "live-" + uuid.NewString()
		desireLRP(guid, 2)
		Eventually(func() []string { return instances(latest(), guid) }).Should(Equal([]string{"UNCLAIMED@", "UNCLAIMED@"}))

		ctx := context.Background()
		ik := &models.ActualLRPInstanceKey{InstanceGuid: "ig-" + guid, CellId: "cell-a"}
		Expect(bbsClient.ClaimActualLRP(ctx, guid, 1, ik)).To(Succeed())
		Eventually(func() []string { return instances(latest(), guid) }).Should(Equal([]string{"UNCLAIMED@", "CLAIMED@cell-a"}))
		Expect(bbsClient.StartActualLRP(ctx, &models.StartActualLRPRequest{
			ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: guid, Index: 1, Domain: "dashboard"},
			ActualLrpInstanceKey: ik,
			ActualLrpNetInfo:     &models.ActualLRPNetInfo{Address: "10.1.2.3", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61001}}},
		})).To(Succeed())
		Eventually(func() []string { return instances(latest(), guid) }).Should(Equal([]string{"UNCLAIMED@", "RUNNING@cell-a"}))
		Expect(latest().Cells).To(ContainElement(And(HaveField("CellID", "cell-a"), HaveField("Missing", true),
			HaveField("Used", dashboard.Resources{MemoryMB: 64, DiskMB: 32, Containers: 1}))), "a cell without presence that runs an instance")

		taskGuid := "task-" + uuid.NewString()
		Expect(bbsClient.DesireTask(ctx, taskGuid, "dashboard", &models.TaskDefinition{RootFs: "preloaded:busybox", MemoryMb: 16,
			Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/true", User: "vcap"}}}})).To(Succeed())
		Eventually(func() []dashboard.Task { return latest().Tasks }).Should(ContainElement(And(HaveField("TaskGuid", taskGuid), HaveField("State", "Pending"))))
		Expect(bbsClient.CancelTask(ctx, taskGuid)).To(Succeed())
		Eventually(func() []dashboard.Task { return latest().Tasks }).Should(ContainElement(And(HaveField("TaskGuid", taskGuid), HaveField("State", "Completed"), HaveField("Failed", true))))

		Expect(bbsClient.RemoveDesiredLRP(ctx, guid)).To(Succeed())
		Eventually(func() []dashboard.DesiredLRP { return latest().DesiredLRPs }).ShouldNot(ContainElement(HaveField("ProcessGuid", guid)))
		Eventually(func() []string { return instances(latest(), guid) }).Should(BeEmpty())
	})

	It("gives a page that opens later the current view at once, and every open page the changes", func() {
		first, _ := watch(url + "/api/events")
		guid := "late-" + uuid.NewString()
		desireLRP(guid, 1)
		Eventually(func() []string { return instances(first(), guid) }).Should(HaveLen(1))

		second, _ := watch(url + "/api/events")
		Eventually(func() []string { return instances(second(), guid) }).Should(HaveLen(1))
		Expect(bbsClient.UpdateDesiredLRP(context.Background(), guid, &models.DesiredLRPUpdate{Instances: ptr(int32(3))})).To(Succeed())
		for _, page := range []func() *dashboard.View{first, second} {
			Eventually(func() []string { return instances(page(), guid) }).Should(HaveLen(3))
		}
	})

	// The suite's specs share one BBS, and the events of the specs before may still come in
	// while these two run: what they check holds whatever else changes meanwhile.
	It("pushes at most one view per push interval, however many events come", func() {
		const push = time.Second
		srv := httptest.NewServer(dashboard.NewTimed(bbsClient, logger, push, time.Hour))
		DeferCleanup(srv.Close)
		latest, sent := watch(srv.URL + "/api/events")
		Eventually(latest).ShouldNot(BeNil())
		guid := "burst-" + uuid.NewString()
		before, start := len(sent()), time.Now()
		desireLRP(guid, 50)
		Eventually(func() []string { return instances(latest(), guid) }, 5*time.Second).Should(HaveLen(50))
		elapsed := time.Since(start)
		// pushes are a push interval apart: one at each end of the window, and one more for a
		// view pushed just before it began but read after
		most := int(elapsed/push) + 2
		Expect(len(sent())-before).To(BeNumerically("<=", most), "51 events (a desired LRP and 50 instances), and any others, in %s: one view per second", elapsed)
	})

	It("pushes nothing while nothing changes: never the view a page already has", func() {
		latest, sent := watch(url + "/api/events")
		Eventually(latest).ShouldNot(BeNil())
		// the cells are read every 100 ms: each reading that finds them as they were pushes nothing
		repeated := func() []string {
			var same []string
			views := sent()
			for i := 1; i < len(views); i++ {
				if views[i] == views[i-1] {
					same = append(same, views[i])
				}
			}
			return same
		}
		Consistently(repeated, time.Second).Should(BeEmpty())
	})

	It("reads everything again every resync interval, so a change whose event it missed shows", func() {
		// a BBS whose event streams cannot be opened: only the reads show changes
		target, err := neturl.Parse(bbsURL)
		Expect(err).NotTo(HaveOccurred())
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.Transport = &http.Transport{TLSClientConfig: bbsTLS}
		noEvents := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "events") {
				http.Error(w, "no events here", http.StatusServiceUnavailable)
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		DeferCleanup(noEvents.Close)
		client := bbs.NewClient(noEvents.URL, nil, bbs.WithRetry(1, 0), bbs.WithLogger(logger))

		for _, resync := range []time.Duration{300 * time.Millisecond, time.Hour} {
			srv := httptest.NewServer(dashboard.NewTimed(client, logger, fastPush, resync))
			DeferCleanup(srv.Close)
			latest, _ := watch(srv.URL + "/api/events")
			Eventually(latest).ShouldNot(BeNil())
			guid := "missed-" + uuid.NewString()
			desireLRP(guid, 1)
			if resync == time.Hour {
				Consistently(func() []string { return instances(latest(), guid) }, time.Second).Should(BeEmpty(), "without events nor a resync, nothing shows the change")
				continue
			}
			Eventually(func() []string { return instances(latest(), guid) }, 5*time.Second).Should(HaveLen(1))
		}
	})

	It("with WithCellStates, shows each rep's own state next to its cell, and why a rep does not answer", func() {
		r := reptest.New("rep-cell", reptest.Options{Total: models.Resources{MemoryMB: 2048, DiskMB: 4096, Containers: 12},
			State: func(s *models.CellState) { s.Evacuating = true }})
		DeferCleanup(r.Close)
		reptest.RegisterPresence(logger, consulClient, "rep-cell", r.URL(), 2*time.Second, 500*time.Millisecond)
		reps := rep.NewClient(rep.Options{})
		srv := httptest.NewServer(dashboard.NewTimed(bbsClient, logger, fastPush, time.Hour, dashboard.WithCellStates(
			func(ctx context.Context, p *models.CellPresence) (models.CellState, error) {
				return reps.State(ctx, p.GetRepUrl())
			})))
		DeferCleanup(srv.Close)
		answered := &dashboard.RepState{Evacuating: true, Available: dashboard.Resources{MemoryMB: 2048, DiskMB: 4096, Containers: 12}}

		_, body := get(srv.URL + "/api/state")
		v := &dashboard.View{}
		Expect(json.Unmarshal([]byte(body), v)).To(Succeed())
		Expect(cellOf(*v, "rep-cell").Rep).To(Equal(answered))

		latest, _ := watch(srv.URL + "/api/events")
		Eventually(latest).ShouldNot(BeNil())
		repOf := func() *dashboard.RepState {
			if c := cellOf(*latest(), "rep-cell"); c != nil {
				return c.Rep
			}
			return nil
		}
		Eventually(repOf).Should(Equal(answered))
		r.SetDead(true)
		Eventually(repOf).Should(HaveField("Error", Not(BeEmpty())))
	})

	It("keeps the last view and says why while the BBS does not answer", func() {
		// a BBS that stops answering, and then answers again
		target, err := neturl.Parse(bbsURL)
		Expect(err).NotTo(HaveOccurred())
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.Transport = &http.Transport{TLSClientConfig: bbsTLS}
		var hung atomic.Bool
		release := make(chan struct{})
		hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hung.Load() && !strings.Contains(r.URL.Path, "events") {
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		DeferCleanup(hanging.Close)
		DeferCleanup(func() { close(release) })
		client := bbs.NewClient(hanging.URL, nil, bbs.WithRetry(1, 0), bbs.WithLogger(logger))
		srv := httptest.NewServer(dashboard.NewTimed(client, logger, fastPush, time.Hour))
		DeferCleanup(srv.Close)

		guid := "hang-" + uuid.NewString()
		desireLRP(guid, 1)
		latest, _ := watch(srv.URL + "/api/events")
		Eventually(func() []string { return instances(latest(), guid) }).Should(HaveLen(1))
		hung.Store(true)
		Eventually(func() string { return latest().Error }, 5*time.Second).Should(ContainSubstring("cannot read the cells"))
		Expect(instances(latest(), guid)).To(HaveLen(1), "the last view stays")
		status, body := getWithin(srv.URL+"/api/state", 5*time.Second)
		Expect(status).To(Equal(http.StatusBadGateway), "GET /api/state gives up after the read bound (1 s here)")
		Expect(body).To(MatchRegexp(`"error":"cannot read .+"`))
		hung.Store(false)
		Eventually(func() string { return latest().Error }, 5*time.Second).Should(BeEmpty())
	})

	It("says in the view when the BBS cannot be read, and GET /api/state fails naming it", func() {
		down := httptest.NewServer(dashboard.NewTimed(bbs.NewClient("http://127.0.0.1:1", nil, bbs.WithRetry(1, 0)), logger, fastPush, time.Hour))
		DeferCleanup(down.Close)
		status, body := get(down.URL + "/api/state")
		Expect(status).To(Equal(http.StatusBadGateway))
		Expect(body).To(MatchRegexp(`"error":"cannot read the cells: .+"`))

		latest, _ := watch(down.URL + "/api/events")
		Eventually(latest).ShouldNot(BeNil())
		Expect(latest().Error).To(MatchRegexp("cannot read the cells"))
	})
})

func ptr[T any](v T) *T { return &v }
