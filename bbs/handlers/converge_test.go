package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/convergence"
	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/models"
)

var _ = Describe("the convergence route", func() {
	It("recreates and auctions missing instances", func() {
		Expect(client.DesireLRP(ctx, desired("conv", 2))).To(Succeed())
		Eventually(auctioneer.LRPs).Should(HaveLen(1))
		_, err := store.RemoveActualLRP(ctx, "conv", 1, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(client.Converge(ctx)).To(Succeed())
		Expect(client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "conv"})).To(HaveLen(2))
		Eventually(auctioneer.LRPs).Should(HaveLen(2))
		Expect(auctioneer.LRPs()[1].Indices).To(Equal([]int32{1}))
	})

	It("unclaims and auctions at once the CLAIMED instances of a vanished cell, and fails its tasks", func() {
		Expect(client.DesireLRP(ctx, desired("lost", 1))).To(Succeed())
		Eventually(auctioneer.LRPs).Should(HaveLen(1))
		Expect(client.ClaimActualLRP(ctx, "lost", 0, ikey("ig", "gone-cell"))).To(Succeed())
		Expect(client.DesireTask(ctx, "lost-task", "d", taskDef())).To(Succeed())
		_, err := client.StartTask(ctx, "lost-task", "gone-cell")
		Expect(err).NotTo(HaveOccurred())

		Expect(client.Converge(ctx)).To(Succeed())
		as, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "lost"})
		Expect(err).NotTo(HaveOccurred())
		Expect(as[0].GetState()).To(Equal(models.ActualLRPStateUnclaimed))
		Eventually(auctioneer.LRPs).Should(HaveLen(2))
		t, err := client.TaskByGuid(ctx, "lost-task")
		Expect(err).NotTo(HaveOccurred())
		Expect(t.GetState()).To(Equal(models.Task_Completed))
		Expect(t.GetFailureReason()).To(Equal(convergence.TaskFailureCellVanished))
	})

	It("retires extra instances only when the domain is fresh", func() {
		Expect(client.DesireLRP(ctx, desired("extra", 1))).To(Succeed())
		_, err := store.DesireLRP(ctx, desired("other", 3))
		Expect(err).NotTo(HaveOccurred())
		// an instance at index 1 of "extra" that is not desired
		Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key("extra", 1), ActualLrpInstanceKey: ikey("x", "cell-1"),
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "1.2.3.4"}})).To(Succeed())
		Expect(client.Converge(ctx)).To(Succeed())
		Consistently(repCalls, "200ms").ShouldNot(Receive())

		Expect(client.UpsertDomain(ctx, "cf-apps", 0)).To(Succeed())
		Expect(client.Converge(ctx)).To(Succeed())
		Eventually(repCalls).Should(Receive(Equal("POST /v1/lrps/extra/instances/x/stop")))
	})
})

var _ = Describe("task convergence", func() {
	It("kicks pending tasks, expires completed ones and fails long-pending ones", func() {
		Expect(client.DesireTask(ctx, "kick-me", "d", taskDef())).To(Succeed())
		Expect(client.DesireTask(ctx, "done", "d", taskDef())).To(Succeed())
		_, err := client.StartTask(ctx, "done", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(client.CompleteTask(ctx, "done", "cell-1", false, "", "ok")).To(Succeed())
		Eventually(auctioneer.Tasks).Should(HaveLen(2))
		time.Sleep(1100 * time.Millisecond)

		kickAndExpire := service.New(service.Config{DB: store, Auctioneer: auctioneer.Client(), Convergence: convergenceWith(func(c *convergence.Config) {
			c.KickTask, c.ExpireCompletedTask, c.ExpirePendingTask = time.Second, time.Second, time.Hour
		})})
		DeferCleanup(kickAndExpire.Close)
		Expect(kickAndExpire.Converge(ctx)).To(Succeed())
		kickAndExpire.Wait() // the pass's auction requests
		Expect(auctioneer.Tasks()).To(HaveLen(3))
		Expect(auctioneer.Tasks()[2].TaskGuid).To(Equal("kick-me"))
		_, err = client.TaskByGuid(ctx, "done")
		Expect(errType(err)).To(Equal(models.Error_ResourceNotFound))

		failPending := service.New(service.Config{DB: store, Auctioneer: auctioneer.Client(), Convergence: convergenceWith(func(c *convergence.Config) {
			c.KickTask, c.ExpirePendingTask = time.Hour, time.Second
		})})
		DeferCleanup(failPending.Close)
		Expect(failPending.Converge(ctx)).To(Succeed())
		t, err := client.TaskByGuid(ctx, "kick-me")
		Expect(err).NotTo(HaveOccurred())
		Expect(t.GetState()).To(Equal(models.Task_Completed))
		Expect(t.GetFailed()).To(BeTrue())
		Expect(t.GetFailureReason()).To(Equal(convergence.TaskFailureNotStarted))
	})
})

var _ = Describe("callback convergence", func() {
	It("leaves a Resolving task that another resolver took since the snapshot (no second callback)", func() {
		var calls atomic.Int32
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusOK)
		}))
		DeferCleanup(cb.Close)
		def := taskDef()
		def.CompletionCallbackUrl = cb.URL
		Expect(client.DesireTask(ctx, "stuck", "d", def)).To(Succeed())
		// resolver A takes the task and dies: it stays Resolving past the kick timeout
		_, _, _, err := store.StartTask(ctx, "stuck", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		_, _, err = store.CompleteTask(ctx, "stuck", "cell-1", false, "", "r")
		Expect(err).NotTo(HaveOccurred())
		_, _, err = store.ResolvingTask(ctx, "stuck")
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(1100 * time.Millisecond)

		// after the pass has read the tasks (the cells are read alongside), the task is given back
		// and resolver B takes it: B is now delivering the callback
		var once sync.Once
		h := service.New(service.Config{DB: store, Auctioneer: auctioneer.Client(), CallbackRetryWait: 10 * time.Millisecond,
			Convergence: convergenceWith(func(c *convergence.Config) { c.KickTask = time.Second }),
			Cells: func(context.Context) ([]*models.CellPresence, error) {
				once.Do(func() {
					defer GinkgoRecover()
					time.Sleep(500 * time.Millisecond)
					_, _, err := store.MutateTask(ctx, "stuck", func(t *models.Task) (*models.Task, bool, error) {
						t.State = models.Task_Completed
						return t, false, nil
					})
					Expect(err).NotTo(HaveOccurred())
					_, _, err = store.ResolvingTask(ctx, "stuck")
					Expect(err).NotTo(HaveOccurred())
				})
				return []*models.CellPresence{{CellId: "cell-1"}}, nil
			}})
		DeferCleanup(h.Close)

		Expect(h.Converge(ctx)).To(Succeed())
		Consistently(calls.Load, "500ms").Should(BeZero())
		t, err := store.TaskByGuid(ctx, "stuck")
		Expect(err).NotTo(HaveOccurred())
		Expect(t.GetState()).To(Equal(models.Task_Resolving))

		// a task still as the snapshot saw it is re-sent
		time.Sleep(1100 * time.Millisecond)
		Expect(h.Converge(ctx)).To(Succeed())
		Eventually(calls.Load, "5s").Should(Equal(int32(1)))
		Eventually(func() error { _, err := store.TaskByGuid(ctx, "stuck"); return err }, "5s").Should(HaveOccurred())
		Consistently(calls.Load, "300ms").Should(Equal(int32(1)))
	})
})

