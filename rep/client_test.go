package rep_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
	"github.com/diego-go/diego/rep/reptest"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

const rootFS = "preloaded:cflinuxfs4"

func lrp(guid string, index int32, memory int32) models.RepLRP {
	return models.RepLRP{
		InstanceGUID: guid + "-ig", LRPKey: models.LRPKey{ProcessGUID: guid, Index: index, Domain: "d"},
		PlacementConstraint: models.PlacementConstraint{RootFs: rootFS},
		Resource:            models.Resource{MemoryMB: memory, DiskMB: 10},
	}
}

var _ = Describe("Client", func() {
	var (
		cell   *reptest.Rep
		client *rep.Client
		ctx    context.Context
	)

	BeforeEach(func() {
		ctx = context.Background()
		cell = reptest.New("cell-a", reptest.Options{Zone: "z2", Index: 3, State: func(s *models.CellState) {
			s.PlacementTags = []string{"gpu"}
		}})
		DeferCleanup(cell.Close)
		client = rep.NewClient(rep.Options{StateTimeout: 200 * time.Millisecond, WorkTimeout: 300 * time.Millisecond})
	})

	It("reads the cell state with GET /state", func() {
		s, err := client.State(ctx, cell.URL())
		Expect(err).NotTo(HaveOccurred())
		Expect(s.CellID).To(Equal("cell-a"))
		Expect(s.Zone).To(Equal("z2"))
		Expect(s.CellIndex).To(Equal(3))
		Expect(s.RepURL).To(Equal(cell.URL()))
		Expect(s.PlacementTags).To(ConsistOf("gpu"))
		Expect(s.TotalResources).To(Equal(models.Resources{MemoryMB: 1024, DiskMB: 1024, Containers: 10}))
		Expect(s.AvailableResources).To(Equal(s.TotalResources))
		Expect(cell.StateCalls()).To(Equal(1))
	})

	It("sends work with POST /work and returns what the cell could not take", func() {
		rejected, err := client.Perform(ctx, cell.URL(), models.Work{CellID: "cell-a", LRPs: []models.RepLRP{lrp("p1", 0, 600), lrp("p1", 1, 600)}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rejected.CellID).To(Equal("cell-a"))
		Expect(rejected.LRPs).To(HaveLen(1))
		Expect(rejected.LRPs[0].Index).To(Equal(int32(1)))
		Expect(cell.Placed().LRPs).To(HaveLen(1))

		s, err := client.State(ctx, cell.URL())
		Expect(err).NotTo(HaveOccurred())
		Expect(s.AvailableResources.MemoryMB).To(Equal(int32(424)))
		Expect(s.LRPs).To(HaveLen(1))
	})

	It("returns everything from a rejecting cell", func() {
		cell.SetRejecting(true)
		w := models.Work{CellID: "cell-a", Tasks: []models.RepTask{{TaskGuid: "t1", PlacementConstraint: models.PlacementConstraint{RootFs: rootFS}}}}
		rejected, err := client.Perform(ctx, cell.URL(), w)
		Expect(err).NotTo(HaveOccurred())
		Expect(rejected.Tasks).To(HaveLen(1))
		Expect(cell.Placed().Empty()).To(BeTrue())
	})

	It("gives up on a slow cell after the state timeout", func() {
		cell.SetDelay(2 * time.Second)
		start := time.Now()
		_, err := client.State(ctx, cell.URL())
		Expect(err).To(MatchError(rep.ErrTimeout))
		Expect(time.Since(start)).To(BeNumerically("<", time.Second))
	})

	It("says how long it waited when the caller's deadline is shorter than its own timeout", func() {
		cell.SetDelay(2 * time.Second)
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := client.State(short, cell.URL())
		Expect(err).To(MatchError(rep.ErrTimeout))
		Expect(err.Error()).To(MatchRegexp(`timed out after ([4-9]\d|1\d\d)ms$`))
	})

	It("gives up on a hung cell after the work timeout", func() {
		cell.SetHung(true)
		start := time.Now()
		_, err := client.Perform(ctx, cell.URL(), models.Work{CellID: "cell-a", LRPs: []models.RepLRP{lrp("p", 0, 1)}})
		Expect(err).To(MatchError(rep.ErrTimeout))
		Expect(time.Since(start)).To(BeNumerically("~", 300*time.Millisecond, 250*time.Millisecond))
	})

	It("fails at once on a dead cell", func() {
		cell.SetDead(true)
		_, err := client.State(ctx, cell.URL())
		Expect(err).To(HaveOccurred())
		Expect(errors.Is(err, rep.ErrTimeout)).To(BeFalse())

		cell.Close()
		_, err = client.State(ctx, cell.URL())
		Expect(err).To(HaveOccurred())
	})

	It("reports an unexpected status as an Error with the status and body", func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "evacuating", http.StatusServiceUnavailable)
		}))
		defer srv.Close()
		_, err := client.State(ctx, srv.URL)
		var repErr *rep.Error
		Expect(errors.As(err, &repErr)).To(BeTrue())
		Expect(repErr.StatusCode).To(Equal(http.StatusServiceUnavailable))
		Expect(repErr.Body).To(Equal("evacuating"))
	})

	It("stops an instance and cancels a task on the rep's routes, expecting 202 as upstream's rep answers", func() {
		calls := make(chan string, 4)
		status := http.StatusAccepted
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls <- r.Method + " " + r.URL.EscapedPath()
			w.WriteHeader(status)
		}))
		defer srv.Close()
		key := &models.ActualLRPKey{ProcessGuid: "pg", Index: 1, Domain: "d"}
		ik := &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "cell-a"}
		Expect(client.StopLRPInstance(ctx, srv.URL+"/", key, ik)).To(Succeed())
		Expect(calls).To(Receive(Equal("POST /v1/lrps/pg/instances/ig/stop")))
		Expect(client.CancelTask(ctx, srv.URL, "t g")).To(Succeed())
		Expect(calls).To(Receive(Equal("POST /v1/tasks/t%20g/cancel")))

		status = http.StatusOK
		err := client.CancelTask(ctx, srv.URL, "tg")
		var repErr *rep.Error
		Expect(errors.As(err, &repErr)).To(BeTrue())
		Expect(repErr.StatusCode).To(Equal(http.StatusOK))
	})

	It("reports an answer that is not JSON", func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) }))
		defer srv.Close()
		_, err := client.State(ctx, srv.URL)
		Expect(err).To(MatchError(ContainSubstring("invalid JSON")))
	})

	It("links neither the auctioneer daemon nor the BBS server", func() {
		out, err := exec.Command("go", "list", "-deps", "github.com/diego-go/diego/rep").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		for _, dep := range strings.Fields(string(out)) {
			Expect(dep).NotTo(Or(HavePrefix("github.com/diego-go/diego/auctioneer"), HavePrefix("github.com/diego-go/diego/bbs"),
				HavePrefix("github.com/diego-go/diego/locket"), HavePrefix("github.com/diego-go/diego/auction"), HavePrefix("go.etcd.io")))
		}
	})

	Context("with mutual TLS", func() {
		var files tlstest.Files

		BeforeEach(func() {
			var err error
			files, err = tlstest.Generate(GinkgoT().TempDir())
			Expect(err).NotTo(HaveOccurred())
			serverTLS, err := tlsconfig.Server(files.ServerCert, files.ServerKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			cell = reptest.New("cell-tls", reptest.Options{TLS: serverTLS})
			DeferCleanup(cell.Close)
		})

		It("talks to the cell with a trusted client certificate", func() {
			clientTLS, err := tlsconfig.Client(files.ClientCert, files.ClientKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			c := rep.NewClient(rep.Options{TLS: clientTLS})
			s, err := c.State(ctx, cell.URL())
			Expect(err).NotTo(HaveOccurred())
			Expect(s.CellID).To(Equal("cell-tls"))
		})

		It("is refused without a client certificate the cell trusts", func() {
			clientTLS, err := tlsconfig.Client(files.UntrustedClientCert, files.UntrustedClientKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			_, err = rep.NewClient(rep.Options{TLS: clientTLS}).State(ctx, cell.URL())
			Expect(err).To(HaveOccurred())
		})
	})
})
