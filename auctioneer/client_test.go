package auctioneer_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/auctioneer"
	"github.com/diego-go/diego/models"
)

var _ = Describe("Client", func() {
	type call struct{ method, path, contentType, body string }
	var (
		calls  chan call
		status int
		client *auctioneer.Client
		url    string
	)

	BeforeEach(func() {
		calls = make(chan call, 4)
		status = http.StatusAccepted
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			calls <- call{r.Method, r.URL.Path, r.Header.Get("Content-Type"), string(b)}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{}`))
		}))
		DeferCleanup(srv.Close)
		url = srv.URL
		client = auctioneer.NewClient(url+"/", nil)
	})

	It("posts LRP and task start requests as JSON arrays to upstream's routes", func() {
		ctx := context.Background()
		Expect(client.RequestLRPAuctions(ctx, []models.LRPStartRequest{{ProcessGUID: "pg", Domain: "d", Indices: []int32{1}}})).To(Succeed())
		var c call
		Expect(calls).To(Receive(&c))
		Expect(c.method + " " + c.path).To(Equal("POST /v1/lrps"))
		Expect(c.contentType).To(Equal("application/json"))
		Expect(c.body).To(HavePrefix(`[{"process_guid":"pg","domain":"d","indices":[1],`))

		Expect(client.RequestTaskAuctions(ctx, []models.TaskStartRequest{{RepTask: models.RepTask{TaskGuid: "tg"}}})).To(Succeed())
		Expect(calls).To(Receive(&c))
		Expect(c.method + " " + c.path).To(Equal("POST /v1/tasks"))
		Expect(c.body).To(HavePrefix(`[{"TaskGuid":"tg",`))
	})

	It("fails unless the auctioneer answers 202, as upstream's client", func() {
		status = http.StatusOK
		err := client.RequestLRPAuctions(context.Background(), nil)
		Expect(err).To(MatchError(ContainSubstring("auctioneer /v1/lrps: HTTP 200")))
	})

	Describe("WithResolver", func() {
		It("tries the resolved URLs first and moves on when a connection is refused, as to a standby that took the lock over", func() {
			refused := httptest.NewServer(http.NotFoundHandler())
			refused.Close()
			client = auctioneer.NewClient(refused.URL, nil, auctioneer.WithResolver(func(context.Context) ([]string, error) {
				return []string{refused.URL, url + "/"}, nil
			}))
			Expect(client.RequestLRPAuctions(context.Background(), nil)).To(Succeed())
			Expect(calls).To(Receive())
		})

		It("does not send a batch again once it reached an auctioneer, whatever the answer", func() {
			status = http.StatusInternalServerError
			second := 0
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { second++ }))
			DeferCleanup(other.Close)
			client = auctioneer.NewClient(other.URL, nil, auctioneer.WithResolver(func(context.Context) ([]string, error) {
				return []string{url}, nil
			}))
			Expect(client.RequestLRPAuctions(context.Background(), nil)).To(MatchError(ContainSubstring("HTTP 500")))
			Expect(calls).To(Receive())
			Expect(second).To(BeZero())
		})

		It("names the resolver's error when it yields no URL", func() {
			client = auctioneer.NewClient("", nil, auctioneer.WithResolver(func(context.Context) ([]string, error) {
				return nil, errors.New("consul is away")
			}))
			Expect(client.RequestTaskAuctions(context.Background(), nil)).To(MatchError(ContainSubstring("consul is away")))
			client = auctioneer.NewClient("", nil, auctioneer.WithResolver(func(context.Context) ([]string, error) { return nil, nil }))
			Expect(client.RequestTaskAuctions(context.Background(), nil)).To(MatchError(ContainSubstring("no passing instance")))
		})
	})

	It("links nothing of the auctioneer daemon, nor Consul", func() {
		out, err := exec.Command("go", "list", "-deps", "github.com/diego-go/diego/auctioneer").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		for _, dep := range strings.Fields(string(out)) {
			Expect(dep).NotTo(Or(HavePrefix("github.com/diego-go/diego/auctioneer/"), HavePrefix("github.com/diego-go/diego/locket"),
				HavePrefix("github.com/hashicorp/consul"), HavePrefix("go.etcd.io")))
		}
	})
})
