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
const CurrentSchemaVersion = 1

// Migration moves the store from version From to From+1.
type Migration struct {
	From  int
	Name  string
	Apply func(ctx context.Context, db *DB) error
}

// Migrations, in order. Version 0 (an empty store, or one written before versioning) becomes 1
// by stamping the version: there is nothing older to convert.
var Migrations = []Migration{
	{From: 0, Name: "stamp schema version 1", Apply: func(context.Context, *DB) error { return nil }},
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
	var rewritten atomic.Int64
	for _, prefix := range EncryptedPrefixes {
		resp, err := db.cli.Get(ctx, prefix, clientv3.WithPrefix())
		if err != nil {
			return int(rewritten.Load()), etcdErr(err)
		}
		type item struct {
			key string
			rev int64
			val []byte
		}
		var todo []item
		for _, kv := range resp.Kvs {
			if label, ok := Label(kv.Value); !ok || label != active {
				todo = append(todo, item{string(kv.Key), kv.ModRevision, kv.Value})
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 1)
		sem := make(chan struct{}, 16)
		for _, it := range todo {
			plain, _, err := db.keys.Open(it.val)
			if err != nil {
				db.logger.Error("key rotation: cannot open record", "key", it.key, "error", err)
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				ok, err := db.commit(ctx, []clientv3.Cmp{unchanged(it.key, it.rev)},
					[]clientv3.Op{clientv3.OpPut(it.key, string(db.keys.Seal(plain)))})
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
