package daemon

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/diego-go/diego/locket"
)

// ServiceRegistration is the Consul registration of a daemon's listener: name, the listen
// address's port, its host unless unspecified (then the agent's node address), and one id per
// listen address so that two instances on one agent do not clash.
func ServiceRegistration(name, listenAddress string) (locket.Registration, error) {
	host, portStr, err := net.SplitHostPort(listenAddress)
	if err != nil {
		return locket.Registration{}, fmt.Errorf("service registration of %q: %w", listenAddress, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return locket.Registration{}, fmt.Errorf("service registration of %q: port: %w", listenAddress, err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = ""
	}
	return locket.Registration{Name: name, ID: name + "-" + net.JoinHostPort(host, portStr), Address: host, Port: port}, nil
}

// ServiceURLs resolves the passing instances of the Consul service name as scheme://host:port
// URLs, for a client of several instances (bbs.WithResolver).
func ServiceURLs(consul *locket.Client, name, scheme string) func(ctx context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		addrs, err := consul.ServiceAddresses(ctx, name)
		urls := make([]string, len(addrs))
		for i, a := range addrs {
			urls[i] = scheme + "://" + a
		}
		return urls, err
	}
}
