package bbs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/events"
	"github.com/diego-go/diego/models"
)

// fakeBBS answers every route with an empty response (ping: available, list desired LRPs: one
// naming the server), and can be told to
// answer 503 or to drop the connection once it has read a request.
type fakeBBS struct {
	server *httptest.Server
	hits   atomic.Int32
	mode   atomic.Int32 // 0 answer, 1 answer 503, 2 drop the connection
	// stream, when set, serves the event routes
	stream func(w http.ResponseWriter, r *http.Request)
}

const (
	answer = iota
	unavailable
	drop
)

func newFakeBBS() *fakeBBS {
	f := &fakeBBS{}
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		switch f.mode.Load() {
		case unavailable:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		case drop:
			conn, _, err := http.NewResponseController(w).Hijack()
			Expect(err).NotTo(HaveOccurred())
			conn.Close()
			return
		}
		if f.stream != nil && (r.URL.Path == bbs.LRPInstanceEventsRoute || r.URL.Path == bbs.TaskEventsRoute) {
			f.stream(w, r)
			return
		}
		var resp proto.Message = &models.DesiredLRPLifecycleResponse{}
		switch r.URL.Path {
		case bbs.DesiredLRPsRoute:
			resp = &models.DesiredLRPsResponse{DesiredLrps: []*models.DesiredLRP{{ProcessGuid: "from-" + f.server.URL}}}
		case bbs.PingRoute:
			resp = &models.PingResponse{Available: true}
		}
		b, _ := proto.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
	}))
	DeferCleanup(f.server.Close)
	return f
}

// refusedURL is a URL nothing listens on.
func refusedURL() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

var _ = Describe("the client's failover", func() {
	var (
		ctx  context.Context
		logs *gbytes.Buffer
		opts []bbs.Option
	)
	BeforeEach(func() {
		ctx = context.Background()
		logs = gbytes.NewBuffer()
		opts = []bbs.Option{bbs.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), bbs.WithRetry(3, 20*time.Millisecond)}
	})

	It("sends a change to the next BBS when the first refuses the connection, and then keeps to that one", func() {
		up := newFakeBBS()
		c := bbs.NewClient(refusedURL(), nil, append(opts, bbs.WithURLs(up.server.URL))...)
		Expect(c.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: "p"})).To(Succeed())
		Expect(up.hits.Load()).To(BeEquivalentTo(1))
		Expect(string(logs.Contents())).To(ContainSubstring("trying the next"))

		before := string(logs.Contents())
		Expect(c.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: "q"})).To(Succeed())
		Expect(string(logs.Contents())).To(Equal(before)) // straight to the BBS that answered last
	})

	It("sends a change to the next BBS when one answers 503", func() {
		busy, up := newFakeBBS(), newFakeBBS()
		busy.mode.Store(unavailable)
		c := bbs.NewClient(busy.server.URL, nil, append(opts, bbs.WithURLs(up.server.URL))...)
		Expect(c.RemoveDesiredLRP(ctx, "p")).To(Succeed())
		Expect(busy.hits.Load()).To(BeEquivalentTo(1))
		Expect(up.hits.Load()).To(BeEquivalentTo(1))
	})

	It("sends a read again when its answer was lost, but never a change that may have been applied", func() {
		dropping, up := newFakeBBS(), newFakeBBS()
		dropping.mode.Store(drop)
		c := bbs.NewClient(dropping.server.URL, nil, append(opts, bbs.WithURLs(up.server.URL))...)
		ds, err := c.DesiredLRPs(ctx, bbs.DesiredLRPFilter{})
		Expect(err).NotTo(HaveOccurred())
		Expect(ds[0].GetProcessGuid()).To(Equal("from-" + up.server.URL))

		lone := bbs.NewClient(dropping.server.URL, nil, append(opts, bbs.WithURLs(up.server.URL))...)
		dropping.hits.Store(0)
		up.hits.Store(0)
		Expect(lone.DesireTask(ctx, "t", "d", &models.TaskDefinition{})).To(HaveOccurred())
		Expect(dropping.hits.Load()).To(BeEquivalentTo(1))
		Expect(up.hits.Load()).To(BeZero())
	})

	It("makes bounded rounds over the URLs, pausing between them", func() {
		c := bbs.NewClient(refusedURL(), nil, append(opts, bbs.WithURLs(refusedURL()), bbs.WithRetry(4, 50*time.Millisecond))...)
		start := time.Now()
		_, err := c.Tasks(ctx, bbs.TaskFilter{})
		Expect(err).To(MatchError(ContainSubstring("connection refused")))
		Expect(time.Since(start)).To(BeNumerically(">=", 150*time.Millisecond))
		Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second))
	})

	It("asks the resolver for the URLs on every round, before the fixed ones", func() {
		up := newFakeBBS()
		var asked atomic.Int32
		resolve := func(context.Context) ([]string, error) {
			if asked.Add(1) == 1 {
				return nil, errors.New("no agent")
			}
			return []string{up.server.URL}, nil
		}
		c := bbs.NewClient("", nil, append(opts, bbs.WithResolver(resolve))...)
		Expect(c.Ping(ctx)).To(BeFalse()) // one round: the resolver failed
		Expect(c.Ping(ctx)).To(BeTrue())
		Expect(asked.Load()).To(BeEquivalentTo(2))
	})

	It("asks the BBS that answered last without resolving, and resolves once it does not answer", func() {
		first, second := newFakeBBS(), newFakeBBS()
		var asked atomic.Int32
		resolved := first.server.URL
		resolve := func(context.Context) ([]string, error) {
			asked.Add(1)
			return []string{resolved}, nil
		}
		c := bbs.NewClient("", nil, append(opts, bbs.WithResolver(resolve))...)
		for range 5 {
			Expect(c.Ping(ctx)).To(BeTrue())
		}
		Expect(asked.Load()).To(BeEquivalentTo(1))
		Expect(first.hits.Load()).To(BeEquivalentTo(5))

		// the leader moves: the last one refuses, the resolver names the new one
		first.mode.Store(unavailable)
		resolved = second.server.URL
		Expect(c.Ping(ctx)).To(BeTrue())
		Expect(asked.Load()).To(BeEquivalentTo(2))
		Expect(second.hits.Load()).To(BeEquivalentTo(1))
		Expect(c.Ping(ctx)).To(BeTrue())
		Expect(asked.Load()).To(BeEquivalentTo(2))
		Expect(second.hits.Load()).To(BeEquivalentTo(2))
	})
})

