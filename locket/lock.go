package locket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/tedsuo/ifrit"
)

// ErrLostLock is wrapped by the error a lock runner returns when it loses its lock:
// "lost lock <key>: <reason>".
var ErrLostLock = errors.New("lost lock")

// Lock defaults, applied to zero fields of LockConfig.
const (
	DefaultLockTTL           = 15 * time.Second
	DefaultLockRetryInterval = 5 * time.Second
	DefaultLockDelay         = time.Millisecond
)

// LockConfig configures a leader lock.
type LockConfig struct {
	// Key is the Consul key, usually LockKey(name).
	Key string
	// Value is stored in the key while held (who holds it, e.g. the leader's address).
	Value []byte
	// TTL is how long after its holder died (stopped renewing) the lock is freed. Default 15s.
	TTL time.Duration
	// RetryInterval is how often a waiting runner retries when it cannot reach Consul, and the
	// longest a waiting runner sleeps between looks at the key (it also wakes at once when the
	// key changes). Default 5s.
	RetryInterval time.Duration
	// LockDelay is Consul's lock-delay of the session: after the session is invalidated (not
	// after a voluntary release) nobody may acquire the key for this long. Default 1ms; Consul's
	// own 15s default applies only when set to 15s explicitly.
	LockDelay time.Duration
}

func (c LockConfig) withDefaults() LockConfig {
	if c.TTL <= 0 {
		c.TTL = DefaultLockTTL
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultLockRetryInterval
	}
	if c.LockDelay <= 0 {
		c.LockDelay = DefaultLockDelay
	}
	return c
}

type lockRunner struct {
	logger *slog.Logger
	client *Client
	cfg    LockConfig
}

// NewLock returns a runner that holds the leader lock cfg.Key:
//
//   - Run blocks until it holds the lock (a session with behaviour release, then a KV acquire),
//     retrying every RetryInterval and whenever the key changes; only then is ready closed.
//   - While held, the session is renewed every TTL/4. The moment the lock is lost (the session is
//     invalidated or destroyed, the key is released, deleted or taken, or no renewal succeeded for
//     TTL) Run returns an error wrapping ErrLostLock, "lost lock <key>: <reason>".
//   - On a signal it releases the key and destroys the session at once and returns nil, so a
//     standby takes over without waiting for any TTL.
func NewLock(logger *slog.Logger, client *Client, cfg LockConfig) ifrit.Runner {
	return &lockRunner{logger: orDiscard(logger).With("lock", cfg.Key), client: client, cfg: cfg.withDefaults()}
}

func (l *lockRunner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	if l.cfg.Key == "" {
		return errors.New("locket: lock key is empty")
	}
	ctx, stop := signalContext(l.logger, signals)
	defer stop()

	sess := l.acquire(ctx)
	if sess == nil { // signalled while waiting
		return nil
	}
	l.logger.Info("lock-acquired", "session", sess.id, "session_ttl", sess.ttl.String())
	close(ready)

	reason := l.client.holdUntilLost(ctx, l.logger, l.cfg.Key, sess, l.cfg.RetryInterval)
	if reason == nil { // only a signal ends ctx
		l.release(sess)
		l.logger.Info("lock-released")
		return nil
	}
	l.logger.Error("lock-lost", "error", reason.Error())
	// Return at once so the process stops serving; meanwhile, best effort, end the session if it
	// still exists (key taken, Consul unreachable) so a standby is not kept waiting for its TTL.
	go sess.close(l.client, l.logger)
	return fmt.Errorf("%w %s: %w", ErrLostLock, l.cfg.Key, reason)
}

// acquire returns the session holding the lock, or nil when signalled first.
func (l *lockRunner) acquire(ctx context.Context) *session {
	kv := l.client.consul.KV()
	var sess *session
	var index uint64
	lastHolder := ""
	failing := false
	defer func() {
		if ctx.Err() != nil && sess != nil {
			sess.close(l.client, l.logger)
		}
	}()
	tryAcquire := true
	sawFree := false // the last look found the key free
	for ctx.Err() == nil {
		if sess != nil {
			select {
			case err := <-sess.lost:
				l.logger.Warn("waiting-session-lost", "session", sess.id, "error", err.Error())
				sess.close(l.client, l.logger)
				sess = nil
			default:
			}
		}
		if sess == nil {
			var err error
			sess, err = l.client.newSession(ctx, l.logger, sessionSpec{
				name:        "lock " + l.cfg.Key,
				freeAfter:   l.cfg.TTL,
				behavior:    api.SessionBehaviorRelease,
				lockDelay:   l.cfg.LockDelay,
				giveUpAfter: l.cfg.TTL,
			})
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				l.logger.Warn("lock-session-create-failed", "error", err.Error(), "retry_in", l.cfg.RetryInterval.String())
				sleepCtx(ctx, l.cfg.RetryInterval)
				continue
			}
			tryAcquire = true
		}

		if tryAcquire {
			acquired, err := l.client.acquireKey(ctx, l.cfg.Key, l.cfg.Value, sess.id)
			if ctx.Err() != nil {
				return nil
			}
			if err == nil && acquired {
				return sess
			}
			if isInvalidSession(err) {
				l.logger.Warn("lock-session-invalid", "session", sess.id)
				sess.close(l.client, l.logger)
				sess = nil
				continue
			}
			if err != nil {
				l.logger.Warn("lock-acquire-failed", "error", err.Error(), "retry_in", l.cfg.RetryInterval.String())
				sleepCtx(ctx, l.cfg.RetryInterval)
				continue
			}
			if sawFree {
				// Free but refused: the previous holder's session was invalidated less than a
				// lock-delay ago. Try again once it has passed rather than after a quiet
				// RetryInterval.
				sawFree = false
				wait := min(l.cfg.LockDelay+time.Millisecond, l.cfg.RetryInterval)
				l.logger.Debug("lock-free-but-refused", "retry_in", wait.String())
				sleepCtx(ctx, wait)
				continue
			}
		}

		// Not acquired: held by another session, or within a lock-delay. Wait until the key
		// changes, at most RetryInterval. Do not try while another session holds the key and it
		// keeps changing; try again after a quiet RetryInterval (as promised) or once it is free.
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: l.cfg.RetryInterval}).WithContext(ctx)
		pair, meta, err := kv.Get(l.cfg.Key, q)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if !failing {
				l.logger.Warn("lock-watch-failed", "error", err.Error(), "retry_in", l.cfg.RetryInterval.String())
				failing = true
			}
			index = 0
			tryAcquire = true
			sleepCtx(ctx, l.cfg.RetryInterval)
			continue
		}
		failing = false
		changed := meta.LastIndex != index
		index = nextIndex(index, meta.LastIndex)
		heldByOther := pair != nil && pair.Session != "" && pair.Session != sess.id
		if heldByOther && pair.Session != lastHolder {
			l.logger.Info("lock-held-by-other", "holder_session", pair.Session, "holder_value", string(pair.Value))
			lastHolder = pair.Session
		}
		tryAcquire = !heldByOther || !changed
		sawFree = !heldByOther
	}
	return nil
}

func (l *lockRunner) release(sess *session) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, _, err := l.client.consul.KV().Release(&api.KVPair{Key: l.cfg.Key, Session: sess.id},
		(&api.WriteOptions{}).WithContext(ctx)); err != nil {
		l.logger.Warn("lock-release-failed", "error", err.Error())
	}
	sess.close(l.client, l.logger)
}
