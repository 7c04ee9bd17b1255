package models_test

import (
	"time"

	"github.com/diego-go/diego/models"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("RestartPolicy", func() {
	policy := models.DefaultRestartPolicy()
	crashedAt := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

	DescribeTable("backoff at each crash count",
		func(crashCount int32, wait time.Duration, restarts bool) {
			got, ok := policy.Backoff(crashCount)
			Expect(ok).To(Equal(restarts))
			if !restarts {
				Expect(policy.ShouldRestart(crashedAt.Add(24*time.Hour), crashedAt, crashCount)).To(BeFalse())
				return
			}
			Expect(got).To(Equal(wait))
			Expect(policy.ShouldRestart(crashedAt.Add(wait), crashedAt, crashCount)).To(BeTrue(), "restarts once the wait is over")
			if wait > 0 {
				Expect(policy.ShouldRestart(crashedAt.Add(wait-time.Nanosecond), crashedAt, crashCount)).To(BeFalse(), "waits the whole backoff")
			}
		},
		Entry("0 crashes: at once", int32(0), time.Duration(0), true),
		Entry("1 crash: at once", int32(1), time.Duration(0), true),
		Entry("2 crashes: at once", int32(2), time.Duration(0), true),
		Entry("3 crashes: 30 s", int32(3), 30*time.Second, true),
		Entry("4 crashes: 60 s", int32(4), 60*time.Second, true),
		Entry("5 crashes: 2 min", int32(5), 2*time.Minute, true),
		Entry("6 crashes: 4 min", int32(6), 4*time.Minute, true),
		Entry("7 crashes: 8 min", int32(7), 8*time.Minute, true),
		Entry("8 crashes: 16 min", int32(8), 16*time.Minute, true),
		Entry("9 crashes: capped at 16 min", int32(9), 16*time.Minute, true),
		Entry("50 crashes: capped at 16 min", int32(50), 16*time.Minute, true),
		Entry("199 crashes: capped at 16 min", int32(199), 16*time.Minute, true),
		Entry("200 crashes: never", int32(200), time.Duration(0), false),
		Entry("1000 crashes: never", int32(1000), time.Duration(0), false),
	)

	Describe("the crash count", func() {
		running := func(since time.Time, crashCount int32) *models.ActualLRP {
			return &models.ActualLRP{State: models.ActualLRPStateRunning, Since: since.UnixNano(), CrashCount: crashCount}
		}
		now := crashedAt

		DescribeTable("after a crash",
			func(lrp *models.ActualLRP, want int32) {
				Expect(policy.CrashCountAfterCrash(lrp, now)).To(Equal(want))
			},
			Entry("first crash", running(now.Add(-time.Minute), 0), int32(1)),
			Entry("running under 5 min: counts on", running(now.Add(-5*time.Minute+time.Nanosecond), 7), int32(8)),
			Entry("running exactly 5 min: counts on (upstream resets only after more than 5 min)", running(now.Add(-5*time.Minute), 7), int32(8)),
			Entry("running 5 min and a nanosecond: resets", running(now.Add(-5*time.Minute-time.Nanosecond), 7), int32(1)),
			Entry("running over 5 min: resets", running(now.Add(-time.Hour), 150), int32(1)),
			Entry("crashing while CLAIMED never resets", &models.ActualLRP{State: models.ActualLRPStateClaimed, Since: now.Add(-time.Hour).UnixNano(), CrashCount: 4}, int32(5)),
		)
	})
})
