// Package db is the BBS's store on etcd v3.
//
// Key layout (every value is an encrypted envelope, see crypt.go, unless noted):
//
//	/v1/schema_version                          plain decimal schema version
//	/v1/desired_lrp/schedule/<process-guid>     a DesiredLRP holding only the scheduling and routing
//	                                            fields (what the auction, convergence and the route
//	                                            emitter read)
//	/v1/desired_lrp/run/<process-guid>          its DesiredLRPRunInfo (what a cell reads)
//	/v1/actual/<process-guid>/<index>/<p>       an ActualLRP; p is 0 (ORDINARY), 1 (EVACUATING) or
//	                                            2 (SUSPECT)
//	/v1/task/<task-guid>                        a Task
//	/v1/domain/<name>                           empty value, bound to an etcd lease for the TTL
//
// Every state change is a transaction that compares the mod revision of the record(s) it read, so
// concurrent writers cannot both win, and writes every key it changes at once.
package db

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/models"
)

// Key prefixes.
const (
	SchemaVersionKey   = "/v1/schema_version"
	DesiredSchedPrefix = "/v1/desired_lrp/schedule/"
	DesiredRunPrefix   = "/v1/desired_lrp/run/"
	ActualPrefix       = "/v1/actual/"
	TaskPrefix         = "/v1/task/"
	DomainPrefix       = "/v1/domain/"
)

// EncryptedPrefixes are the prefixes whose values are envelopes.
var EncryptedPrefixes = []string{DesiredSchedPrefix, DesiredRunPrefix, ActualPrefix, TaskPrefix}

// maxTxnOps stays below etcd's default --max-txn-ops (128).
const maxTxnOps = 120

// casAttempts bounds the read-compute-swap retries of one operation.
const casAttempts = 25

// DB is the BBS's view of etcd.
type DB struct {
	cli    *clientv3.Client
	keys   *Keyring
	now    func() time.Time
	policy models.RestartPolicy
	logger *slog.Logger
	// MaxTaskRejections: a Task rejected this many times fails.
	MaxTaskRejections int32

	cache     atomic.Pointer[recordCache]
	lastWrite atomic.Int64
	group     *groupCommitter
}

type protoMessage = proto.Message

// parallelRange splits [0,n) over GOMAXPROCS goroutines.
func parallelRange(n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 256 {
		workers = 1
	}
	chunk := (n + workers - 1) / max(workers, 1)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); fn(lo, hi) }()
	}
	wg.Wait()
}

// Option configures a DB.
type Option func(*DB)

// WithClock sets the time source.
func WithClock(now func() time.Time) Option { return func(d *DB) { d.now = now } }

// WithRestartPolicy sets the crash restart policy.
func WithRestartPolicy(p models.RestartPolicy) Option { return func(d *DB) { d.policy = p } }

// WithGroupCommit combines concurrent compare-and-swap transactions on different keys into one
// etcd transaction (see groupcommit.go).
func WithGroupCommit() Option { return func(d *DB) { d.group = newGroupCommitter(d) } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(d *DB) { d.logger = l } }

// New wraps an etcd client.
func New(cli *clientv3.Client, keys *Keyring, opts ...Option) *DB {
	d := &DB{cli: cli, keys: keys, now: time.Now, policy: models.DefaultRestartPolicy(), logger: slog.Default(), MaxTaskRejections: 3}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Close stops the store's own goroutines (the group committer's): a change in flight finishes and
// answers, one still waiting answers ErrClosed without being written, and later changes answer
// ErrClosed. It returns once they are gone; the etcd client stays open (its owner closes it).
// Reads keep working. Closing twice is harmless.
func (db *DB) Close() {
	if db.group != nil {
		db.group.close()
	}
}

// Client is the underlying etcd client.
func (db *DB) Client() *clientv3.Client { return db.cli }

// Keyring is the keyring records are sealed with.
func (db *DB) Keyring() *Keyring { return db.keys }

// Now is the DB's clock.
func (db *DB) Now() time.Time { return db.now() }

// RestartPolicy is the crash restart policy in use.
func (db *DB) RestartPolicy() models.RestartPolicy { return db.policy }

