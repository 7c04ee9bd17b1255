package world

import (
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
)

// LoadOptions shape a load: Concurrency clients (default 4) each send Method (default GET) Path
// (default "/") and wait Pause (default 10 ms) before the next, until Stop or For (default 2 min)
// has passed. Each POST carries a body of its own, "<host>#<n>", which the test app's
// POST /record prints: a spec can tell from the app's log which instance got which POST, and how
// many times.
type LoadOptions struct {
	Concurrency int
	Method      string
	Path        string
	Pause       time.Duration
	For         time.Duration
}

// Load is steady requests through a router to one host.
type Load struct {
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu   sync.Mutex
	sent int
	res  LoadResult
}

// LoadResult counts a load's requests: each failure's reason (the router's X-Cf-RouterError or
// status, or the client's error), each instance that answered (the test app's
// X-Testapp-Instance) and, for POSTs, each body and whether it was answered 200.
type LoadResult struct {
	Requests  int
	Failures  int
	Reasons   map[string]int
	Instances map[string]int
	Posted    map[string]bool
}

func (r LoadResult) String() string {
	var reasons []string
	for k, v := range r.Reasons {
		reasons = append(reasons, fmt.Sprintf("%dx %s", v, k))
	}
	sort.Strings(reasons)
	return fmt.Sprintf("%d requests, %d failed (%s), answered by %d instances", r.Requests, r.Failures, strings.Join(reasons, "; "), len(r.Instances))
}

// StartLoad starts a load on host through the router; it stops at Stop, after opts.For, or when
// the spec ends.
func (r *Router) StartLoad(host string, opts LoadOptions) *Load {
	if opts.Concurrency == 0 {
		opts.Concurrency = 4
	}
	if opts.Method == "" {
		opts.Method = http.MethodGet
	}
	if opts.Path == "" {
		opts.Path = "/"
	}
	if opts.Pause == 0 {
		opts.Pause = 10 * time.Millisecond
	}
	if opts.For == 0 {
		opts.For = 2 * time.Minute
	}
	l := &Load{stop: make(chan struct{}), res: LoadResult{Reasons: map[string]int{}, Instances: map[string]int{}, Posted: map[string]bool{}}}
	deadline := time.After(opts.For)
	ended := make(chan struct{})
	go func() {
		select {
		case <-deadline:
			l.halt()
		case <-l.stop:
		}
		close(ended)
	}()
	for range opts.Concurrency {
		l.wg.Add(1)
		go func() {
			defer GinkgoRecover()
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				body := ""
				if opts.Method == http.MethodPost {
					l.mu.Lock()
					l.sent++
					body = fmt.Sprintf("%s#%d", host, l.sent)
					l.mu.Unlock()
				}
				a := r.Do(opts.Method, host, opts.Path, body)
				l.mu.Lock()
				l.res.Requests++
				if a.Err != nil {
					l.res.Failures++
					l.res.Reasons[a.Err.Error()]++
				} else if a.Instance != "" {
					l.res.Instances[a.Instance]++
				}
				if body != "" {
					l.res.Posted[body] = a.Err == nil
				}
				l.mu.Unlock()
				select {
				case <-l.stop:
					return
				case <-time.After(opts.Pause):
				}
			}
		}()
	}
	DeferCleanup(func() { l.Stop(); <-ended })
	return l
}

func (l *Load) halt() { l.once.Do(func() { close(l.stop) }) }

// Stop ends the load, waits for the requests in flight and returns the counts.
func (l *Load) Stop() LoadResult {
	l.halt()
	l.wg.Wait()
	return l.Result()
}

// Result is the counts so far.
func (l *Load) Result() LoadResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LoadResult{Requests: l.res.Requests, Failures: l.res.Failures, Reasons: maps.Clone(l.res.Reasons),
		Instances: maps.Clone(l.res.Instances), Posted: maps.Clone(l.res.Posted)}
}
