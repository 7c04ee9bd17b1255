package handlers

import (
	"context"
	"time"
)

// ConvergenceParams are the convergence thresholds.
type ConvergenceParams struct {
	UnclaimedLRPThreshold       time.Duration
	KickTaskDuration            time.Duration
	ExpireCompletedTaskDuration time.Duration
	ExpirePendingTaskDuration   time.Duration
}

// ConvergeOnce runs one convergence pass: it reads a snapshot, asks bbs/convergence what to do
// and applies each action with compare-and-swap.
func (h *Handler) ConvergeOnce(ctx context.Context, p ConvergenceParams) error {
	return nil
}
