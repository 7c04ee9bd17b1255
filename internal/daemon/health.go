package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
)

// LockState follows a leader lock member (Track): held once the lock is taken, lost when the
// member ends with an error after that (the lock was lost, not given up on a signal).
type LockState struct {
	held, lost atomic.Bool
}

// Track returns m with its runner watched by s.
func (s *LockState) Track(m grouper.Member) grouper.Member {
	inner := m.Runner
	m.Runner = ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		taken := make(chan struct{})
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-taken:
				s.held.Store(true)
				close(ready)
			case <-done:
			}
		}()
		err := inner.Run(signals, taken)
		if err != nil && s.held.Load() {
			s.lost.Store(true)
		}
		s.held.Store(false)
		return err
	})
	return m
}

// Held says whether the lock is held now.
func (s *LockState) Held() bool { return s.held.Load() }

// Lost says whether the lock was held and then lost.
func (s *LockState) Lost() bool { return s.lost.Load() }

// HealthCheck is one thing a daemon needs to be healthy; its error says what is wrong.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// HealthTimeout bounds each check of a health request.
const HealthTimeout = 2 * time.Second

// HealthHandler answers 200 {"healthy":true,"leader":<lock held>} while the lock was not lost and
// every check passes, else 503 {"healthy":false,"leader":...,"reason":"..."} naming each problem
// ("lost the lock", "<check name>: <error>"). lock may be nil (a daemon without one).
func HealthHandler(lock *LockState, checks ...HealthCheck) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var problems []string
		if lock != nil && lock.Lost() {
			problems = append(problems, "lost the lock")
		}
		for _, c := range checks {
			ctx, cancel := context.WithTimeout(r.Context(), HealthTimeout)
			err := c.Check(ctx)
			cancel()
			if err != nil {
				problems = append(problems, c.Name+": "+err.Error())
			}
		}
		body := map[string]any{"healthy": len(problems) == 0}
		if lock != nil {
			body["leader"] = lock.Held()
		}
		w.Header().Set("Content-Type", "application/json")
		if len(problems) > 0 {
			body["reason"] = strings.Join(problems, "; ")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
}
