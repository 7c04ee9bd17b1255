package depot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"code.cloudfoundry.org/garden"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/cache"
	"github.com/diego-go/diego/executor/containerstore"
	"github.com/diego-go/diego/executor/identity"
	"github.com/diego-go/diego/executor/logstream"
	"github.com/diego-go/diego/executor/steps"
)

// New is the cell's executor over the garden server gc: containers' steps from executor/steps,
// downloads and cached dependencies through a cache in cfg.CachePath, identity credentials
// signed by the configured CA, log lines and metrics published through pub (a *nats.Conn).
// It asks garden for its capacity, so garden must be up.
func New(cfg Config, logger *slog.Logger, gc garden.Client, pub logstream.Publisher) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cache.NewCache(cfg.CachePath, cfg.MaxCacheSizeInBytes, downloadClient())
	p := parts{
		fetchDir: func(ctx context.Context, dep executor.CachedDependency) (string, func(), error) {
			return c.FetchDir(ctx, dep.From, dep.CacheKey, cache.Checksum{Algorithm: dep.ChecksumAlgorithm, Value: dep.ChecksumValue})
		},
		fetch: func(ctx context.Context, dep executor.CachedDependency) (io.ReadCloser, error) {
			return c.Fetch(ctx, dep.From, dep.CacheKey, cache.Checksum{Algorithm: dep.ChecksumAlgorithm, Value: dep.ChecksumValue})
		},
		hold:      func(dep executor.CachedDependency) (func(), bool) { return c.Hold(dep.CacheKey) },
		retryable: func(err error) bool { return errors.Is(err, steps.ErrDownloadFailed) },
	}
	if cfg.InstanceIdentityCAPath != "" {
		ca, err := identity.LoadCA(cfg.InstanceIdentityCAPath, cfg.InstanceIdentityPrivateKeyPath)
		if err != nil {
			return nil, err
		}
		validity := cfg.InstanceIdentityValidityPeriod.D()
		p.credentials = func(guid, ip string, ous []string) ([]byte, []byte, error) {
			return ca.Credentials(guid, ip, ous, validity)
		}
		p.rotation = rotationPeriod(validity)
	}
	p.build = func(in containerstore.StepInput) (containerstore.Step, containerstore.Step) {
		return steps.Build(in.Info, steps.Deps{
			Container:         in.Container,
			Logs:              in.Logs,
			Cache:             c,
			HealthCheckPath:   in.HealthCheckPath,
			UnhealthyInterval: cfg.UnhealthyMonitoringInterval.D(),
			HealthyInterval:   cfg.HealthyMonitoringInterval.D(),
			GracePeriod:       cfg.GracefulShutdownInterval.D(),
			ProcessIDPrefix:   in.Container.Handle(),
			Adopt:             in.Adopt,
		}, steps.Callbacks{OnHealthy: in.Callbacks.OnHealthy, OnReadinessChanged: in.Callbacks.OnReadinessChanged})
	}
	return newExecutor(cfg, logger, gc, pub, p)
}

// rotationPeriod is upstream's: credentials are signed afresh half an hour before they expire,
// or an eighth of their validity before when that is 4 hours or less.
func rotationPeriod(validity time.Duration) time.Duration {
	if validity > 4*time.Hour {
		return validity - 30*time.Minute
	}
	return validity - validity/8
}

// downloadClient bounds connecting and waiting for headers; a body may take as long as it needs.
func downloadClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		MaxIdleConnsPerHost:   8,
	}}
}
