package locket

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/tedsuo/ifrit"
)

// PresenceChangeKind says what happened to a presence.
type PresenceChangeKind int

const (
	PresenceAppeared PresenceChangeKind = iota + 1
	PresenceChanged
	PresenceVanished
)

func (k PresenceChangeKind) String() string {
	switch k {
	case PresenceAppeared:
		return "appeared"
	case PresenceChanged:
		return "changed"
	case PresenceVanished:
		return "vanished"
	}
	return fmt.Sprintf("PresenceChangeKind(%d)", int(k))
}

// PresenceChange is one presence that appeared, changed or vanished.
type PresenceChange struct {
	Kind PresenceChangeKind
	// Name is the key relative to the watched prefix (for CellPresencePrefix: the cell id).
	Name string
	// Value is the new value (nil when vanished); OldValue the previous one (nil when appeared).
	Value    []byte
	OldValue []byte
}

// DiffPresences is what changed from old to new (both as returned by Client.Presences): one
// change per name that appeared, changed value or vanished, ordered by name.
func DiffPresences(old, new map[string][]byte) []PresenceChange {
	var changes []PresenceChange
	for name, v := range new {
		ov, ok := old[name]
		switch {
		case !ok:
			changes = append(changes, PresenceChange{Kind: PresenceAppeared, Name: name, Value: v})
		case !bytes.Equal(ov, v):
			changes = append(changes, PresenceChange{Kind: PresenceChanged, Name: name, Value: v, OldValue: ov})
		}
	}
	for name, ov := range old {
		if _, ok := new[name]; !ok {
			changes = append(changes, PresenceChange{Kind: PresenceVanished, Name: name, OldValue: ov})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Name < changes[j].Name })
	return changes
}

// PresenceWatchRetryInterval is how long a presence watcher waits before asking Consul again
// after a failed query.
var PresenceWatchRetryInterval = time.Second

// presenceWatchWait is the longest a blocking query waits for a change.
const presenceWatchWait = 30 * time.Second

type presenceWatcher struct {
	logger   *slog.Logger
	client   *Client
	prefix   string
	onChange func(PresenceChange)
}

// NewPresenceWatcher returns a runner that follows the live presences under prefix (see
// Client.Presences) with Consul blocking queries and calls onChange, from the runner's own
// goroutine and in name order within one update, for every presence that appeared, changed or
// vanished. The first listing is reported as appearances, and ready is closed after they were
// delivered. While Consul cannot be reached nothing is reported (an outage is not a vanishing);
// failed queries are retried every PresenceWatchRetryInterval and logged. onChange should not
// block for long: changes are not reported while it runs. On a signal Run returns nil.
func NewPresenceWatcher(logger *slog.Logger, client *Client, prefix string, onChange func(PresenceChange)) ifrit.Runner {
	return &presenceWatcher{logger: orDiscard(logger).With("watch_prefix", prefix), client: client, prefix: prefix, onChange: onChange}
}

func (w *presenceWatcher) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, stop := signalContext(w.logger, signals)
	defer stop()

	known := map[string][]byte{}
	var index uint64
	isReady := false
	failing := false
	for {
		// Consistent: right after a restart a server may answer before replaying its log, which
		// would look like every presence vanished.
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: presenceWatchWait, RequireConsistent: true}).WithContext(ctx)
		pairs, meta, err := w.client.consul.KV().List(w.prefix, q)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if !failing {
				w.logger.Warn("presence-watch-failed", "error", err.Error(), "retry_in", PresenceWatchRetryInterval.String())
				failing = true
			}
			index = 0
			if !sleepCtx(ctx, PresenceWatchRetryInterval) {
				return nil
			}
			continue
		}
		if failing {
			w.logger.Info("presence-watch-recovered")
			failing = false
		}
		index = nextIndex(index, meta.LastIndex)
		current := presencesFrom(w.prefix, pairs)
		for _, c := range DiffPresences(known, current) {
			w.logger.Info("presence-"+c.Kind.String(), "name", c.Name)
			if w.onChange != nil {
				w.onChange(c)
			}
		}
		known = current
		if !isReady {
			isReady = true
			close(ready)
		}
	}
}
