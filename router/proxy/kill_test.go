package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("A backend killed under load", func() {
	var (
		r        *router
		backends []*backend
		mu       sync.Mutex
		received map[string]int // POST bodies received, by backend and overall
	)

	BeforeEach(func() {
		r = startRouter(nil)
		received = map[string]int{}
		backends = nil
		for i := range 3 {
			b := startBackend(fmt.Sprint("b", i), i, func(w http.ResponseWriter, req *http.Request) {
				if body, _ := io.ReadAll(req.Body); len(body) > 0 {
					mu.Lock()
					received[string(body)]++
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
				_, _ = io.WriteString(w, "ok")
			})
			backends = append(backends, b)
			r.registry.Register("app.example.com", b.endpoint())
		}
	})

	// load sends requests from 8 clients for a second and kills backend 1 as a crash does (its
	// connections cut, in-flight requests with them) after a third of it. It returns the
	// answers by status.
	load := func(method string) map[int]int {
		var (
			wg      sync.WaitGroup
			seq     atomic.Int64
			statusM sync.Mutex
			status  = map[int]int{}
		)
		deadline := time.Now().Add(time.Second)
		for range 8 {
			wg.Go(func() {
				defer GinkgoRecover()
				for time.Now().Before(deadline) {
					var body io.Reader
					if method == "POST" {
						id := fmt.Sprint("post-", seq.Add(1))
						body = strings.NewReader(id)
					}
					res := r.request(method, "app.example.com", "/", body, nil)
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					statusM.Lock()
					status[res.StatusCode]++
					statusM.Unlock()
				}
			})
		}
		time.Sleep(300 * time.Millisecond)
		killed := backends[1].server
		killed.Listener.Close()
		killed.CloseClientConnections()
		wg.Wait()
		return status
	}

	It("costs a client sending GETs no error", func() {
		status := load("GET")
		Expect(status).To(HaveLen(1))
		Expect(status[http.StatusOK]).To(BeNumerically(">", 100))
	})

	It("never delivers a POST twice, and fails only those the killed backend may have received", func() {
		status := load("POST")
		Expect(status[http.StatusOK]).To(BeNumerically(">", 100))
		for s := range status {
			Expect(s).To(BeElementOf(http.StatusOK, http.StatusBadGateway))
		}
		mu.Lock()
		defer mu.Unlock()
		for id, n := range received {
			Expect(n).To(Equal(1), id)
		}
	})
})
