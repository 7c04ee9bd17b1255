package auctioneer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/auctioneer"
	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

var _ = Describe("API", func() {
	var (
		inbox  *auctioneer.Inbox
		server *httptest.Server
		client *auctioneer.Client
		plain  *http.Client
	)

	BeforeEach(func() {
		files, err := tlstest.Generate(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		serverTLS, err := tlsconfig.Server(files.ServerCert, files.ServerKey, files.CACert)
		Expect(err).NotTo(HaveOccurred())
		clientTLS, err := tlsconfig.Client(files.ClientCert, files.ClientKey, files.CACert)
		Expect(err).NotTo(HaveOccurred())

		inbox = auctioneer.NewInbox()
		server = httptest.NewUnstartedServer(auctioneer.NewHandler(logger, inbox))
		server.TLS = serverTLS
		server.StartTLS()
		DeferCleanup(server.Close)
		client = auctioneer.NewClient(server.URL, clientTLS)
		plain = &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}}
	})

	post := func(path, body string) (int, map[string]string) {
		GinkgoHelper()
		resp, err := plain.Post(server.URL+path, "application/json", bytes.NewBufferString(body))
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		var out map[string]string
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}

	It("queues LRP and task auctions from the client (202)", func() {
		ctx := context.Background()
		Expect(client.RequestLRPAuctions(ctx, []models.LRPStartRequest{lrpRequest("p", 64, 0, 1)})).To(Succeed())
		Expect(client.RequestTaskAuctions(ctx, []models.TaskStartRequest{taskRequest("t", 8)})).To(Succeed())
		n, t := inbox.Len()
		Expect([]int{n, t}).To(Equal([]int{2, 1}))

		code, _ := post(auctioneer.LRPAuctionsRoute, `[]`)
		Expect(code).To(Equal(http.StatusAccepted))
	})

	It("answers 400 with the reason for bad JSON", func() {
		code, body := post(auctioneer.LRPAuctionsRoute, `{"process_guid":"p"}`)
		Expect(code).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(ContainSubstring("invalid JSON"))

		code, body = post(auctioneer.TaskAuctionsRoute, `[{"task_guid":`)
		Expect(code).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(ContainSubstring("invalid JSON"))
		n, t := inbox.Len()
		Expect(n + t).To(BeZero())
	})

	It("answers 400 for requests missing what the auction needs, and queues none of the batch", func() {
		code, body := post(auctioneer.LRPAuctionsRoute, `[{"process_guid":"ok","domain":"d","indices":[0],"rootfs":"preloaded:x"},{"process_guid":"p","indices":[],"rootfs":"preloaded:x"}]`)
		Expect(code).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("request 1: domain: is required; indices: is required"))

		code, body = post(auctioneer.TaskAuctionsRoute, `[{"task_guid":"","domain":"d","rootfs":"preloaded:x"}]`)
		Expect(code).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("request 0: task_guid: is required"))
		n, t := inbox.Len()
		Expect(n + t).To(BeZero())
	})

	// A negative size would make the auction free capacity on the cell it reserves on.
	It("answers 400 for negative resources, naming the field", func() {
		code, body := post(auctioneer.LRPAuctionsRoute, `[{"process_guid":"p","domain":"d","indices":[0],"rootfs":"preloaded:x","memory_mb":-1024}]`)
		Expect(code).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("request 0: memory_mb: must not be negative"))

		code, body = post(auctioneer.TaskAuctionsRoute, `[{"task_guid":"t","domain":"d","rootfs":"preloaded:x","disk_mb":-1}]`)
		Expect(code).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("request 0: disk_mb: must not be negative"))
		n, t := inbox.Len()
		Expect(n + t).To(BeZero())
	})

	It("answers 405 for other methods and 404 for other paths", func() {
		resp, err := plain.Get(server.URL + auctioneer.LRPAuctionsRoute)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusMethodNotAllowed))
		code, _ := post("/v1/other", `[]`)
		Expect(code).To(Equal(http.StatusNotFound))
	})

	It("refuses clients without a trusted certificate", func() {
		_, err := http.Post(server.URL+auctioneer.LRPAuctionsRoute, "application/json", bytes.NewBufferString(`[]`))
		Expect(err).To(HaveOccurred())
	})
})

// The BBS's auctioneer interface is satisfied by the one client of the API.
var _ service.Auctioneer = (*auctioneer.Client)(nil)
