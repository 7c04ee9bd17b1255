package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

// answerLosingKV applies every transaction on the real etcd but, for the transactions that
// write at least minTaskPuts task records (with deleteOnly: that delete and put nothing) while
// faults last, throws the answer away and reports an error: what a client sees when the
// connection breaks after etcd applied the change. While readFaults last, a read-only
// transaction (no compares: what settle reads the outcome with) fails without being run. While
// dropFaults last, a transaction that puts fails without being run, after calling onDrop (the
// request's context ending, say).
type answerLosingKV struct {
	clientv3.KV
	minTaskPuts int
	deleteOnly  bool
	faults      atomic.Int32
	readFaults  atomic.Int32
	dropFaults  atomic.Int32
	onDrop      func()
	lost        atomic.Int32
}

func (kv *answerLosingKV) Txn(ctx context.Context) clientv3.Txn {
	return &answerLosingTxn{Txn: kv.KV.Txn(ctx), kv: kv}
}

type answerLosingTxn struct {
	clientv3.Txn
	kv                  *answerLosingKV
	cmps, puts, deletes int
	taskPuts            int
}

func (t *answerLosingTxn) If(cs ...clientv3.Cmp) clientv3.Txn {
	t.cmps += len(cs)
	t.Txn = t.Txn.If(cs...)
	return t
}

func (t *answerLosingTxn) Else(ops ...clientv3.Op) clientv3.Txn {
	t.Txn = t.Txn.Else(ops...)
	return t
}

func (t *answerLosingTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	for _, op := range ops {
		switch {
		case op.IsPut():
			t.puts++
			if strings.HasPrefix(string(op.KeyBytes()), db.TaskPrefix) {
				t.taskPuts++
			}
		case op.IsDelete():
			t.deletes++
		}
	}
	t.Txn = t.Txn.Then(ops...)
	return t
}

func (t *answerLosingTxn) Commit() (*clientv3.TxnResponse, error) {
	if t.cmps == 0 && t.puts == 0 && t.deletes == 0 && t.kv.readFaults.Add(-1) >= 0 {
		return nil, errors.New("injected: etcd unreachable for a read")
	}
	if t.puts > 0 && t.kv.dropFaults.Add(-1) >= 0 {
		t.kv.onDrop()
		return nil, errors.New("injected: connection lost before the transaction reached etcd")
	}
	resp, err := t.Txn.Commit()
	picked := t.taskPuts >= t.kv.minTaskPuts
	if t.kv.deleteOnly {
		picked = t.puts == 0 && t.deletes > 0
	}
	if err == nil && resp.Succeeded && picked && t.kv.faults.Add(-1) >= 0 {
		t.kv.lost.Add(1)
		return nil, errors.New("injected: connection lost after the transaction was applied")
	}
	return resp, err
}