// presenceDigit is the last element of an actual LRP's key: the presence's
// enum number (0 ORDINARY, 1 EVACUATING, 2 SUSPECT), so the three records
// of one slot sit side by side.
func presenceDigit(p models.ActualLRP_Presence) string {
	switch p {
	case models.ActualLRP_EVACUATING:
		return "1"
	case models.ActualLRP_SUSPECT:
		return "2"
	}
	return "0"
}

func actualKey(guid string, index int32, p models.ActualLRP_Presence) string {
	return ActualPrefix + guid + "/" + strconv.Itoa(int(index)) + "/" + presenceDigit(p)
}

func actualKeyOf(a *models.ActualLRP) string {
	k := a.GetActualLrpKey()
	return actualKey(k.GetProcessGuid(), k.GetIndex(), a.GetPresence())
}

func schedKey(guid string) string { return DesiredSchedPrefix + guid }
func runKey(guid string) string   { return DesiredRunPrefix + guid }
func taskKey(guid string) string  { return TaskPrefix + guid }

// etcdErr turns a transport error into a BBS error.
func etcdErr(err error) error {
	if err == nil {
		return nil
	}
	var me *models.Error
	if errors.As(err, &me) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return models.NewError(models.Error_Timeout, "etcd: %v", err)
	}
	return models.NewError(models.Error_UnknownError, "etcd: %v", err)
}

// encode seals the record stored at key.
func (db *DB) encode(key string, m proto.Message) (string, error) {
	b, err := db.keys.encode(key, m)
	return string(b), err
}

// decodeAll decodes records in parallel; records that fail to open are logged and skipped.
func decodeAll[T interface {
	comparable
	proto.Message
}](db *DB, kvs []*mvccpb.KeyValue, newT func() T) []T {
	out := decodeIndexed(db, kvs, newT)
	var zero T
	n := 0
	for _, v := range out {
		if v != zero {
			out[n] = v
			n++
		}
	}
	return out[:n]
}

// getOne reads one record; rev is its mod revision (0 when absent: ErrResourceNotFound).
func (db *DB) getOne(ctx context.Context, key string, m proto.Message) (int64, error) {
	resp, err := db.cli.Get(ctx, key)
	if err != nil {
		return 0, etcdErr(err)
	}
	if len(resp.Kvs) == 0 {
		return 0, models.ErrResourceNotFound
	}
	if err := db.keys.decode(key, resp.Kvs[0].Value, m); err != nil {
		return 0, err
	}
	return resp.Kvs[0].ModRevision, nil
}

// commit runs ops if every compare holds (through the group committer when it is on).
func (db *DB) commit(ctx context.Context, cmps []clientv3.Cmp, ops []clientv3.Op) (bool, error) {
	var ok bool
	var rev int64
	var err error
	if db.group != nil {
		ok, rev, err = db.group.submit(ctx, cmps, ops)
	} else {
		ok, rev, err = db.commitOwn(ctx, cmps, ops)
	}
	if ok {
		db.wrote(rev)
	}
	return ok, err
}

// commitOwn runs one transaction on its own; should its answer be lost, settle finds out whether
// it was applied.
func (db *DB) commitOwn(ctx context.Context, cmps []clientv3.Cmp, ops []clientv3.Op) (bool, int64, error) {
	ok, rev, err := db.commitAlone(ctx, cmps, ops)
	if err != nil {
		return db.settle(ctx, cmps, ops)
	}
	return ok, rev, nil
}

// settleTimeout bounds the reads and the retry settle makes after a lost answer.
const settleTimeout = 5 * time.Second

