package routingtable

import (
	"encoding/json"
	"fmt"

	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/router"
)

// CFRouterKey is the key of a DesiredLRP's routes that holds its HTTP routes.
const CFRouterKey = "cf-router"

// CFRoute is one element of the "cf-router" routes: the hostnames that reach the instances'
// container port Port.
type CFRoute struct {
	Hostnames        []string             `json:"hostnames"`
	Port             uint32               `json:"port"`
	RouteServiceURL  string               `json:"route_service_url,omitempty"`
	IsolationSegment string               `json:"isolation_segment,omitempty"`
	Protocol         string               `json:"protocol,omitempty"`
	Options          *router.RouteOptions `json:"options,omitempty"`
}

// CFRoutes decodes the "cf-router" entry of routes (none when it is absent).
func CFRoutes(routes *models.Routes) ([]CFRoute, error) {
	raw, ok := routes.GetRoutes()[CFRouterKey]
	if !ok || len(raw) == 0 {
		return nil, nil
	}
	var r []CFRoute
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("routes %q: %w", CFRouterKey, err)
	}
	return r, nil
}
