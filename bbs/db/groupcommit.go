package db

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/models"
)

// Group commit. Concurrent compare-and-swap transactions on different keys are combined into one
// etcd transaction (all their compares, all their writes), so a busy BBS pays etcd's per-request
// cost once for many changes. A combined transaction either succeeds as a whole (every part's
// compares held, so every part succeeded exactly as if run alone) or fails as a whole; then each
// part is run again on its own and gets its own answer. Parts touching a common key never share
// a transaction (etcd refuses duplicate keys, and their compares depend on each other).

const (
	groupCommitters   = 4  // transactions in flight at once
	groupCommitMaxTxn = 48 // parts per combined transaction
)

type txnPart struct {
	ctx  context.Context
	cmps []clientv3.Cmp
	ops  []clientv3.Op
	keys []string
	done chan txnResult
}

type txnResult struct {
	ok  bool
	rev int64
	err error
}

type groupCommitter struct {
	db    *DB
	queue chan *txnPart
	stop  chan struct{} // closed by close: no part is queued any more, the loops end
	// mu: submitters hold it shared while queueing, close exclusively to mark the committer
	// closed, so no part enters the queue once close drains it
	mu     sync.RWMutex
	closed bool
	once   sync.Once
	wg     sync.WaitGroup // the loops and the parts run alone after a failed combination
}

// ErrClosed answers a change submitted to a closed store, or queued but not yet run when it
// was closed (nothing of it was written).
var ErrClosed = models.NewError(models.Error_Unrecoverable, "bbs store closed")

func newGroupCommitter(db *DB) *groupCommitter {
	g := &groupCommitter{db: db, queue: make(chan *txnPart, 4096), stop: make(chan struct{})}
	g.wg.Add(groupCommitters)
	for i := 0; i < groupCommitters; i++ {
		go func() { defer g.wg.Done(); g.loop() }()
	}
	return g
}

// close stops the loops: a transaction in flight finishes and answers its parts (so does a part
// a loop already took), a part still queued answers ErrClosed, a later submit answers ErrClosed.
// It returns once no goroutine of the committer is left.
func (g *groupCommitter) close() {
	g.once.Do(func() {
		close(g.stop) // submitters waiting for room in the queue give up
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		g.wg.Wait()
		for {
			select {
			case p := <-g.queue:
				p.done <- txnResult{err: ErrClosed}
			default:
				return
			}
		}
	})
}

func partKeys(cmps []clientv3.Cmp, ops []clientv3.Op) ([]string, bool) {
	keys := make([]string, 0, len(cmps)+len(ops))
	for i := range cmps {
		keys = append(keys, string(cmps[i].KeyBytes()))
	}
	for _, op := range ops {
		if len(op.RangeBytes()) > 0 || !(op.IsPut() || op.IsDelete()) {
			return nil, false // ranges and reads are never combined
		}
		keys = append(keys, string(op.KeyBytes()))
	}
	return keys, true
}

// submit runs one part through the committer and waits for its answer.
func (g *groupCommitter) submit(ctx context.Context, cmps []clientv3.Cmp, ops []clientv3.Op) (bool, int64, error) {
	keys, ok := partKeys(cmps, ops)
	if !ok || len(cmps) > maxTxnOps || len(ops) > maxTxnOps {
		return g.db.commitOwn(ctx, cmps, ops)
	}
	p := &txnPart{ctx: ctx, cmps: cmps, ops: ops, keys: keys, done: make(chan txnResult, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return false, 0, ErrClosed
	}
	select {
	case g.queue <- p:
		g.mu.RUnlock()
	case <-g.stop:
		g.mu.RUnlock()
		return false, 0, ErrClosed
	case <-ctx.Done():
		g.mu.RUnlock()
		return false, 0, etcdErr(ctx.Err())
	}
	// Once queued, wait for the answer even if ctx ends: the part may already be in a combined
	// transaction that commits, and answering a timeout for a committed change would make the
	// caller skip its events and auctions. The wait is bounded: a part whose ctx ended before its
	// batch ran is answered at once without being written, and a combined transaction has its
	// own 30 s timeout.
	r := <-p.done
	return r.ok, r.rev, r.err
}

func (g *groupCommitter) loop() {
	var carry *txnPart
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-g.queue:
			case <-g.stop:
				return // close answers what is left in the queue
			}
		}
		batch := []*txnPart{first}
		used := map[string]bool{}
		for _, k := range first.keys {
			used[k] = true
		}
		nc, no := len(first.cmps), len(first.ops)
	collect:
		for len(batch) < groupCommitMaxTxn {
			select {
			case p := <-g.queue:
				clash := nc+len(p.cmps) > maxTxnOps || no+len(p.ops) > maxTxnOps
				for _, k := range p.keys {
					if used[k] {
						clash = true
						break
					}
				}
				if clash {
					carry = p
					break collect
				}
				for _, k := range p.keys {
					used[k] = true
				}
				nc, no = nc+len(p.cmps), no+len(p.ops)
				batch = append(batch, p)
			default:
				break collect
			}
		}
		g.run(batch)
	}
}

func (g *groupCommitter) run(batch []*txnPart) {
	live := batch[:0]
	for _, p := range batch {
		if p.ctx.Err() != nil {
			p.done <- txnResult{err: etcdErr(p.ctx.Err())}
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		p := live[0]
		ok, rev, err := g.db.commitOwn(p.ctx, p.cmps, p.ops)
		p.done <- txnResult{ok, rev, err}
		return
	}
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	for _, p := range live {
		cmps = append(cmps, p.cmps...)
		ops = append(ops, p.ops...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	resp, err := g.db.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	cancel()
	if err == nil && resp.Succeeded {
		for _, p := range live {
			p.done <- txnResult{ok: true, rev: resp.Header.Revision}
		}
		return
	}
	// A refused combination says nothing about each part: each runs alone. An error may have
	// lost the answer of a combination that was applied: each part is settled (see settle).
	g.wg.Add(len(live))
	for _, p := range live {
		go func() {
			defer g.wg.Done()
			var r txnResult
			if err != nil {
				r.ok, r.rev, r.err = g.db.settle(p.ctx, p.cmps, p.ops)
			} else {
				r.ok, r.rev, r.err = g.db.commitOwn(p.ctx, p.cmps, p.ops)
			}
			p.done <- r
		}()
	}
}