var _ = Describe("the client's event streams", func() {
	It("reconnect on their own when the connection breaks, and say so once", func() {
		logs := gbytes.NewBuffer()
		var served atomic.Int32
		f := newFakeBBS()
		f.stream = func(w http.ResponseWriter, r *http.Request) {
			n := served.Add(1)
			w.Header().Set("Content-Type", "text/event-stream")
			frame, err := events.EncodeFrame(0, models.NewTaskRemovedEvent(&models.Task{TaskGuid: "t" + string(rune('0'+n))}))
			Expect(err).NotTo(HaveOccurred())
			_, _ = w.Write(frame)
			if n == 1 {
				return // the first connection ends after one event
			}
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
		}
		c := bbs.NewClient(f.server.URL, nil, bbs.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
		s, err := c.SubscribeToTaskEvents(context.Background(), "")
		Expect(err).NotTo(HaveOccurred())
		defer s.Close()

		e, err := s.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.Key()).To(Equal("t1"))
		_, err = s.Next()
		Expect(err).To(MatchError(bbs.ErrReconnected))
		var re *bbs.ReconnectedError
		Expect(errors.As(err, &re)).To(BeTrue())
		Expect(re.URL).To(Equal(f.server.URL))
		Expect(string(logs.Contents())).To(ContainSubstring("event stream reconnected"))
		e, err = s.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.Key()).To(Equal("t2"))

		go func() { time.Sleep(100 * time.Millisecond); s.Close() }()
		_, err = s.Next()
		Expect(err).To(MatchError(events.ErrEventSourceClosed))
	})

	It("ends when closed while reconnecting", func() {
		f := newFakeBBS()
		f.stream = func(w http.ResponseWriter, r *http.Request) {}
		c := bbs.NewClient(f.server.URL, nil, bbs.WithLogger(slog.New(slog.DiscardHandler)))
		s, err := c.SubscribeToTaskEvents(context.Background(), "")
		Expect(err).NotTo(HaveOccurred())
		f.mode.Store(unavailable)
		go func() { time.Sleep(300 * time.Millisecond); s.Close() }()
		_, err = s.Next()
		Expect(err).To(MatchError(events.ErrEventSourceClosed))
	})
})
