package router_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/router"
)

// The messages below are written out by hand, as the upstream components put them on NATS.
var _ = Describe("the wire messages", func() {
	It("decodes a route-emitter's register message with every field it sends", func() {
		payload := []byte(`{"host":"10.0.16.4","port":61001,"tls_port":61007,"uris":["app.example.com"],` +
			`"protocol":"http2","app":"log-guid","route_service_url":"https://rs.example.com",` +
			`"private_instance_id":"ig-1","private_instance_index":"2","server_cert_domain_san":"ig-1",` +
			`"isolation_segment":"iso","endpoint_updated_at_ns":1700000000000000000,` +
			`"tags":{"component":"route-emitter","source_id":"log-guid"}}`)
		var m router.RegistryMessage
		Expect(json.Unmarshal(payload, &m)).To(Succeed())
		Expect(m).To(Equal(router.RegistryMessage{
			Host: "10.0.16.4", Port: 61001, TLSPort: 61007, URIs: []string{"app.example.com"},
			Protocol: "http2", App: "log-guid", RouteServiceURL: "https://rs.example.com",
			PrivateInstanceID: "ig-1", PrivateInstanceIndex: "2", ServerCertDomainSAN: "ig-1",
			IsolationSegment: "iso", EndpointUpdatedAtNs: 1700000000000000000,
			Tags: map[string]string{"component": "route-emitter", "source_id": "log-guid"},
		}))
	})

	It("decodes a register message shaped as gorouter's own specs send it, ignoring keys it does not know", func() {
		payload := []byte(`{"dea":"dea1","app":"app1","uris":["test.com","test.com/path"],"host":"1.2.3.4","port":1234,` +
			`"tags":{},"private_instance_id":"private_instance_id","stale_threshold_in_seconds":30,` +
			`"availability_zone":"z1","options":{"loadbalancing":"least-connection"}}`)
		var m router.RegistryMessage
		Expect(json.Unmarshal(payload, &m)).To(Succeed())
		Expect(m).To(Equal(router.RegistryMessage{
			Host: "1.2.3.4", Port: 1234, URIs: []string{"test.com", "test.com/path"}, App: "app1",
			Tags: map[string]string{}, PrivateInstanceID: "private_instance_id", StaleThresholdInSeconds: 30,
			AvailabilityZone: "z1", Options: &router.RouteOptions{LoadBalancing: "least-connection"},
		}))
	})

	It("writes host, port and uris always and every other field only when set", func() {
		b, err := json.Marshal(router.RegistryMessage{})
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(MatchJSON(`{"host":"","port":0,"uris":null}`))

		b, err = json.Marshal(router.RegistryMessage{
			Host: "10.0.16.4", Port: 61001, URIs: []string{"app.example.com"}, App: "log-guid",
			PrivateInstanceID: "ig-1", PrivateInstanceIndex: "0", ServerCertDomainSAN: "ig-1",
			Tags: map[string]string{"component": "route-emitter"},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(MatchJSON(`{"host":"10.0.16.4","port":61001,"uris":["app.example.com"],"app":"log-guid",` +
			`"private_instance_id":"ig-1","private_instance_index":"0","server_cert_domain_san":"ig-1",` +
			`"tags":{"component":"route-emitter"}}`))
	})

	It("writes router.start as gorouter does, every key always", func() {
		b, err := json.Marshal(router.RouterStart{ID: "0-abc", Hosts: []string{"10.0.0.5"}, MinimumRegisterIntervalInSeconds: 20, PruneThresholdInSeconds: 120})
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(MatchJSON(`{"id":"0-abc","hosts":["10.0.0.5"],"minimumRegisterIntervalInSeconds":20,"pruneThresholdInSeconds":120}`))
		var s router.RouterStart
		Expect(json.Unmarshal([]byte(`{"id":"1-x","hosts":["10.0.0.6"],"minimumRegisterIntervalInSeconds":5,"pruneThresholdInSeconds":0}`), &s)).To(Succeed())
		Expect(s).To(Equal(router.RouterStart{ID: "1-x", Hosts: []string{"10.0.0.6"}, MinimumRegisterIntervalInSeconds: 5}))
	})
})
