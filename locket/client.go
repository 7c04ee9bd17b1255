// Package locket is the project's only door to Consul. Everything the components need from it is
// here, as ifrit runners:
//
//   - NewLock: a leader lock (a Consul session plus a KV acquire). Ready once held; Run returns an
//     error wrapping ErrLostLock the moment the lock is lost, so the process stops serving and a
//     standby takes over.
//   - NewPresence: a session-bound key holding a value (a cell's presence), re-created after session
//     loss or a Consul restart; it never gives up while Consul is away.
//   - NewServiceRegistration: a service with a TTL check kept passing, so the component is found by
//     Consul DNS (<name>.service.consul) and the catalog/health API.
//   - NewPresenceWatcher and Client.Presences: who is present under a prefix, and who appeared,
//     changed and vanished (blocking queries).
//
// Timing contract. A lock's or presence's TTL is the time after which Consul frees the key of a
// holder that died without letting go. Consul invalidates a session only after twice its own TTL
// (its SessionTTLMultiplier), so the sessions are created with TTL/2 and renewed every TTL/4. The
// agent must therefore allow session TTLs of TTL/2 (`session_ttl_min`, 10s by default); when it
// refuses them the session is created with the full TTL instead and a warning is logged (a dead
// holder is then released only after about 2 x TTL). Sessions always carry an explicit lock delay
// (1ms unless configured), never Consul's 15s default. See docs/locket.md.
package locket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// Key name prefixes shared by every component.
const (
	LockKeyPrefix      = "v1/locks/"
	CellPresencePrefix = "v1/presences/cells/"
)

// LockKey is the Consul key of the named leader lock (bbs_lock, auctioneer_lock, converge_lock,
// route_emitter_lock, ...): "v1/locks/" + name.
func LockKey(name string) string { return LockKeyPrefix + name }

// CellPresenceKey is the key of a cell's presence: "v1/presences/cells/" + cellID.
func CellPresenceKey(cellID string) string { return CellPresencePrefix + cellID }

// requestTimeout bounds the plain (non-blocking) calls to the agent.
const requestTimeout = 10 * time.Second

// Client is a thin wrapper around the Consul API client, pointing at one agent's HTTP API.
type Client struct {
	consul  *api.Client
	address string
}

// NewClient returns a client of the Consul agent whose HTTP API is at addr: "host:port" or a URL
// ("http://host:port", "https://host:port"). The usual CONSUL_HTTP_* environment variables (token,
// TLS) apply; addr always wins over CONSUL_HTTP_ADDR. No request is made.
func NewClient(addr string) (*Client, error) {
	addr = strings.TrimRight(strings.TrimSpace(addr), "/")
	if addr == "" {
		return nil, errors.New("locket: empty consul address")
	}
	cfg := api.DefaultConfig()
	cfg.Address = addr
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("locket: consul client for %q: %w", addr, err)
	}
	return &Client{consul: c, address: addr}, nil
}

// Address is the agent address the client was made with.
func (c *Client) Address() string { return c.address }

// Presences lists the live presences under prefix: the keys currently held by a session, keyed by
// their name relative to the prefix (for CellPresencePrefix: the cell id) with their values. Keys no
// session holds (a released lock, a stray write) are not presences and are left out. The read is
// consistent (served by the leader once it has caught up), so a Consul server that has just
// restarted never answers "nobody is here".
func (c *Client) Presences(prefix string) (map[string][]byte, error) {
	return c.PresencesContext(context.Background(), prefix)
}

// PresencesContext is Presences ending when ctx does, so a stopping caller (the auctioneer's
// batch) is not held for the request timeout by an agent that does not answer.
func (c *Client) PresencesContext(ctx context.Context, prefix string) (map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	pairs, _, err := c.consul.KV().List(prefix, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("locket: listing %s: %w", prefix, err)
	}
	return presencesFrom(prefix, pairs), nil
}

func presencesFrom(prefix string, pairs api.KVPairs) map[string][]byte {
	out := make(map[string][]byte, len(pairs))
	for _, p := range pairs {
		if p == nil || p.Session == "" {
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(p.Key, prefix), "/")
		if name == "" {
			continue
		}
		out[name] = p.Value
	}
	return out
}

func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}

// sleepCtx waits d or until ctx ends; it tells whether the full wait happened.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// signalContext returns a context cancelled when the first signal arrives or when stop is called.
func signalContext(logger *slog.Logger, signals <-chan os.Signal) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case sig := <-signals:
			logger.Info("signalled", "signal", fmt.Sprint(sig))
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
