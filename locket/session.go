package locket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// errSessionGone: Consul no longer knows the session (invalidated, destroyed, expired).
var errSessionGone = errors.New("session invalidated")

// session is one Consul session kept alive by a renewing goroutine.
type session struct {
	id  string
	ttl time.Duration // the TTL Consul was given
	// lost receives one error when the session is gone (or, with a give-up budget, when Consul
	// could not be reached for that long); it is never closed.
	lost chan error
	stop context.CancelFunc
	done chan struct{}
}

type sessionSpec struct {
	name      string
	freeAfter time.Duration // how long after its holder's death Consul should free the keys
	behavior  string
	lockDelay time.Duration
	// giveUpAfter > 0: report the session lost when no renewal succeeded for that long (counted
	// from the sending of the last successful renewal). 0: keep trying for ever.
	giveUpAfter time.Duration
}

// newSession creates a session (TTL freeAfter/2, falling back to freeAfter when the agent refuses
// it) and starts renewing it every TTL/2 until close is called or it is lost.
func (c *Client) newSession(ctx context.Context, logger *slog.Logger, spec sessionSpec) (*session, error) {
	ttl := (spec.freeAfter / 2).Round(time.Millisecond)
	create := func(ttl time.Duration) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		id, _, err := c.consul.Session().Create(&api.SessionEntry{
			Name:      spec.name,
			TTL:       ttl.String(),
			Behavior:  spec.behavior,
			LockDelay: spec.lockDelay,
		}, (&api.WriteOptions{}).WithContext(cctx))
		return id, err
	}
	sent := time.Now()
	id, err := create(ttl)
	if err != nil && strings.Contains(err.Error(), "Invalid Session TTL") && spec.freeAfter > ttl {
		logger.Warn("session-ttl-refused-using-full-ttl",
			"refused_ttl", ttl.String(), "ttl", spec.freeAfter.String(), "error", err.Error(),
			"consequence", "a dead holder's keys are freed only after about 2 x ttl; lower the agent's session_ttl_min")
		ttl = spec.freeAfter
		sent = time.Now()
		id, err = create(ttl)
	}
	if err != nil {
		return nil, fmt.Errorf("creating consul session: %w", err)
	}
	sctx, stop := context.WithCancel(context.Background())
	s := &session{id: id, ttl: ttl, lost: make(chan error, 1), stop: stop, done: make(chan struct{})}
	go s.renew(sctx, c, logger.With("session", id), sent, spec.giveUpAfter)
	return s, nil
}

