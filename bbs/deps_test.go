package bbs_test

import (
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the client's dependencies", func() {
	It("links nothing of the server: no handlers, store, service, hub nor etcd client", func() {
		out, err := exec.Command("go", "list", "-deps", "github.com/diego-go/diego/bbs").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		deps := strings.Fields(string(out))
		Expect(deps).To(ContainElement("github.com/diego-go/diego/bbs/events"))
		for _, d := range deps {
			Expect(d).NotTo(HavePrefix("go.etcd.io/"))
			Expect(d).NotTo(BeElementOf(
				"github.com/diego-go/diego/bbs/handlers", "github.com/diego-go/diego/bbs/db",
				"github.com/diego-go/diego/bbs/service", "github.com/diego-go/diego/bbs/eventhub",
				"github.com/diego-go/diego/bbs/convergence"))
		}
	})
})
