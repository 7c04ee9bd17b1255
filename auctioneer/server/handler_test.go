package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/auctioneer"
	"github.com/diego-go/diego/auctioneer/server"
	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

var _ = Describe("API", func() {
	var (
		inbox  *server.Inbox
		api    *httptest.Server
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

		inbox = server.NewInbox()
		api = httptest.NewUnstartedServer(server.NewHandler(logger, inbox))
		api.TLS = serverTLS
		api.StartTLS()
		DeferCleanup(api.Close)
		client = auctioneer.NewClient(api.URL, clientTLS)
		plain = &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}}
	})

	post := func(path, body string) (int, map[string]string) {
		GinkgoHelper()
		resp, err := plain.Post(api.URL+path, "application/json", bytes.NewBufferString(body))
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

		code, body = post(auctioneer.TaskAuctionsRoute, `[{"TaskGuid":`)
		Expect(code).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(ContainSubstring("invalid JSON"))
		n, t := inbox.Len()
		Expect(n + t).To(BeZero())
	})

	// Upstream's auctioneer drops an invalid entry of a batch and queues the rest.
	It("queues the valid requests of a batch and drops the invalid ones, answering 202", func() {
		code, body := post(auctioneer.LRPAuctionsRoute, `[{"process_guid":"ok","domain":"d","indices":[0,1],"RootFs":"preloaded:x"},`+
			`{"process_guid":"p","indices":[],"RootFs":"preloaded:x"},`+
			`{"process_guid":"neg","domain":"d","indices":[0],"RootFs":"preloaded:x","MemoryMB":-1024}]`)
		Expect(code).To(Equal(http.StatusAccepted))
		Expect(body).To(BeEmpty())
		n, t := inbox.Len()
		Expect([]int{n, t}).To(Equal([]int{2, 0}))

		code, _ = post(auctioneer.TaskAuctionsRoute, `[{"TaskGuid":"","Domain":"d","RootFs":"preloaded:x"},`+
			`{"TaskGuid":"t","Domain":"d","RootFs":"preloaded:x","DiskMB":-1},`+
			`{"TaskGuid":"good","Domain":"d","RootFs":"preloaded:x"}]`)
		Expect(code).To(Equal(http.StatusAccepted))
		b := inbox.Take()
		Expect(b.LRPs).To(HaveLen(1))
		Expect(b.LRPs[0].ProcessGUID).To(Equal("ok"))
		Expect(b.Tasks).To(HaveLen(1))
		Expect(b.Tasks[0].TaskGuid).To(Equal("good"))
	})

	It("logs each dropped request with its index and what is wrong", func() {
		var logs bytes.Buffer
		h := server.NewHandler(slog.New(slog.NewJSONHandler(&logs, nil)), server.NewInbox())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, auctioneer.LRPAuctionsRoute,
			bytes.NewBufferString(`[{"process_guid":"ok","domain":"d","indices":[0],"RootFs":"preloaded:x"},{"process_guid":"p","indices":[0],"RootFs":"preloaded:x"}]`)))
		Expect(rec.Code).To(Equal(http.StatusAccepted))
		Expect(rec.Body.String()).To(Equal(`{}`))
		Expect(logs.String()).To(And(ContainSubstring(`"request":1`), ContainSubstring(`domain: is required`)))
		Expect(logs.String()).NotTo(ContainSubstring(`"request":0`))
	})

	It("answers 405 for other methods and 404 for other paths", func() {
		resp, err := plain.Get(api.URL + auctioneer.LRPAuctionsRoute)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusMethodNotAllowed))
		code, _ := post("/v1/other", `[]`)
		Expect(code).To(Equal(http.StatusNotFound))
	})

	It("refuses clients without a trusted certificate", func() {
		_, err := http.Post(api.URL+auctioneer.LRPAuctionsRoute, "application/json", bytes.NewBufferString(`[]`))
		Expect(err).To(HaveOccurred())
	})
})

// The BBS's auctioneer interface is satisfied by the one client of the API.
var _ service.Auctioneer = (*auctioneer.Client)(nil)