// renew keeps the session alive. lastOK starts as the moment the create request was sent.
func (s *session) renew(ctx context.Context, c *Client, logger *slog.Logger, lastOK time.Time, giveUpAfter time.Duration) {
	defer close(s.done)
	interval := s.ttl / 2
	retry := max(s.ttl/8, 100*time.Millisecond)
	failing := false
	wait := interval
	for {
		if !sleepCtx(ctx, wait) {
			return
		}
		// With a give-up budget, no call may run past it: the holder must learn that it may
		// have lost the lock no later than Consul could free it.
		timeout := max(s.ttl/2, time.Second)
		if giveUpAfter > 0 {
			remaining := giveUpAfter - time.Since(lastOK)
			if remaining <= 0 {
				s.lost <- fmt.Errorf("consul unreachable for %s", time.Since(lastOK).Round(time.Millisecond))
				return
			}
			timeout = min(timeout, remaining)
		}
		callCtx, cancel := context.WithTimeout(ctx, timeout)
		sent := time.Now()
		entry, _, err := c.consul.Session().Renew(s.id, (&api.WriteOptions{}).WithContext(callCtx))
		if err == nil && entry == nil && ctx.Err() == nil {
			// 404. A server that has just become leader may answer from a state store that has
			// not replayed its log yet: believe it only when a consistent read agrees.
			switch gone, cerr := c.sessionGone(callCtx, s.id); {
			case cerr != nil:
				err = fmt.Errorf("renew answered not found, and confirming failed: %w", cerr)
			case gone:
				cancel()
				s.lost <- errSessionGone
				return
			default:
				err = errors.New("renew answered not found but a consistent read finds the session")
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			if failing {
				logger.Info("session-renewed-again", "after", time.Since(lastOK).Round(time.Millisecond).String())
				failing = false
			}
			lastOK = sent
			wait = interval
			continue
		}
		if !failing {
			logger.Warn("session-renew-failed", "error", err.Error())
			failing = true
		}
		if giveUpAfter > 0 && time.Since(lastOK) >= giveUpAfter {
			s.lost <- fmt.Errorf("consul unreachable for %s (last error: %w)", time.Since(lastOK).Round(time.Millisecond), err)
			return
		}
		wait = retry
		if giveUpAfter > 0 {
			wait = min(wait, max(0, giveUpAfter-time.Since(lastOK)))
		}
	}
}

// sessionGone tells, through a consistent read, whether Consul no longer knows the session.
func (c *Client) sessionGone(ctx context.Context, id string) (bool, error) {
	ictx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	entry, _, err := c.consul.Session().Info(id, (&api.QueryOptions{RequireConsistent: true}).WithContext(ictx))
	if err != nil {
		return false, err
	}
	return entry == nil, nil
}

// close stops renewing and destroys the session (best effort, bounded), which releases or deletes
// the keys it holds.
func (s *session) close(c *Client, logger *slog.Logger) {
	s.stop()
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := c.consul.Session().Destroy(s.id, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		logger.Warn("session-destroy-failed", "session", s.id, "error", err.Error())
	}
}

// watchHeld blocks until key is no longer held by sessionID, returning why, or until ctx ends
// (returning nil). Errors talking to Consul are retried every retry; they are not a loss by
// themselves (the session's renewals decide that). Reads are consistent: a freshly elected server
// may otherwise answer before it has replayed its log, as if the key were gone.
func (c *Client) watchHeld(ctx context.Context, logger *slog.Logger, key, sessionID string, retry time.Duration) error {
	var index uint64
	failing := false
	for {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: time.Minute, RequireConsistent: true}).WithContext(ctx)
		pair, meta, err := c.consul.KV().Get(key, q)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if !failing {
				logger.Warn("watch-key-failed", "key", key, "error", err.Error())
				failing = true
			}
			if !sleepCtx(ctx, retry) {
				return nil
			}
			continue
		}
		failing = false
		switch {
		case pair == nil:
			return fmt.Errorf("key %s was deleted", key)
		case pair.Session == "":
			return fmt.Errorf("key %s was released", key)
		case pair.Session != sessionID:
			return fmt.Errorf("key %s is now held by session %s", key, pair.Session)
		}
		index = nextIndex(index, meta.LastIndex)
	}
}

// acquireKey tries once, within requestTimeout, to take key for sessionID with value.
func (c *Client) acquireKey(ctx context.Context, key string, value []byte, sessionID string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	acquired, _, err := c.consul.KV().Acquire(&api.KVPair{Key: key, Value: value, Session: sessionID},
		(&api.WriteOptions{}).WithContext(ctx))
	return acquired, err
}

// holdUntilLost blocks while sess holds key and returns why it stopped holding it (the session is
// gone, or the key was released, deleted or taken; see watchHeld), or nil when ctx ends first.
func (c *Client) holdUntilLost(ctx context.Context, logger *slog.Logger, key string, sess *session, retry time.Duration) error {
	keyLost := make(chan error, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		if err := c.watchHeld(watchCtx, logger, key, sess.id, retry); err != nil {
			keyLost <- err
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-sess.lost:
		return err
	case err := <-keyLost:
		return err
	}
}

// nextIndex applies Consul's rules for blocking-query indexes: reset when the index goes backwards
// (a restored snapshot), never wait on 0.
func nextIndex(prev, last uint64) uint64 {
	if last < prev {
		return 0
	}
	if last == 0 {
		return 1
	}
	return last
}

// isInvalidSession tells whether Consul refused a KV acquire because the session no longer exists.
func isInvalidSession(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Invalid session")
}
