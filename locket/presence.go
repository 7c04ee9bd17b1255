package locket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/models"
)

type presenceRunner struct {
	logger        *slog.Logger
	client        *Client
	key           string
	value         []byte
	ttl           time.Duration
	retryInterval time.Duration
}

// NewPresence returns a runner that keeps key present with value, bound to a session (behaviour
// delete), e.g. a cell's presence at CellPresenceKey(cellID):
//
//   - ready is closed once the key was first written;
//   - the session is renewed every ttl/4; when the key is lost (session invalidated, key deleted or
//     taken, Consul restarted) it is re-created, retrying every retryInterval for as long as it
//     takes (a Consul outage is logged, never fatal; Run does not return an error for it);
//   - if the process dies, Consul deletes the key about ttl after the last renewal;
//   - on a signal it destroys the session, deleting the key at once, and returns nil.
//
// ttl defaults to 15s and retryInterval to 5s when zero.
func NewPresence(logger *slog.Logger, client *Client, key string, value []byte, ttl, retryInterval time.Duration) ifrit.Runner {
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	if retryInterval <= 0 {
		retryInterval = DefaultLockRetryInterval
	}
	return &presenceRunner{
		logger: orDiscard(logger).With("presence", key), client: client,
		key: key, value: value, ttl: ttl, retryInterval: retryInterval,
	}
}

func (p *presenceRunner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	if p.key == "" {
		return errors.New("locket: presence key is empty")
	}
	ctx, stop := signalContext(p.logger, signals)
	defer stop()

	isReady := false
	lastHolder := ""
	writeFailing := false // log a failure streak once
	var sess *session
	for {
		if ctx.Err() != nil {
			if sess != nil {
				sess.close(p.client, p.logger)
				p.logger.Info("presence-removed")
			}
			return nil
		}
		if sess == nil {
			var err error
			sess, err = p.client.newSession(ctx, p.logger, sessionSpec{
				name:      "presence " + p.key,
				freeAfter: p.ttl,
				behavior:  api.SessionBehaviorDelete,
				lockDelay: DefaultLockDelay,
			})
			if err != nil {
				if ctx.Err() == nil {
					p.logger.Warn("presence-session-create-failed", "error", err.Error(), "retry_in", p.retryInterval.String())
					sleepCtx(ctx, p.retryInterval)
				}
				continue
			}
		}

		acquired, err := p.client.acquireKey(ctx, p.key, p.value, sess.id)
		if ctx.Err() != nil {
			continue
		}
		if err != nil || !acquired {
			if err != nil {
				if !writeFailing {
					p.logger.Warn("presence-write-failed", "error", err.Error(), "retry_in", p.retryInterval.String())
					writeFailing = true
				}
			} else if holder := p.holder(ctx); holder != lastHolder {
				// Usually our own previous incarnation, whose session has not expired yet.
				p.logger.Warn("presence-key-held-by-other-session", "holder_session", holder, "retry_in", p.retryInterval.String())
				lastHolder = holder
			}
			if isInvalidSession(err) {
				p.logger.Warn("presence-session-invalid", "session", sess.id)
				sess.close(p.client, p.logger)
				sess = nil
				continue
			}
			select {
			case lost := <-sess.lost:
				p.logger.Warn("presence-session-lost", "error", lost.Error())
				sess.close(p.client, p.logger)
				sess = nil
			default:
			}
			sleepCtx(ctx, p.retryInterval)
			continue
		}
		lastHolder = ""
		writeFailing = false
		if !isReady {
			isReady = true
			close(ready)
			p.logger.Info("presence-written", "session", sess.id, "session_ttl", sess.ttl.String())
		} else {
			p.logger.Info("presence-rewritten", "session", sess.id)
		}

		// Hold until lost or signalled.
		if reason := p.client.holdUntilLost(ctx, p.logger, p.key, sess, p.retryInterval); reason != nil {
			p.logger.Warn("presence-lost-recreating", "error", reason.Error())
			// Start afresh: end the old session (if it still exists) so it cannot hold the key.
			sess.close(p.client, p.logger)
			sess = nil
		}
	}
}

func (p *presenceRunner) holder(ctx context.Context) string {
	gctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	pair, _, err := p.client.consul.KV().Get(p.key, (&api.QueryOptions{}).WithContext(gctx))
	if err != nil || pair == nil {
		return ""
	}
	return pair.Session
}

// NewCellPresence is NewPresence for a cell: it keeps p, encoded with models.EncodeCellPresence
// (the value upstream's rep writes), at CellPresenceKey(p.CellId).
func NewCellPresence(logger *slog.Logger, client *Client, p *models.CellPresence, ttl, retryInterval time.Duration) (ifrit.Runner, error) {
	if p.GetCellId() == "" {
		return nil, errors.New("locket: cell presence has no cell_id")
	}
	value, err := models.EncodeCellPresence(p)
	if err != nil {
		return nil, err
	}
	return NewPresence(logger, client, CellPresenceKey(p.GetCellId()), value, ttl, retryInterval), nil
}

// CellPresences lists the cells present now, in cell id order, each decoded with
// models.DecodeCellPresence (a presence without a cell_id takes its key's). Values that cannot be
// decoded are left out and returned in invalid, one error per cell; err is a failure to ask Consul.
func (c *Client) CellPresences(ctx context.Context) (cells []*models.CellPresence, invalid []error, err error) {
	values, err := c.PresencesContext(ctx, CellPresencePrefix)
	if err != nil {
		return nil, nil, err
	}
	cells = make([]*models.CellPresence, 0, len(values))
	for id, v := range values {
		p, err := models.DecodeCellPresence(v)
		if err != nil {
			invalid = append(invalid, fmt.Errorf("cell %s: %w", id, err))
			continue
		}
		if p.CellId == "" {
			p.CellId = id
		}
		cells = append(cells, p)
	}
	sort.Slice(cells, func(i, j int) bool { return cells[i].CellId < cells[j].CellId })
	return cells, invalid, nil
}
