package repclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/repclient"
	"github.com/diego-go/diego/repclient/reptest"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

const rootFS = "preloaded:cflinuxfs4"

func lrp(guid string, index int32, memory int32) models.RepLRP {
	return models.RepLRP{
		InstanceGUID: guid + "-ig", ProcessGUID: guid, Index: index, Domain: "d",
		PlacementConstraint: models.PlacementConstraint{RootFS: rootFS},
		Resource:            models.Resource{MemoryMB: memory, DiskMB: 10},
	}
}

var _ = Describe("Client", func() {
	var (
		rep    *reptest.Rep
		client *repclient.Client
		ctx    context.Context
	)

	BeforeEach(func() {
		ctx = context.Background()
		rep = reptest.New("cell-a", reptest.Options{Zone: "z2", Index: 3, State: func(s *models.CellState) {
			s.PlacementTags = []string{"gpu"}
		}})
		DeferCleanup(rep.Close)
		client = repclient.New(repclient.Options{StateTimeout: 200 * time.Millisecond, WorkTimeout: 300 * time.Millisecond})
	})

	It("reads the cell state with GET /state", func() {
		s, err := client.State(ctx, rep.URL())
		Expect(err).NotTo(HaveOccurred())
		Expect(s.CellID).To(Equal("cell-a"))
		Expect(s.Zone).To(Equal("z2"))
		Expect(s.CellIndex).To(Equal(3))
		Expect(s.RepURL).To(Equal(rep.URL()))
		Expect(s.PlacementTags).To(ConsistOf("gpu"))
		Expect(s.TotalResources).To(Equal(models.Resources{MemoryMB: 1024, DiskMB: 1024, Containers: 10}))
		Expect(s.AvailableResources).To(Equal(s.TotalResources))
		Expect(rep.StateCalls()).To(Equal(1))
	})

	It("sends work with POST /work and returns what the cell could not take", func() {
		rejected, err := client.Perform(ctx, rep.URL(), models.Work{CellID: "cell-a", LRPs: []models.RepLRP{lrp("p1", 0, 600), lrp("p1", 1, 600)}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rejected.CellID).To(Equal("cell-a"))
		Expect(rejected.LRPs).To(HaveLen(1))
		Expect(rejected.LRPs[0].Index).To(Equal(int32(1)))
		Expect(rep.Placed().LRPs).To(HaveLen(1))

		s, err := client.State(ctx, rep.URL())
		Expect(err).NotTo(HaveOccurred())
		Expect(s.AvailableResources.MemoryMB).To(Equal(int32(424)))
		Expect(s.LRPs).To(HaveLen(1))
	})

	It("returns everything from a rejecting rep", func() {
		rep.SetRejecting(true)
		w := models.Work{CellID: "cell-a", Tasks: []models.RepTask{{TaskGUID: "t1", PlacementConstraint: models.PlacementConstraint{RootFS: rootFS}}}}
		rejected, err := client.Perform(ctx, rep.URL(), w)
		Expect(err).NotTo(HaveOccurred())
		Expect(rejected.Tasks).To(HaveLen(1))
		Expect(rep.Placed().Empty()).To(BeTrue())
	})

	It("gives up on a slow rep after the state timeout", func() {
		rep.SetDelay(2 * time.Second)
		start := time.Now()
		_, err := client.State(ctx, rep.URL())
		Expect(err).To(MatchError(repclient.ErrTimeout))
		Expect(time.Since(start)).To(BeNumerically("<", time.Second))
	})

	It("says how long it waited when the caller's deadline is shorter than its own timeout", func() {
		rep.SetDelay(2 * time.Second)
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := client.State(short, rep.URL())
		Expect(err).To(MatchError(repclient.ErrTimeout))
		Expect(err.Error()).To(MatchRegexp(`timed out after ([4-9]\d|1\d\d)ms$`))
	})

	It("gives up on a hung rep after the work timeout", func() {
		rep.SetHung(true)
		start := time.Now()
		_, err := client.Perform(ctx, rep.URL(), models.Work{CellID: "cell-a", LRPs: []models.RepLRP{lrp("p", 0, 1)}})
		Expect(err).To(MatchError(repclient.ErrTimeout))
		Expect(time.Since(start)).To(BeNumerically("~", 300*time.Millisecond, 250*time.Millisecond))
	})

	It("fails at once on a dead rep", func() {
		rep.SetDead(true)
		_, err := client.State(ctx, rep.URL())
		Expect(err).To(HaveOccurred())
		Expect(errors.Is(err, repclient.ErrTimeout)).To(BeFalse())

		rep.Close()
		_, err = client.State(ctx, rep.URL())
		Expect(err).To(HaveOccurred())
	})

	It("reports a non-2xx answer as an Error with the status and body", func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "evacuating", http.StatusServiceUnavailable)
		}))
		defer srv.Close()
		_, err := client.State(ctx, srv.URL)
		var repErr *repclient.Error
		Expect(errors.As(err, &repErr)).To(BeTrue())
		Expect(repErr.StatusCode).To(Equal(http.StatusServiceUnavailable))
		Expect(repErr.Body).To(Equal("evacuating"))
	})

	It("reports an answer that is not JSON", func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) }))
		defer srv.Close()
		_, err := client.State(ctx, srv.URL)
		Expect(err).To(MatchError(ContainSubstring("invalid JSON")))
	})

	Context("with mutual TLS", func() {
		var files tlstest.Files

		BeforeEach(func() {
			var err error
			files, err = tlstest.Generate(GinkgoT().TempDir())
			Expect(err).NotTo(HaveOccurred())
			serverTLS, err := tlsconfig.Server(files.ServerCert, files.ServerKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			rep = reptest.New("cell-tls", reptest.Options{TLS: serverTLS})
			DeferCleanup(rep.Close)
		})

		It("talks to the rep with a trusted client certificate", func() {
			clientTLS, err := tlsconfig.Client(files.ClientCert, files.ClientKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			c := repclient.New(repclient.Options{TLS: clientTLS})
			s, err := c.State(ctx, rep.URL())
			Expect(err).NotTo(HaveOccurred())
			Expect(s.CellID).To(Equal("cell-tls"))
		})

		It("is refused without a client certificate the rep trusts", func() {
			clientTLS, err := tlsconfig.Client(files.UntrustedClientCert, files.UntrustedClientKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			_, err = repclient.New(repclient.Options{TLS: clientTLS}).State(ctx, rep.URL())
			Expect(err).To(HaveOccurred())
		})
	})
})
