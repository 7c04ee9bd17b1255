package main_test

import (
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the CLI's dependencies", func() {
	It("links neither the route emitter's routing table nor the router: only the route format", func() {
		out, err := exec.Command("go", "list", "-deps", "github.com/diego-go/diego/cmd/diego").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		deps := strings.Fields(string(out))
		Expect(deps).To(ContainElement("github.com/diego-go/diego/routeemitter/cfroutes"))
		Expect(deps).NotTo(ContainElement(Or(
			Equal("github.com/diego-go/diego/routeemitter"),
			HavePrefix("github.com/diego-go/diego/routeemitter/routingtable"),
			HavePrefix("github.com/diego-go/diego/router"))))
	})
})
