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

var _ = Describe("A bodyless request the backend may have received", func() {
	var (
		r     *router
		posts atomic.Int64
	)

	BeforeEach(func() {
		r = startRouter(nil)
		posts.Store(0)
	})

	// dropPost makes a backend that answers GETs, and takes a POST and then closes the
	// connection without answering, as a Go app whose handler panics does; die also closes
	// its listener first, as an app that crashed.
	dropPost := func(name string, index int, die bool) *backend {
		var b *backend
		b = startBackend(name, index, func(w http.ResponseWriter, req *http.Request) {
			if req.Method != "POST" {
				_, _ = io.WriteString(w, name)
				return
			}
			posts.Add(1)
			if die {
				b.server.Listener.Close()
			}
			panic(http.ErrAbortHandler)
		})
		r.registry.Register("app.example.com", b.endpoint())
		return b
	}

	// warm sends GETs until each backend has an idle connection from the router.
	warm := func(n int) {
		for range n {
			code, _, _ := r.get("app.example.com", "/", nil)
			Expect(code).To(Equal(http.StatusOK))
		}
	}

	It("is delivered once and answered 502 when the backend drops the kept-alive connection after reading it", func() {
		dropPost("b0", 0, false)
		warm(1)
		res := r.request("POST", "app.example.com", "/exit", nil, nil)
		res.Body.Close()
		Expect(res.StatusCode).To(Equal(http.StatusBadGateway))
		Expect(posts.Load()).To(Equal(int64(1)))
	})

	It("is not sent to another backend when its backend dies with it", func() {
		dropPost("b0", 0, true)
		dropPost("b1", 1, true)
		warm(2)
		res := r.request("POST", "app.example.com", "/exit", nil, nil)
		res.Body.Close()
		Expect(res.StatusCode).To(Equal(http.StatusBadGateway))
		Expect(posts.Load()).To(Equal(int64(1)))
	})
})
