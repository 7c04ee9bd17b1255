package routeemitter

import (
	"time"

	"github.com/diego-go/diego/router"
)

// registerInterval is how often every route is registered again: the configured interval until a
// router says how often it wants it, then the first router's, then the smallest any router asked
// for (a router that wants it more often than another must get it that often).
type registerInterval struct {
	d           time.Duration
	fromRouters bool
}

// adopt takes s's interval into account and says whether the interval changed. A router that
// asks for no interval (0 or less) changes nothing.
func (r *registerInterval) adopt(s router.RouterStart) bool {
	d := time.Duration(s.MinimumRegisterIntervalInSeconds) * time.Second
	if d <= 0 || (r.fromRouters && d >= r.d) {
		return false
	}
	r.d, r.fromRouters = d, true
	return true
}

// maxStartJitter bounds the pause before registering everything after a router.start.
const maxStartJitter = time.Second

// startJitter is the longest pause before registering everything after a router.start: a fifth
// of the interval (upstream's jitter factor), at most maxStartJitter, so that emitters do not all
// answer at once and yet the new router learns every route soon.
func (r *registerInterval) startJitter() time.Duration { return min(r.d/5, maxStartJitter) }
