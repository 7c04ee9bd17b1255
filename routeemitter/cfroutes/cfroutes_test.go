package cfroutes_test

import (
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/routeemitter/cfroutes"
)

var _ = Describe("the cf-router routes", func() {
	It("encode under cf-router as upstream's cfroutes, byte for byte, leaving out what is unset", func() {
		r := cfroutes.Encode([]cfroutes.Route{{Hostnames: []string{"a.test", "b.test"}, Port: 8080}})
		Expect(r.GetRoutes()).To(HaveLen(1))
		Expect(string(r.GetRoutes()["cf-router"])).To(Equal(`[{"hostnames":["a.test","b.test"],"port":8080}]`))
	})

	It("encode every field under upstream's name, and decode back to the same routes", func() {
		in := []cfroutes.Route{{
			Hostnames: []string{"app.example.com"}, Port: 9090,
			RouteServiceURL: "https://rs.example.com", IsolationSegment: "iso-1", Protocol: "http2",
			Options: &cfroutes.Options{LoadBalancing: "least-connection"},
		}}
		r := cfroutes.Encode(in)
		Expect(string(r.GetRoutes()["cf-router"])).To(Equal(`[{"hostnames":["app.example.com"],"port":9090,` +
			`"route_service_url":"https://rs.example.com","isolation_segment":"iso-1","protocol":"http2",` +
			`"options":{"loadbalancing":"least-connection"}}]`))
		out, err := cfroutes.Decode(r)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(in))
	})

	It("decode to none when there are no routes or no cf-router entry", func() {
		for _, r := range []*models.Routes{nil, {}, {Routes: map[string][]byte{"tcp-router": []byte(`[]`)}}, {Routes: map[string][]byte{"cf-router": nil}}} {
			out, err := cfroutes.Decode(r)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(BeNil())
		}
	})

	It("name the cf-router entry when it does not decode", func() {
		for _, bad := range []string{`{"hostnames":`, `[{"port":"8080"}]`, `[{"options":5}]`} {
			_, err := cfroutes.Decode(&models.Routes{Routes: map[string][]byte{"cf-router": []byte(bad)}})
			Expect(err).To(MatchError(ContainSubstring(`routes "cf-router"`)), bad)
		}
	})
})

var _ = Describe("the package's dependencies", func() {
	It("are models only, of this project's packages", func() {
		out, err := exec.Command("go", "list", "-deps", "github.com/diego-go/diego/routeemitter/cfroutes").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		var ours []string
		for _, d := range strings.Fields(string(out)) {
			if strings.HasPrefix(d, "github.com/diego-go/diego/") {
				ours = append(ours, d)
			}
		}
		Expect(ours).To(ConsistOf("github.com/diego-go/diego/models", "github.com/diego-go/diego/routeemitter/cfroutes"))
	})
})
