package daemon

import (
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnectNATS connects to the NATS servers at urls as name. A daemon starts and keeps running
// while NATS is away: the first connection and every reconnection are retried for ever, every
// half second, and each loss and return is logged. opts are applied last (a ReconnectHandler
// given there replaces the logging one).
func ConnectNATS(logger *slog.Logger, name string, urls []string, opts ...nats.Option) (*nats.Conn, error) {
	base := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats: disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { logger.Info("nats: reconnected", "server", c.ConnectedUrlRedacted()) }),
	}
	return nats.Connect(strings.Join(urls, ","), append(base, opts...)...)
}
