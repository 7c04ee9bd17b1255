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
// write at least minTaskPuts task records (while faults last), throws the answer away and
// reports an error: what a client sees when the connection breaks after etcd applied the change.
type answerLosingKV struct {
	clientv3.KV
	minTaskPuts int
	faults      atomic.Int32
	lost        atomic.Int32
}

func (kv *answerLosingKV) Txn(ctx context.Context) clientv3.Txn {
	return &answerLosingTxn{Txn: kv.KV.Txn(ctx), kv: kv}
}

type answerLosingTxn struct {
	clientv3.Txn
	kv       *answerLosingKV
	taskPuts int
}

func (t *answerLosingTxn) If(cs ...clientv3.Cmp) clientv3.Txn { t.Txn = t.Txn.If(cs...); return t }
func (t *answerLosingTxn) Else(ops ...clientv3.Op) clientv3.Txn {
	t.Txn = t.Txn.Else(ops...)
	return t
}

func (t *answerLosingTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	for _, op := range ops {
		if op.IsPut() && strings.HasPrefix(string(op.KeyBytes()), db.TaskPrefix) {
			t.taskPuts++
		}
	}
	t.Txn = t.Txn.Then(ops...)
	return t
}

func (t *answerLosingTxn) Commit() (*clientv3.TxnResponse, error) {
	resp, err := t.Txn.Commit()
	if err == nil && resp.Succeeded && t.taskPuts >= t.kv.minTaskPuts && t.kv.faults.Add(-1) >= 0 {
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
