package eventhub_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/diego-go/diego/bbs/eventhub"
	"github.com/diego-go/diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Hub", func() {
	var (
		logs *syncBuffer
		hub  *eventhub.Hub
		ctx  context.Context
	)

	BeforeEach(func() {
		logs = &syncBuffer{}
		hub = eventhub.NewHub(jsonLogger(logs), 8)
		DeferCleanup(hub.Close)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		DeferCleanup(cancel)
	})

	next := func(s *eventhub.Subscription) models.Event {
		GinkgoHelper()
		e, err := s.Next(ctx)
		Expect(err).NotTo(HaveOccurred())
		return e
	}

	It("delivers events to every subscriber in the order they were emitted", func() {
		a, err := hub.Subscribe("")
		Expect(err).NotTo(HaveOccurred())
		b, err := hub.Subscribe("")
		Expect(err).NotTo(HaveOccurred())
		for i := range 8 {
			hub.Emit(numbered(i))
		}
		for _, s := range []*eventhub.Subscription{a, b} {
			for i := range 8 {
				Expect(next(s).Key()).To(Equal(numbered(i).Key()))
			}
		}
	})

	It("keeps each emitter's order under concurrent emitters", func() {
		hub = eventhub.NewHub(nil, 10000)
		s, err := hub.Subscribe("")
		Expect(err).NotTo(HaveOccurred())
		var wg sync.WaitGroup
		for _, cell := range []string{"x", "y", "z"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 1000 {
					hub.Emit(models.NewTaskCreatedEvent(&models.Task{TaskGuid: cell, CellId: cell, Result: string(rune('0' + i%10)), RejectionCount: int32(i)}))
				}
			}()
		}
		wg.Wait()
		last := map[string]int32{"x": -1, "y": -1, "z": -1}
		for range 3000 {
			t := next(s).(*models.TaskCreatedEvent).GetTask()
			Expect(t.GetRejectionCount()).To(Equal(last[t.GetTaskGuid()] + 1))
			last[t.GetTaskGuid()] = t.GetRejectionCount()
		}
	})

	It("filters a subscription to the events concerning its cell", func() {
		onA, err := hub.Subscribe("cell-a")
		Expect(err).NotTo(HaveOccurred())
		all, err := hub.Subscribe("")
		Expect(err).NotTo(HaveOccurred())
		Expect(onA.CellID()).To(Equal("cell-a"))

		hub.Emit(models.NewActualLRPInstanceCreatedEvent(actualLRP("pg", 0, "on-b", "cell-b"), ""))
		hub.Emit(models.NewActualLRPInstanceCreatedEvent(actualLRP("pg", 1, "on-a", "cell-a"), ""))
		hub.Emit(models.NewDesiredLRPChangedEvent(desiredLRP("pg"), desiredLRP("pg"), ""))
		hub.Emit(models.NewActualLRPCrashedEvent(actualLRP("pg", 0, "on-b", "cell-b"), actualLRP("pg", 0, "on-b", "cell-b")))
		hub.Emit(models.NewActualLRPInstanceRemovedEvent(actualLRP("pg", 1, "on-a", "cell-a"), ""))

		Expect(next(onA).EventType()).To(Equal(models.EventTypeActualLRPInstanceCreated))
		Expect(next(onA).EventType()).To(Equal(models.EventTypeDesiredLRPChanged))
		e := next(onA)
		Expect(e.EventType()).To(Equal(models.EventTypeActualLRPInstanceRemoved))
		Expect(e.Key()).To(Equal("on-a"))

		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err = onA.Next(short)
		Expect(err).To(MatchError(context.DeadlineExceeded))

		for range 5 {
			next(all)
		}
	})

	It("cuts off a slow subscriber, logs it, and never blocks the emitter or a fast subscriber", func() {
		slow, err := hub.SubscribeNamed("slow-route-emitter", "")
		Expect(err).NotTo(HaveOccurred())
		fast, err := hub.Subscribe("")
		Expect(err).NotTo(HaveOccurred())

		// The emitter emits in bursts of a full buffer; the fast subscriber
		// drains after each burst, the slow one never reads.
		const total = 504
		for burst := 0; burst < total/8; burst++ {
			for i := burst * 8; i < burst*8+8; i++ {
				hub.Emit(numbered(i)) // returns at once, whoever reads
			}
			for i := burst * 8; i < burst*8+8; i++ {
				Expect(next(fast).Key()).To(Equal(numbered(i).Key()))
			}
		}

		_, err = slow.Next(ctx)
		var behind *eventhub.FellBehindError
		Expect(errors.As(err, &behind)).To(BeTrue(), "got %v", err)
		Expect(behind.Subscriber).To(Equal("slow-route-emitter"))
		Expect(behind.Unread).To(Equal(9))
		Expect(err.Error()).To(ContainSubstring("subscriber slow-route-emitter fell behind (9 unread events"))
		// it stays cut off
		_, err = slow.Next(ctx)
		Expect(errors.As(err, &behind)).To(BeTrue())

		Expect(logs.String()).To(SatisfyAll(
			ContainSubstring(`"msg":"event subscriber fell behind; cutting it off"`),
			ContainSubstring(`"subscriber":"slow-route-emitter"`),
			ContainSubstring(`"unread_events":9`),
			ContainSubstring(`"buffer_size":8`),
			ContainSubstring(`"last_read_ago"`),
		))
		Expect(hub.SubscriberCount()).To(Equal(1))
	})

	It("returns immediately from Emit when no one reads at all", func() {
		for range 3 {
			_, err := hub.Subscribe("")
			Expect(err).NotTo(HaveOccurred())
		}
		done := make(chan struct{})
		go func() {
			for i := range 10000 {
				hub.Emit(numbered(i))
			}
			close(done)
		}()
		Eventually(done).Within(2 * time.Second).Should(BeClosed())
		Expect(hub.SubscriberCount()).To(BeZero())
	})

	It("ends a subscription its subscriber closes, without touching the others", func() {
		a, _ := hub.Subscribe("")
		b, _ := hub.Subscribe("")
		hub.Emit(numbered(0))

		blocked := make(chan error)
		go func() {
			_, err := a.Next(ctx)
			_, err = a.Next(ctx)
			blocked <- err
		}()
		a.Close()
		Eventually(blocked).Should(Receive(MatchError(eventhub.ErrSubscriptionClosed)))
		a.Close() // twice is fine
		hub.Emit(numbered(1))
		Expect(next(b).Key()).To(Equal(numbered(0).Key()))
		Expect(next(b).Key()).To(Equal(numbered(1).Key()))
		Expect(hub.SubscriberCount()).To(Equal(1))
	})

	It("ends every subscription when the hub closes and refuses new ones", func() {
		a, _ := hub.Subscribe("")
		hub.Close()
		_, err := a.Next(ctx)
		Expect(err).To(MatchError(eventhub.ErrHubClosed))
		_, err = hub.Subscribe("")
		Expect(err).To(MatchError(eventhub.ErrHubClosed))
		hub.Emit(numbered(0)) // no-op
	})

	It("returns the context's error when the caller gives up", func() {
		a, _ := hub.Subscribe("")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := a.Next(cctx)
		Expect(err).To(MatchError(context.Canceled))
	})
})
