package main_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/internal/daemontest"
)

var _ = Describe("the bbs daemon's bounds on requests", func() {
	It("refuses a config with max_instances or max_request_bytes out of range", func() {
		p := writeConfig(map[string]string{"k1": "pass-1"}, "k1", map[string]any{"max_instances": 0, "max_request_bytes": 100})
		s := daemontest.Start(bbsPath, "-config", p.cfgPath)
		Eventually(s).Should(gexec.Exit(2))
		Expect(string(s.Err.Contents())).To(And(ContainSubstring("max_instances"), ContainSubstring("max_request_bytes")))
	})
})
