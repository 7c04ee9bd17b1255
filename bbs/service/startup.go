package service

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/bbs/db"
)

// StoreCache keeps the record cache loaded and current (an etcd watch) from the start of the
// process until the runner is signalled, lock or no lock: a standby BBS that takes over then only
// catches up (StoreStartup) instead of loading every record. Ready at once; a load that fails is
// tried again every second.
func StoreCache(logger *slog.Logger, store *db.DB) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		loaded := make(chan struct{})
		go func() {
			defer close(loaded)
			for start := time.Now(); ctx.Err() == nil; {
				err := store.StartCache(ctx)
				if err == nil {
					logger.Info("record cache loaded", "duration", time.Since(start).String())
					return
				}
				logger.Error("record cache: load failed; trying again", "error", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
		close(ready)
		<-signals
		cancel()
		<-loaded
		return nil
	})
}

// StoreStartup is what a BBS does with the store once it holds the lock, before it serves: the
// schema migration, the key rotation, and catching the record cache (StoreCache) up with etcd
// (it waits for the cache's load when that is not done yet). Ready once all three are done.
func StoreStartup(logger *slog.Logger, store *db.DB) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { <-signals; cancel() }()
		start := time.Now()
		if err := store.Migrate(ctx); err != nil {
			return err
		}
		n, err := store.RotateKeys(ctx)
		if err != nil {
			return err
		}
		logger.Info("migration and key rotation done", "reencrypted", n, "active_key", store.Keyring().ActiveLabel(), "duration", time.Since(start).String())
		if err := store.CatchUpCache(ctx); err != nil {
			return err
		}
		logger.Info("record cache caught up", "duration", time.Since(start).String())
		close(ready)
		<-ctx.Done()
		return nil
	})
}
