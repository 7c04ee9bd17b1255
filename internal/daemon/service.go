package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemonconfig"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/tlsconfig"
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

// BBSClient is the client of the BBS that cfg names: bbs_url, after the passing instances of
// bbs_service_name in Consul when that is set.
func BBSClient(logger *slog.Logger, consul *locket.Client, cfg daemonconfig.BBS) (*bbs.Client, error) {
	tlsConfig, err := tlsconfig.OptionalClient(cfg.BBSCertFile, cfg.BBSKeyFile, cfg.BBSCAFile)
	if err != nil {
		return nil, err
	}
	opts := []bbs.Option{bbs.WithLogger(logger)}
	if cfg.BBSServiceName != "" {
		scheme := "http"
		if tlsConfig != nil {
			scheme = "https"
		}
		opts = append(opts, bbs.WithResolver(ServiceURLs(consul, cfg.BBSServiceName, scheme)))
	}
	return bbs.NewClient(cfg.BBSURL, tlsConfig, opts...), nil
}
