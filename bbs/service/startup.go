package service

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/bbs/db"
)

// StoreStartup is what a BBS does with the store once it holds the lock, before it serves: the
// schema migration, the key rotation, and the record cache's load (kept current by an etcd watch
// until the runner is signalled). Ready once all three are done.
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
		if err := store.StartCache(ctx); err != nil {
			return err
		}
		logger.Info("record cache loaded", "duration", time.Since(start).String())
		close(ready)
		<-ctx.Done()
		return nil
	})
}