// settle decides a transaction whose call failed after it may have reached etcd: the
// answer was lost, not necessarily the write. Answering "not applied" for an applied change would
// make the caller retry against its own write and report it as someone else's (a cell whose task
// start committed would be told should_start=false, and the task would be lost), so: if the
// writes are there it was applied; else it is run once more alone, and if that is refused the
// writes are looked for again (the first call may have landed in between). It answers "not
// applied" only on a read that showed the writes absent; when it cannot read them it answers an
// error (Timeout or UnknownError), never a conflict.
func (db *DB) settle(ctx context.Context, cmps []clientv3.Cmp, ops []clientv3.Op) (bool, int64, error) {
	// The caller's ctx may be what ended the first call; settling must not end with it.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if ok, rev, err := db.applied(sctx, ops); err == nil && ok {
		return true, rev, nil
	}
	// A failed read decides nothing: the retry and the read after it do.
	ok, rev, err := db.commitAlone(sctx, cmps, ops)
	if err == nil && ok {
		return true, rev, nil
	}
	done, arev, aerr := db.applied(sctx, ops)
	if aerr != nil {
		var me *models.Error
		errors.As(etcdErr(aerr), &me)
		return false, 0, models.NewError(me.GetType(), "the answer of a change was lost and whether it was applied cannot be read: %s", me.GetMessage())
	}
	if done {
		return true, arev, nil
	}
	if err != nil {
		return false, 0, err
	}
	return false, rev, nil
}

// applied tells whether ops are in etcd, with the revision they are there at. With puts: every
// put holds the very value it wrote (envelopes carry a random nonce, so no other write produces
// the same bytes). Without puts: every key it deletes is absent (the leader is the store's only
// writer, so at worst a concurrent removal of the same record by this BBS is taken for this one);
// the revision is then etcd's current one, at or after the delete. err is the read's failure:
// nothing is known then.
func (db *DB) applied(ctx context.Context, ops []clientv3.Op) (bool, int64, error) {
	var puts, deletes []clientv3.Op
	var want [][]byte
	for _, op := range ops {
		switch {
		case op.IsPut():
			puts = append(puts, clientv3.OpGet(string(op.KeyBytes())))
			want = append(want, op.ValueBytes())
		case op.IsDelete():
			opts := []clientv3.OpOption{clientv3.WithCountOnly()}
			if end := op.RangeBytes(); len(end) > 0 {
				opts = append(opts, clientv3.WithRange(string(end)))
			}
			deletes = append(deletes, clientv3.OpGet(string(op.KeyBytes()), opts...))
		}
	}
	if len(puts) == 0 {
		if len(deletes) == 0 {
			return false, 0, nil
		}
		resp, err := db.cli.Txn(ctx).Then(deletes...).Commit()
		if err != nil {
			return false, 0, err
		}
		for _, r := range resp.Responses {
			if r.GetResponseRange().Count > 0 {
				return false, 0, nil
			}
		}
		return true, resp.Header.Revision, nil
	}
	resp, err := db.cli.Txn(ctx).Then(puts...).Commit()
	if err != nil {
		return false, 0, err
	}
	var rev int64
	for i, r := range resp.Responses {
		kvs := r.GetResponseRange().Kvs
		if len(kvs) == 0 || !bytes.Equal(kvs[0].Value, want[i]) {
			return false, 0, nil
		}
		rev = max(rev, kvs[0].ModRevision)
	}
	return true, rev, nil
}

// commitAlone runs one transaction on its own.
func (db *DB) commitAlone(ctx context.Context, cmps []clientv3.Cmp, ops []clientv3.Op) (bool, int64, error) {
	resp, err := db.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return false, 0, etcdErr(err)
	}
	return resp.Succeeded, resp.Header.Revision, nil
}

// unchanged compares a key's mod revision with the one read (0: the key must not exist).
func unchanged(key string, rev int64) clientv3.Cmp {
	if rev == 0 {
		return clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
	}
	return clientv3.Compare(clientv3.ModRevision(key), "=", rev)
}

var errConflict = errors.New("compare-and-swap conflict")

// retry runs attempt until it does not report errConflict.
func retry(ctx context.Context, attempt func() error) error {
	for i := 0; i < casAttempts; i++ {
		err := attempt()
		if !errors.Is(err, errConflict) {
			return err
		}
		if ctx.Err() != nil {
			return etcdErr(ctx.Err())
		}
		if i > 3 {
			time.Sleep(time.Duration(i) * time.Millisecond)
		}
	}
	return models.NewError(models.Error_ResourceConflict, "too many concurrent changes")
}

func nextTag(t *models.ModificationTag) *models.ModificationTag {
	if t == nil {
		return &models.ModificationTag{Epoch: newGUID(), Index: 0}
	}
	return &models.ModificationTag{Epoch: t.GetEpoch(), Index: t.GetIndex() + 1}
}
