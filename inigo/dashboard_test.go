package inigo_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/dashboard"
	"github.com/diego-go/diego/inigo/world"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
	"github.com/diego-go/diego/tlsconfig"
)

// browser starts a headless chromium (in a temporary user data directory chromedp makes and
// removes; --no-sandbox, which it adds when run as root) and returns a context of its one tab.
// When the spec ends, whatever happened, the browser and every process it started are killed.
func browser() context.Context {
	GinkgoHelper()
	chromium, err := exec.LookPath("chromium")
	Expect(err).NotTo(HaveOccurred(), "the dashboard's browser spec needs Debian's chromium package, which make deps installs")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.CombinedOutput(GinkgoWriter))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	DeferCleanup(func() {
		// every process of the browser has its user data directory on its command line
		var dataDir string
		c := chromedp.FromContext(ctx)
		started := c.Browser != nil && c.Browser.Process() != nil
		if started {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.Browser.Process().Pid))
			for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
				if dir, ok := bytes.CutPrefix(arg, []byte("--user-data-dir=")); ok {
					dataDir = string(dir)
				}
			}
		}
		cancel()
		cancelAlloc()
		// the allocator kills what is left of the browser and removes its directory
		c.Allocator.Wait()
		if started {
			Expect(dataDir).NotTo(BeEmpty(), "the browser ran with a user data directory of its own")
			Eventually(func() []string { return processesWith("--user-data-dir=" + dataDir) }, 5*time.Second).Should(BeEmpty(), "the browser's processes are gone")
			Expect(dataDir).NotTo(BeAnExistingFile())
		}
	})
	// The first action starts the browser; it lives as long as the context of that call, so a
	// time limit is put on the wait rather than on the context (the cleanup ends a browser
	// that never answers).
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	Eventually(started, 30*time.Second).Should(Receive(Succeed()), "chromium starts")
	return ctx
}

// browserCallTimeout bounds each action on the tab: a browser that stops answering fails the spec.
const browserCallTimeout = 10 * time.Second

// processesWith lists the pids of the processes with arg on their command line.
func processesWith(arg string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && slices.Contains(strings.Split(string(cmdline), "\x00"), arg) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// eval is the value of a JavaScript expression in the tab.
func eval[T any](tab context.Context, expression string) T {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(tab, browserCallTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	Expect(err).NotTo(HaveOccurred())
	return v
}

var _ = Describe("the dashboard in a browser", func() {
	It("shows a newly desired LRP's instances appear on the page and turn RUNNING on the world's cells", func() {
		repTLS, err := tlsconfig.Client(w.Certs.ClientCert, w.Certs.ClientKey, w.Certs.CACert)
		Expect(err).NotTo(HaveOccurred())
		reps := rep.NewClient(rep.Options{TLS: repTLS})
		page := httptest.NewServer(dashboard.New(w.BBS, slog.New(slog.NewTextHandler(GinkgoWriter, nil)), dashboard.WithCellStates(
			func(ctx context.Context, p *models.CellPresence) (models.CellState, error) {
				return reps.State(ctx, p.GetRepUrl())
			})))
		DeferCleanup(page.Close)
		tab := browser()
		navigate, cancel := context.WithTimeout(tab, browserCallTimeout)
		defer cancel()
		Expect(chromedp.Do(navigate, chromedp.Navigate(page.URL))).To(Succeed())
		Eventually(func() string { return eval[string](tab, `document.getElementById("connection").dataset.connected`) }, 10*time.Second).Should(Equal("true"))

		// the page lists every cell of the world
		var cells []string
		Eventually(func() []string {
			cells = eval[[]string](tab, `[...document.querySelectorAll("#zones .cell")].map(e => e.dataset.cellId)`)
			return cells
		}, 10*time.Second).Should(HaveLen(len(w.Cells)))
		for _, c := range w.Cells {
			Expect(cells).To(ContainElement(c.ID))
		}
		// with what each rep says it has left
		Eventually(func() []string {
			return eval[[]string](tab, `[...document.querySelectorAll("#zones .cell .rep")].map(e => e.textContent)`)
		}, 10*time.Second).Should(And(HaveLen(len(w.Cells)), HaveEach(MatchRegexp(`^rep: \d+ MB, \d+ MB disk, \d+ containers free`))))

		guid := w.Guid("dashboard")
		w.Desire(world.AppLRP(guid, 3))

		// each look reads the states the page draws in the LRP's row and on the cells, as they are
		seen := map[string]bool{}
		look := func(selector string) []string {
			states := eval[[]string](tab, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.dataset.state)`, selector))
			for _, s := range states {
				seen[s] = true
			}
			return states
		}
		row := fmt.Sprintf(`#desired-lrps tr[data-process-guid=%q] .instance`, guid)
		Eventually(func() []string { return look(row) }, 30*time.Second, 50*time.Millisecond).Should(HaveLen(3), "the instances appear")
		Eventually(func() []string { return look(row) }, 2*time.Minute, 50*time.Millisecond).Should(Equal([]string{"RUNNING", "RUNNING", "RUNNING"}))
		// how long an instance stays CLAIMED depends on the cell's speed: any state before RUNNING will do
		Expect(seen).To(Or(HaveKey("UNCLAIMED"), HaveKey("CLAIMED")), "the page showed the instances on their way, not only at the end")

		// and the page draws each on the cell the BBS has it on
		onCells := eval[map[string]int](tab, fmt.Sprintf(`[...document.querySelectorAll('#zones .cell .instance[data-process-guid=%q][data-state="RUNNING"]')]
			.reduce((m, e) => { const c = e.closest(".cell").dataset.cellId; m[c] = (m[c] || 0) + 1; return m }, {})`, guid))
		Expect(onCells).To(Equal(w.CellsOf(guid)))
	})
})
