package db

import (
	"context"
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
		n, err := db.reseal(ctx, func(envelope []byte) bool { return len(envelope) > 0 && envelope[0] == FormatUnbound })
		db.logger.Info("envelopes bound to their keys", "resealed", n)
		return err
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
// key already).
func (db *DB) RotateKeys(ctx context.Context) (int, error) {
	active := db.keys.ActiveLabel()
	return db.reseal(ctx, func(envelope []byte) bool {
		label, ok := Label(envelope)
		return !ok || label != active
	})
}

// reseal seals again, under the active key and bound to its etcd key, every record whose envelope
// stale picks, each with a compare-and-swap (a record changed meanwhile was sealed by its writer).
// It returns how many it rewrote; a record that does not open is logged and left alone.
func (db *DB) reseal(ctx context.Context, stale func(envelope []byte) bool) (int, error) {
	var rewritten atomic.Int64
	for _, prefix := range EncryptedPrefixes {
		resp, err := db.cli.Get(ctx, prefix, clientv3.WithPrefix())
		if err != nil {
			return int(rewritten.Load()), etcdErr(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 1)
		sem := make(chan struct{}, 16)
		for _, kv := range resp.Kvs {
			if !stale(kv.Value) {
				continue
			}
			key, rev := string(kv.Key), kv.ModRevision
			plain, _, err := db.keys.open(key, kv.Value)
			if err != nil {
				db.logger.Error("re-sealing: cannot open record", "key", key, "error", err)
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				ok, err := db.commit(ctx, []clientv3.Cmp{unchanged(key, rev)},
					[]clientv3.Op{clientv3.OpPut(key, string(db.keys.Seal(key, plain)))})
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
	}
	return int(rewritten.Load()), nil
}
