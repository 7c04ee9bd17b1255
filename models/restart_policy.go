package models

import "time"

// RestartPolicy decides when a crashed instance is started again: the first
// crashes restart at once, later ones wait a backoff that doubles from
// MinBackoff up to MaxBackoff, and after MaxRestarts crashes the instance
// stays CRASHED. An instance that ran long enough before crashing starts
// counting again from zero.
type RestartPolicy struct {
	ImmediateRestarts int32
	MinBackoff        time.Duration
	MaxBackoff        time.Duration
	MaxRestarts       int32
	CrashResetAfter   time.Duration
}

// DefaultRestartPolicy is upstream Diego's: 3 immediate restarts, backoff
// from 30 s doubling to a 16 min cap, no restarts from crash 200 on, and the
// count reset after 5 min RUNNING.
func DefaultRestartPolicy() RestartPolicy {
	return RestartPolicy{
		ImmediateRestarts: 3,
		MinBackoff:        30 * time.Second,
		MaxBackoff:        16 * time.Minute,
		MaxRestarts:       200,
		CrashResetAfter:   5 * time.Minute,
	}
}

// Backoff is how long after its last crash an instance with crashCount
// crashes waits before its restart; ok is false when it is never restarted.
func (p RestartPolicy) Backoff(crashCount int32) (wait time.Duration, ok bool) {
	switch {
	case crashCount < p.ImmediateRestarts:
		return 0, true
	case crashCount >= p.MaxRestarts:
		return 0, false
	}
	wait = p.MinBackoff
	for i := p.ImmediateRestarts; i < crashCount && wait < p.MaxBackoff; i++ {
		wait *= 2
	}
	return min(wait, p.MaxBackoff), true
}

// ShouldRestart reports whether an instance that crashed for the crashCount-th
// time at crashedAt should be restarted at now.
func (p RestartPolicy) ShouldRestart(now, crashedAt time.Time, crashCount int32) bool {
	wait, ok := p.Backoff(crashCount)
	return ok && !now.Before(crashedAt.Add(wait))
}

// CrashCountAfterCrash is the instance's crash count once the crash at now is
// recorded: one more than before, or 1 when it had been RUNNING for longer
// than CrashResetAfter (strictly, as upstream: a crash at exactly 5 min still
// counts on).
func (p RestartPolicy) CrashCountAfterCrash(lrp *ActualLRP, now time.Time) int32 {
	if lrp.GetState() == ActualLRPStateRunning && now.Sub(time.Unix(0, lrp.GetSince())) > p.CrashResetAfter {
		return 1
	}
	return lrp.GetCrashCount() + 1
}
