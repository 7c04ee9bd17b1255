package main_test

import (
	"context"
	"fmt"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemontest"
)

var _ = Describe("a standby bbs", func() {
	BeforeEach(clearEtcd)

	It("keeps the record cache before it takes the lock, then only catches up with the last leader's writes", func() {
		ctx := context.Background()
		keys := map[string]string{"k1": "pass-1"}
		leader := startBBS(keys, "k1")
		DeferCleanup(func() { leader.session.Kill().Wait("10s") })
		Eventually(func() bool { return pingOK(leader) }, "20s", "50ms").Should(BeTrue())
		standby := startBBS(keys, "k1")
		DeferCleanup(func() { standby.session.Interrupt().Wait("10s") })
		Eventually(standby.session.Err, "10s").Should(gbytes.Say(`"record cache loaded"`))
		Expect(daemontest.Listening(standby.api)).To(BeFalse(), "the standby serves")

		for i := 0; i < 20; i++ { // written after the standby's load: its watch brings them
			Expect(clientFor(leader).DesireLRP(ctx, desired(fmt.Sprintf("late-%d", i)))).To(Succeed())
		}
		Expect(leader.session.Command.Process.Signal(syscall.SIGKILL)).To(Succeed())
		Eventually(leader.session).Should(gexec.Exit())
		Eventually(func() bool { return pingOK(standby) }, "20s", "20ms").Should(BeTrue())
		Expect(string(standby.session.Err.Contents())).To(ContainSubstring(`"record cache caught up"`))
		Expect(clientFor(standby).ActualLRPs(ctx, bbs.ActualLRPFilter{})).To(HaveLen(40))
		Expect(clientFor(standby).DesiredLRPSchedulingInfos(ctx, bbs.DesiredLRPFilter{})).To(HaveLen(20))
	})
})
