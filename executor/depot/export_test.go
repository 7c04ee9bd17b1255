package depot

import (
	"context"
	"fmt"
	"log/slog"

	"code.cloudfoundry.org/garden"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/containerstore"
	"github.com/diego-go/diego/executor/logstream"
)

// NewWithSteps is New with the given steps and no cache or identity, for the specs that do not
// need the real steps.
func NewWithSteps(cfg Config, logger *slog.Logger, gc garden.Client, pub logstream.Publisher, build containerstore.BuildFunc) (*Executor, error) {
	return newExecutor(cfg, logger, gc, pub, parts{build: build,
		fetchDir: func(_ context.Context, dep executor.CachedDependency) (string, func(), error) {
			return "", nil, fmt.Errorf("no cache: %s", dep.From)
		},
		hold: func(executor.CachedDependency) (func(), bool) { return nil, false }})
}

var RotationPeriod = rotationPeriod
