// Package cfroutes is the format of the HTTP routes a DesiredLRP asks for: the JSON list under
// its routes' "cf-router" key. It depends on models only, so that a client desiring routes links
// neither the route emitter's table nor the router.
package cfroutes

import (
	"encoding/json"
	"fmt"

	"github.com/diego-go/diego/models"
)

// Key is the key of a DesiredLRP's routes that holds its HTTP routes.
const Key = "cf-router"

// Route is one element of the "cf-router" list: the hostnames that reach the instances'
// container port Port.
type Route struct {
	Hostnames        []string `json:"hostnames"`
	Port             uint32   `json:"port"`
	RouteServiceURL  string   `json:"route_service_url,omitempty"`
	IsolationSegment string   `json:"isolation_segment,omitempty"`
	Protocol         string   `json:"protocol,omitempty"`
	Options          *Options `json:"options,omitempty"`
}

// Options are a route's per-route settings, passed on to the routers as they are.
type Options struct {
	// LoadBalancing is "round-robin" or "least-connection".
	LoadBalancing string `json:"loadbalancing,omitempty"`
}

// Encode is routes as a DesiredLRP holds them: their JSON under Key.
func Encode(routes []Route) *models.Routes {
	// Marshal cannot fail: a Route holds only strings and numbers.
	b, _ := json.Marshal(routes)
	return &models.Routes{Routes: map[string][]byte{Key: b}}
}

// Decode is the "cf-router" entry of routes (none when it is absent or empty).
func Decode(routes *models.Routes) ([]Route, error) {
	raw, ok := routes.GetRoutes()[Key]
	if !ok || len(raw) == 0 {
		return nil, nil
	}
	var r []Route
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("routes %q: %w", Key, err)
	}
	return r, nil
}
