package proxy_test

import (
	"context"
	"io"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var _ = Describe("Connections to backends", func() {
	var (
		r       *router
		b       *backend
		handler http.HandlerFunc
	)

	BeforeEach(func() {
		r = startRouter(nil)
		handler = nil
	})

	JustBeforeEach(func() {
		b = startBackend("b", 0, func(w http.ResponseWriter, req *http.Request) {
			if handler != nil {
				handler(w, req)
				return
			}
			_, _ = io.WriteString(w, "b")
		})
		r.registry.Register("app.example.com", b.endpoint())
	})

	It("keeps one connection alive for requests one after the other, GET and HEAD", func() {
		for range 10 {
			code, _, body := r.get("app.example.com", "/", nil)
			Expect(code).To(Equal(http.StatusOK))
			Expect(body).To(Equal("b"))
			res := r.request("HEAD", "app.example.com", "/", nil, nil)
			Expect(res.StatusCode).To(Equal(http.StatusOK))
			res.Body.Close()
		}
		Expect(b.conns.Load()).To(Equal(int64(1)))
	})

	It("sends the request again on a new connection when the backend closed the idle one", func() {
		r.get("app.example.com", "/", nil)
		b.server.CloseClientConnections()
		for range 3 {
			code, _, body := r.get("app.example.com", "/", nil)
			Expect(code).To(Equal(http.StatusOK))
			Expect(body).To(Equal("b"))
		}
		Expect(b.conns.Load()).To(Equal(int64(2)))
		Expect(testutil.ToFloat64(r.metrics.EndpointFailures)).To(BeZero())
	})

	Context("when the backend asks to close", func() {
		BeforeEach(func() {
			handler = func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Connection", "close")
				_, _ = io.WriteString(w, "b")
			}
		})

		It("does not use the connection again", func() {
			for range 3 {
				_, _, body := r.get("app.example.com", "/", nil)
				Expect(body).To(Equal("b"))
			}
			Expect(b.conns.Load()).To(Equal(int64(3)))
		})
	})

	Context("when the backend sends an informational answer first", func() {
		BeforeEach(func() {
			handler = func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Link", "</style.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				_, _ = io.WriteString(w, "final")
			}
		})

		It("answers with the final response", func() {
			code, _, body := r.get("app.example.com", "/", nil)
			Expect(code).To(Equal(http.StatusOK))
			Expect(body).To(Equal("final"))
		})
	})

	Context("when the client goes away while the backend works", func() {
		var cancelled chan struct{}

		BeforeEach(func() {
			cancelled = make(chan struct{}, 1)
			handler = func(_ http.ResponseWriter, req *http.Request) {
				select {
				case <-req.Context().Done():
					cancelled <- struct{}{}
				case <-time.After(5 * time.Second):
				}
			}
		})

		It("closes the backend's connection, so the backend can stop too", func() {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, "GET", r.server.URL+"/", nil)
			Expect(err).NotTo(HaveOccurred())
			req.Host = "app.example.com"
			_, err = r.client.Do(req)
			Expect(err).To(HaveOccurred())
			Eventually(cancelled, 2*time.Second).Should(Receive())
			Eventually(func() string { return string(r.accessLog.Contents()) }).Should(ContainSubstring(`"GET / HTTP/1.1" 499 `))
			Expect(testutil.ToFloat64(r.metrics.BadGateways)).To(BeZero())
		})
	})
})