var _ = Describe("a change whose answer from etcd is lost", func() {
	var kv *answerLosingKV

	BeforeEach(func() {
		cli := newEtcdClient()
		DeferCleanup(cli.Close)
		kv = &answerLosingKV{KV: cli.KV, minTaskPuts: 1}
		cli.KV = kv
		store = db.New(cli, keys)
	})

	startAll := func(n int, prefix string) {
		for i := 0; i < n; i++ {
			_, err := store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, fmt.Sprintf("%s-%d", prefix, i), "d")
			Expect(err).NotTo(HaveOccurred())
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				<-start
				_, after, shouldStart, err := store.StartTask(ctx, fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("cell-%d", i))
				Expect(err).NotTo(HaveOccurred())
				Expect(shouldStart).To(BeTrue(), "the cell whose start committed was told not to start the task")
				Expect(after.GetCellId()).To(Equal(fmt.Sprintf("cell-%d", i)))
			}()
		}
		close(start)
		wg.Wait()
	}

	It("still tells the cell whose task start committed to start it", func() {
		kv.faults.Store(3)
		startAll(3, "lone")
		Expect(kv.lost.Load()).To(Equal(int32(3)))
	})

	It("answers an error, never a refused start, when it cannot read whether its start was applied", func() {
		_, err := store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, "unreadable", "d")
		Expect(err).NotTo(HaveOccurred())
		kv.faults.Store(1)
		kv.readFaults.Store(2) // both of settle's reads; its retry is refused, the first call landed
		_, _, shouldStart, err := store.StartTask(ctx, "unreadable", "cell-a")
		Expect(err).To(HaveOccurred(), "should_start=%v", shouldStart)
		Expect(errors.Is(err, &models.Error{Type: models.Error_UnknownError})).To(BeTrue(), "%v", err)
		Expect(kv.lost.Load()).To(Equal(int32(1)))
		Expect(kv.readFaults.Load()).To(BeNumerically("<=", 0))
		t, err := store.TaskByGuid(ctx, "unreadable")
		Expect(err).NotTo(HaveOccurred())
		Expect(t.GetCellId()).To(Equal("cell-a"))
	})

	It("settles a start whose request ended with its first call, not with the request", func() {
		_, err := store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, "ended", "d")
		Expect(err).NotTo(HaveOccurred())
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		kv.onDrop = cancel
		kv.dropFaults.Store(1)
		_, after, shouldStart, err := store.StartTask(rctx, "ended", "cell-a")
		Expect(err).NotTo(HaveOccurred())
		Expect(shouldStart).To(BeTrue())
		Expect(after.GetCellId()).To(Equal("cell-a"))
		Expect(kv.dropFaults.Load()).To(BeNumerically("<", 0))
	})

	Describe("that only deletes", func() {
		BeforeEach(func() { kv.deleteOnly = true })

		It("reports the removal of a desired LRP as done", func() {
			_, err := store.DesireLRP(ctx, newDesired("gone", 1))
			Expect(err).NotTo(HaveOccurred())
			kv.faults.Store(1)
			before, err := store.RemoveDesiredLRP(ctx, "gone")
			Expect(err).NotTo(HaveOccurred())
			Expect(before.GetProcessGuid()).To(Equal("gone"))
			Expect(kv.lost.Load()).To(Equal(int32(1)))
		})

		It("reports the removal of an instance and the deletion of a task as done", func() {
			_, err := store.DesireLRP(ctx, newDesired("lrp", 1))
			Expect(err).NotTo(HaveOccurred())
			ik := &models.ActualLRPInstanceKey{InstanceGuid: "i", CellId: "c"}
			_, _, err = store.ClaimActualLRP(ctx, "lrp", 0, ik)
			Expect(err).NotTo(HaveOccurred())
			kv.faults.Store(1)
			removed, err := store.RemoveActualLRP(ctx, "lrp", 0, ik)
			Expect(err).NotTo(HaveOccurred())
			Expect(removed.GetActualLrpInstanceKey().Equal(ik)).To(BeTrue())

			_, err = store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, "done", "d")
			Expect(err).NotTo(HaveOccurred())
			_, _, _, err = store.StartTask(ctx, "done", "c")
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.CompleteTask(ctx, "done", "c", false, "", "result")
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.ResolvingTask(ctx, "done")
			Expect(err).NotTo(HaveOccurred())
			kv.faults.Store(1)
			deleted, err := store.DeleteTask(ctx, "done")
			Expect(err).NotTo(HaveOccurred())
			Expect(deleted.GetTaskGuid()).To(Equal("done"))
			Expect(kv.lost.Load()).To(Equal(int32(2)))
		})
	})

	It("still tells every cell whose start committed in a combined transaction to start it", func() {
		store = db.New(store.Client(), keys, db.WithGroupCommit())
		DeferCleanup(store.Close)
		kv.minTaskPuts = 2 // only combined transactions lose their answer
		kv.faults.Store(1)
		for round := 0; round < 20 && kv.lost.Load() == 0; round++ {
			startAll(40, fmt.Sprintf("combined-%d", round))
		}
		Expect(kv.lost.Load()).To(Equal(int32(1)), "no start was combined with another")
	})
})
