// Package router is the router's NATS protocol, gorouter's: the subjects and the messages that
// route emitters publish and routers answer. It imports nothing of the router daemon
// (router/..., cmd/router), so an emitter links only this.
package router

// The subjects of gorouter's protocol.
const (
	// RegisterSubject adds (or renews) the message's host:port under each of its uris.
	RegisterSubject = "router.register"
	// UnregisterSubject removes the message's host:port from each of its uris.
	UnregisterSubject = "router.unregister"
	// StartSubject is published by a router at start and after a NATS reconnect: emitters
	// register everything again soon.
	StartSubject = "router.start"
	// GreetSubject is a request an emitter makes at start; every router answers with its
	// RouterStart.
	GreetSubject = "router.greet"
)

// RegistryMessage is the body of router.register and router.unregister. host, port and uris
// are always written; the rest only when set.
type RegistryMessage struct {
	Host string   `json:"host"`
	Port uint16   `json:"port"`
	URIs []string `json:"uris"`
	// TLSPort is a port serving TLS whose certificate names ServerCertDomainSAN.
	TLSPort  uint16 `json:"tls_port,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	// App is the LRP's log guid; the router sends it to the backend as X-CF-ApplicationID.
	App             string `json:"app,omitempty"`
	RouteServiceURL string `json:"route_service_url,omitempty"`
	// PrivateInstanceID is the instance guid (X-CF-InstanceID, sticky sessions'
	// __VCAP_ID__); PrivateInstanceIndex its index as a decimal string.
	PrivateInstanceID    string `json:"private_instance_id,omitempty"`
	PrivateInstanceIndex string `json:"private_instance_index,omitempty"`
	ServerCertDomainSAN  string `json:"server_cert_domain_san,omitempty"`
	AvailabilityZone     string `json:"availability_zone,omitempty"`
	IsolationSegment     string `json:"isolation_segment,omitempty"`
	// StaleThresholdInSeconds replaces the router's prune threshold for this endpoint.
	StaleThresholdInSeconds int `json:"stale_threshold_in_seconds,omitempty"`
	// EndpointUpdatedAtNs is when the instance started (Unix nanoseconds), sent on its first
	// registration.
	EndpointUpdatedAtNs int64             `json:"endpoint_updated_at_ns,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
	Options             *RouteOptions     `json:"options,omitempty"`
}

// RouteOptions are a route's per-route settings.
type RouteOptions struct {
	// LoadBalancing is "round-robin" or "least-connection".
	LoadBalancing string `json:"loadbalancing,omitempty"`
}

// RouterStart is the body of router.start and of a router's answer to router.greet: how often
// emitters must register again and after how long the router forgets an endpoint.
type RouterStart struct {
	ID                               string   `json:"id"`
	Hosts                            []string `json:"hosts"`
	MinimumRegisterIntervalInSeconds int      `json:"minimumRegisterIntervalInSeconds"`
	PruneThresholdInSeconds          int      `json:"pruneThresholdInSeconds"`
}
