package eventhub_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/eventhub"
	"github.com/diego-go/diego/bbs/events"
	"github.com/diego-go/diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("SSE", func() {
	var (
		hub    *eventhub.Hub
		server *httptest.Server
		logs   *syncBuffer
	)

	BeforeEach(func() {
		logs = &syncBuffer{}
		hub = eventhub.NewHub(jsonLogger(logs), 64)
		mux := http.NewServeMux()
		h := eventhub.NewHandler(jsonLogger(logs), hub, eventhub.HandlerOptions{Heartbeat: 50 * time.Millisecond})
		mux.Handle("POST /v1/events/lrp_instances.r1", h)
		server = httptest.NewServer(mux)
		DeferCleanup(server.Close)
		DeferCleanup(hub.Close)
	})

	subscribe := func(cellID string) *events.EventSource {
		GinkgoHelper()
		var body io.Reader
		if cellID != "" {
			b, err := proto.Marshal(&models.EventsByCellId{CellId: cellID})
			Expect(err).NotTo(HaveOccurred())
			body = bytes.NewReader(b)
		}
		before := hub.SubscriberCount()
		resp, err := http.Post(server.URL+"/v1/events/lrp_instances.r1", "application/x-protobuf", body)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.Header.Get("Content-Type")).To(Equal("text/event-stream; charset=utf-8"))
		Eventually(hub.SubscriberCount).Should(Equal(before + 1))
		source := events.NewEventSource(resp.Body)
		DeferCleanup(source.Close)
		return source
	}

	It("round-trips typed events in order through a real server", func() {
		source := subscribe("")
		sent := []models.Event{
			models.NewDesiredLRPCreatedEvent(desiredLRP("pg"), "trace-1"),
			models.NewActualLRPInstanceCreatedEvent(actualLRP("pg", 0, "ig-0", "cell-a"), "trace-2"),
			models.NewActualLRPInstanceChangedEvent(actualLRP("pg", 0, "ig-0", "cell-a"), actualLRP("pg", 0, "ig-0", "cell-a"), ""),
			models.NewActualLRPCrashedEvent(actualLRP("pg", 0, "ig-0", "cell-a"), actualLRP("pg", 0, "ig-0", "cell-a")),
			models.NewActualLRPInstanceRemovedEvent(actualLRP("pg", 0, "ig-0", "cell-a"), ""),
			models.NewDesiredLRPChangedEvent(desiredLRP("pg"), desiredLRP("pg"), ""),
			models.NewDesiredLRPRemovedEvent(desiredLRP("pg"), ""),
			models.NewTaskCreatedEvent(task("tg", "cell-a")),
			models.NewTaskChangedEvent(task("tg", "cell-a"), task("tg", "cell-b")),
			models.NewTaskRemovedEvent(task("tg", "cell-b")),
		}
		for _, e := range sent {
			hub.Emit(e)
		}
		for i, want := range sent {
			got, err := source.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(got.EventType()).To(Equal(want.EventType()))
			Expect(proto.Equal(got, want)).To(BeTrue(), "event %d: %v", i, got)
			Expect(source.LastEventID()).To(Equal(strings.TrimSpace(string(rune('0' + i)))))
		}
	})

	It("carries large events", func() {
		source := subscribe("")
		d := desiredLRP("big")
		d.Annotation = strings.Repeat("x", 200<<10)
		hub.Emit(models.NewDesiredLRPCreatedEvent(d, ""))
		got, err := source.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(got.(*models.DesiredLRPCreatedEvent).GetDesiredLrp().GetAnnotation()).To(HaveLen(200 << 10))
	})

	It("filters by the cell id in the request body", func() {
		source := subscribe("cell-a")
		hub.Emit(models.NewActualLRPInstanceCreatedEvent(actualLRP("pg", 0, "elsewhere", "cell-b"), ""))
		hub.Emit(models.NewActualLRPInstanceCreatedEvent(actualLRP("pg", 1, "here", "cell-a"), ""))
		hub.Emit(models.NewDesiredLRPRemovedEvent(desiredLRP("pg"), ""))
		e, err := source.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.Key()).To(Equal("here"))
		e, err = source.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.EventType()).To(Equal(models.EventTypeDesiredLRPRemoved))
	})

	It("writes heartbeat comments while quiet, which the event source skips", func() {
		resp, err := http.Post(server.URL+"/v1/events/lrp_instances.r1", "application/x-protobuf", nil)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		buf := make([]byte, 64)
		n, err := io.ReadAtLeast(resp.Body, buf, len(": heartbeat\n\n"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(buf[:n])).To(HavePrefix(": heartbeat\n\n"))

		source := subscribe("")
		time.Sleep(150 * time.Millisecond) // a few heartbeats
		hub.Emit(models.NewTaskCreatedEvent(task("after-heartbeats", "")))
		e, err := source.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.Key()).To(Equal("after-heartbeats"))
	})

	It("refuses a body that is not an EventsByCellId", func() {
		resp, err := http.Post(server.URL+"/v1/events/lrp_instances.r1", "application/x-protobuf", strings.NewReader("\xff\xff\xff"))
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		body, _ := io.ReadAll(resp.Body)
		Expect(string(body)).To(ContainSubstring("not a protobuf EventsByCellId"))
		Expect(hub.SubscriberCount()).To(BeZero())
	})

	It("unsubscribes when the client goes away", func() {
		source := subscribe("")
		Expect(source.Close()).To(Succeed())
		Eventually(hub.SubscriberCount).Should(BeZero())
		_, err := source.Next()
		Expect(err).To(MatchError(events.ErrEventSourceClosed))
	})

	It("unblocks a waiting Next on Close", func() {
		source := subscribe("")
		errs := make(chan error)
		go func() {
			_, err := source.Next()
			errs <- err
		}()
		time.Sleep(20 * time.Millisecond)
		Expect(source.Close()).To(Succeed())
		Eventually(errs).Should(Receive(MatchError(events.ErrEventSourceClosed)))
	})

	It("ends the stream with EOF when the hub closes", func() {
		source := subscribe("")
		hub.Emit(numbered(0))
		hub.Close()
		_, err := source.Next()
		// the buffered event may or may not make it; the stream then ends
		if err == nil {
			_, err = source.Next()
		}
		Expect(err).To(MatchError(io.EOF))
		Expect(logs.String()).To(ContainSubstring("events: hub closed"))
	})

	It("answers 503 when the hub is closed", func() {
		hub.Close()
		resp, err := http.Post(server.URL+"/v1/events/lrp_instances.r1", "application/x-protobuf", nil)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable))
	})

	It("cuts off a client that does not read, and keeps serving one that does", func() {
		stuck := subscribe("")
		_ = stuck // never read
		fast := subscribe("")
		got := make(chan int, 100000)
		go func() {
			for {
				_, err := fast.Next()
				if err != nil {
					close(got)
					return
				}
				got <- 1
			}
		}()
		d := desiredLRP("bulky")
		d.Annotation = strings.Repeat("y", 8<<10)
		e := models.NewDesiredLRPCreatedEvent(d, "")
		const total = 4000 // ~43 MB of frames: more than socket buffers and the 64-event buffer hold
		for i := range total {
			hub.Emit(e)
			if i%32 == 31 {
				Eventually(func() int { return len(got) }).Should(BeNumerically(">=", i-16))
			}
		}
		Eventually(func() int { return len(got) }).Should(Equal(total))
		Eventually(logs.String).Should(ContainSubstring("fell behind"))
		Expect(hub.SubscriberCount()).To(Equal(1))
	})

	It("works with a context-bound request", func() {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, server.URL+"/v1/events/lrp_instances.r1", nil)
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		Eventually(hub.SubscriberCount).Should(Equal(1))
		cancel()
		resp.Body.Close()
		Eventually(hub.SubscriberCount).Should(BeZero())
	})
})

var _ = Describe("the bound on a stream request's body", func() {
	It("is the configured max_request_bytes, on every stream route", func() {
		hub := eventhub.NewHub(jsonLogger(&syncBuffer{}), 64)
		DeferCleanup(hub.Close)
		routes := eventhub.Streams(jsonLogger(&syncBuffer{}), eventhub.HandlerOptions{MaxRequestBytes: 64}, hub, hub, hub)
		Expect(routes).NotTo(BeEmpty())
		post := func(h http.Handler, cellID string, chunked bool) int {
			b, err := proto.Marshal(&models.EventsByCellId{CellId: cellID})
			Expect(err).NotTo(HaveOccurred())
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // an accepted stream ends at once
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(b))
			if chunked {
				req.ContentLength = -1 // no length announced: the bound applies while reading
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		for route, h := range routes {
			Expect(post(h, strings.Repeat("c", 100), false)).To(Equal(http.StatusRequestEntityTooLarge), route)
			Expect(post(h, strings.Repeat("c", 100), true)).To(Equal(http.StatusRequestEntityTooLarge), route)
			Expect(post(h, "cell-1", true)).To(Equal(http.StatusOK), route)
		}
	})
})
