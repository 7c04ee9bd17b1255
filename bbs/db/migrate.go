package db

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/models"
)

// CurrentSchemaVersion is the layout this code reads and writes.
const CurrentSchemaVersion = 2

// Migration moves the store from version From to From+1.
type Migration struct {
	From  int
	Name  string
	Apply func(ctx context.Context, db *DB) error
}

// Migrations, in order. Version 0 (an empty store, or one written before versioning) becomes 1
// by stamping the version: there is nothing older to convert. Version 2 binds every envelope to
// its etcd key (see crypt.go): records still sealed as format 1 are re-sealed.
var Migrations = []Migration{
	{From: 0, Name: "stamp schema version 1", Apply: func(context.Context, *DB) error { return nil }},
	{From: 1, Name: "bind every envelope to its key", Apply: func(ctx context.Context, db *DB) error {
		n, err := db.reseal(ctx, func(envelope []byte) bool { return len(envelope) > 0 && envelope[0] == FormatUnbound },
			db.keys.openUnbound, true)
		var me *models.Error
		if errors.As(err, &me) && me.GetType() == models.Error_FailedToOpenEnvelope {
			// Stamping version 2 anyway would leave the record unreadable for good: format 1 is
			// refused from then on.
			return models.NewError(models.Error_FailedToOpenEnvelope, "schema migration 1 -> 2 stopped, nothing re-sealed: %s; add the key it is sealed under to encryption_keys (or delete the record) and start the BBS again", me.GetMessage())
		}
		if err != nil {
			return err
		}
		db.logger.Info("envelopes bound to their keys", "resealed", n)
		return nil
	}},
}

// SchemaVersion reads the stored version (0 when absent).
func (db *DB) SchemaVersion(ctx context.Context) (int, int64, error) {
	resp, err := db.cli.Get(ctx, SchemaVersionKey)
	if err != nil {
		return 0, 0, etcdErr(err)
	}
	if len(resp.Kvs) == 0 {
		return 0, 0, nil
	}
	v, err := strconv.Atoi(string(resp.Kvs[0].Value))
	if err != nil {
		return 0, 0, models.NewError(models.Error_InvalidRecord, "schema version %q: %v", resp.Kvs[0].Value, err)
	}
	return v, resp.Kvs[0].ModRevision, nil
}

// Migrate runs the migrations from the stored version up to CurrentSchemaVersion, each followed
// by a compare-and-swap of the version key. A store newer than this code is an error.
func (db *DB) Migrate(ctx context.Context) error {
	for {
		v, rev, err := db.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		if v > CurrentSchemaVersion {
			return models.NewError(models.Error_Unrecoverable, "store schema version %d is newer than this BBS (%d)", v, CurrentSchemaVersion)
		}
		if v == CurrentSchemaVersion {
			return nil
		}
		var m *Migration
		for i := range Migrations {
			if Migrations[i].From == v {
				m = &Migrations[i]
			}
		}
		if m == nil {
			return models.NewError(models.Error_Unrecoverable, "no migration from schema version %d", v)
		}
		db.logger.Info("migration starting", "from", v, "name", m.Name)
		if err := m.Apply(ctx, db); err != nil {
			return err
		}
		ok, err := db.commit(ctx, []clientv3.Cmp{unchanged(SchemaVersionKey, rev)},
			[]clientv3.Op{clientv3.OpPut(SchemaVersionKey, strconv.Itoa(v+1))})
		if err != nil {
			return err
		}
		if !ok {
			return models.NewError(models.Error_ResourceConflict, "schema version changed during migration")
		}
		db.logger.Info("migration finished", "to", v+1)
	}
}

// RotateKeys re-encrypts, under the active key, every record still under another key. It returns
// how many records it rewrote. A record changed meanwhile is skipped (its writer used the active
// key already). Only format 2 envelopes are opened: a format 1 one, bound to no key, may have been
// moved from another record, and re-sealing it would bind it to the key it was moved to.
func (db *DB) RotateKeys(ctx context.Context) (int, error) {
	active := db.keys.ActiveLabel()
	return db.reseal(ctx, func(envelope []byte) bool {
		label, ok := Label(envelope)
		return !ok || label != active
	}, db.keys.Open, false)
}

// reseal seals again, under the active key and bound to its etcd key, every record whose envelope
// stale picks and open opens, each with a compare-and-swap (a record changed meanwhile was sealed
// by its writer). It returns how many it rewrote. A picked record that does not open is logged and
// left alone, or, when strict, fails the whole reseal before anything is written, naming its key.
func (db *DB) reseal(ctx context.Context, stale func(envelope []byte) bool, open func(key string, envelope []byte) ([]byte, string, error), strict bool) (int, error) {
	type job struct {
		key   string
		rev   int64
		plain []byte
	}
	var jobs []job
	for _, prefix := range EncryptedPrefixes {
		resp, err := db.cli.Get(ctx, prefix, clientv3.WithPrefix())
		if err != nil {
			return 0, etcdErr(err)
		}
		for _, kv := range resp.Kvs {
			if !stale(kv.Value) {
				continue
			}
			key := string(kv.Key)
			plain, _, err := open(key, kv.Value)
			if err != nil {
				if strict {
					return 0, err
				}
				db.logger.Error("re-sealing: cannot open record", "key", key, "error", err)
				continue
			}
			jobs = append(jobs, job{key, kv.ModRevision, plain})
		}
	}
	var rewritten atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	sem := make(chan struct{}, 16)
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ok, err := db.commit(ctx, []clientv3.Cmp{unchanged(j.key, j.rev)},
				[]clientv3.Op{clientv3.OpPut(j.key, string(db.keys.Seal(j.key, j.plain)))})
			if err != nil {
				select {
				case errs <- err:
				default:
				}
				return
			}
			if ok {
				rewritten.Add(1)
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return int(rewritten.Load()), err
	default:
	}
	return int(rewritten.Load()), nil
}