var _ = Describe("crash convergence", func() {
	It("restarts a CRASHED instance once the restart policy's backoff has passed", func() {
		// a clock of the spec's own, so "before" and "after" the backoff do not depend on how fast
		// the machine runs the steps in between
		var clockMu sync.Mutex
		now := time.Now()
		clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
		advance := func(d time.Duration) { clockMu.Lock(); defer clockMu.Unlock(); now = now.Add(d) }
		fast := db.New(etcdCli, keyring, db.WithClock(clock), db.WithRestartPolicy(models.RestartPolicy{
			ImmediateRestarts: 1, MinBackoff: 300 * time.Millisecond, MaxBackoff: time.Second, MaxRestarts: 10, CrashResetAfter: time.Minute,
		}))
		h := service.New(service.Config{DB: fast, Auctioneer: auctioneer.Client(), Cells: func(context.Context) ([]*models.CellPresence, error) {
			return []*models.CellPresence{{CellId: "cell-1"}}, nil
		}})
		DeferCleanup(h.Close)

		Expect(client.DesireLRP(ctx, desired("crashy", 1))).To(Succeed())
		Eventually(auctioneer.LRPs).Should(HaveLen(1))
		Expect(client.ClaimActualLRP(ctx, "crashy", 0, ikey("ig", "cell-1"))).To(Succeed())
		_, after, restart, err := fast.CrashActualLRP(ctx, key("crashy", 0), ikey("ig", "cell-1"), "exit 1")
		Expect(err).NotTo(HaveOccurred())
		Expect(restart).To(BeFalse())
		Expect(after.GetState()).To(Equal(models.ActualLRPStateCrashed))

		// no cell may claim or start it meanwhile (nor the container that crashed)
		for _, ik := range []*models.ActualLRPInstanceKey{ikey("ig", "cell-1"), ikey("ig-2", "cell-1")} {
			Expect(errType(client.ClaimActualLRP(ctx, "crashy", 0, ik))).To(Equal(models.Error_ActualLRPCannotBeClaimed))
			Expect(errType(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key("crashy", 0), ActualLrpInstanceKey: ik,
				ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "1.2.3.4"}}))).To(Equal(models.Error_ActualLRPCannotBeStarted))
		}

		Expect(h.Converge(ctx)).To(Succeed())
		h.Wait()
		Expect(auctioneer.LRPs()).To(HaveLen(1)) // still backing off
		advance(250 * time.Millisecond)
		Expect(h.Converge(ctx)).To(Succeed())
		h.Wait()
		Expect(auctioneer.LRPs()).To(HaveLen(1)) // still backing off
		advance(100 * time.Millisecond)
		Expect(h.Converge(ctx)).To(Succeed())
		h.Wait()
		Expect(auctioneer.LRPs()).To(HaveLen(2))
		// the suite's server, which the client asks, learns of the other store's write through
		// its etcd watch
		var as []*models.ActualLRP
		Eventually(func() string {
			as, err = client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "crashy"})
			Expect(err).NotTo(HaveOccurred())
			return as[0].GetState()
		}).Should(Equal(models.ActualLRPStateUnclaimed))
		Expect(as[0].GetCrashCount()).To(Equal(int32(1)))

		// the auction's winner claims and starts it
		Expect(client.ClaimActualLRP(ctx, "crashy", 0, ikey("ig-2", "cell-1"))).To(Succeed())
		Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key("crashy", 0), ActualLrpInstanceKey: ikey("ig-2", "cell-1"),
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "1.2.3.4"}})).To(Succeed())
		as, err = client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "crashy"})
		Expect(err).NotTo(HaveOccurred())
		Expect(as[0].GetState()).To(Equal(models.ActualLRPStateRunning))
	})
})
