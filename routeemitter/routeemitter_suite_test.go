package routeemitter

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The runner itself is proven against real etcd, Consul, NATS and the BBS by cmd/route-emitter's
// suite; this one holds its register interval policy.
func TestRouteEmitter(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "RouteEmitter Suite")
}
