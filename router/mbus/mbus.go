// Package mbus is the router's side of gorouter's NATS protocol: it subscribes to router.register
// and router.unregister and applies each valid message to the registry, announces the router
// with router.start when it starts and after every reconnection to NATS (emitters then register
// everything again), and answers router.greet with the same announcement.
package mbus

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/diego-go/diego/internal/daemon"
	"github.com/diego-go/diego/router"
	"github.com/diego-go/diego/router/route"
)

// Registry is what the subscriber changes (router/registry's Registry).
type Registry interface {
	Register(uri string, e *route.Endpoint)
	Unregister(uri string, e *route.Endpoint)
}

// Subscriber is an ifrit runner: ready once its subscriptions are in place on a NATS server and
// router.start is published.
type Subscriber struct {
	logger   *slog.Logger
	conn     *nats.Conn
	registry Registry
	start    []byte
	// reconnected is signalled by the connection's reconnect handler; Run publishes
	// router.start for it. One pending signal is enough: a burst of reconnections needs one
	// announcement after the last.
	reconnected chan struct{}
}

// NewSubscriber connects to the NATS servers at urls (daemon.ConnectNATS: retried for ever) as
// name and returns the subscriber applying messages to registry and announcing start.
func NewSubscriber(logger *slog.Logger, name string, urls []string, registry Registry, start router.RouterStart) (*Subscriber, error) {
	body, err := json.Marshal(start)
	if err != nil {
		return nil, err
	}
	s := &Subscriber{logger: logger, registry: registry, start: body, reconnected: make(chan struct{}, 1)}
	s.conn, err = daemon.ConnectNATS(logger, name, urls, nats.ReconnectHandler(func(c *nats.Conn) {
		logger.Info("nats: reconnected", "server", c.ConnectedUrlRedacted())
		select {
		case s.reconnected <- struct{}{}:
		default:
		}
	}))
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", strings.Join(urls, ","), err)
	}
	return s, nil
}

// connectedPoll is how often Run checks for a first connection to NATS.
const connectedPoll = 500 * time.Millisecond

// Run subscribes first and announces after, so that the registrations emitters send in answer
// to router.start are not missed. It waits for a first connection to NATS before it is ready,
// and closes the connection when signalled.
func (s *Subscriber) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	defer s.conn.Close()
	// One subscription for both subjects: NATS keeps the order of one subscription's messages,
	// and an unregister must not overtake the register before it.
	if _, err := s.conn.Subscribe("router.*", s.route); err != nil {
		return fmt.Errorf("subscribe router.*: %w", err)
	}
	if _, err := s.conn.Subscribe(router.GreetSubject, s.greet); err != nil {
		return fmt.Errorf("subscribe %s: %w", router.GreetSubject, err)
	}
	// A flush succeeds once a server has the subscriptions.
	for s.conn.FlushTimeout(connectedPoll) != nil {
		select {
		case <-signals:
			return nil
		case <-time.After(connectedPoll):
		}
	}
	s.announce()
	close(ready)
	s.logger.Info("mbus: subscribed", "server", s.conn.ConnectedUrlRedacted())
	for {
		select {
		case <-s.reconnected:
			s.announce()
		case <-signals:
			return nil
		}
	}
}

func (s *Subscriber) announce() {
	if err := s.conn.Publish(router.StartSubject, s.start); err != nil {
		s.logger.Error("mbus: cannot publish "+router.StartSubject, "error", err)
	}
}

func (s *Subscriber) greet(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	if err := s.conn.Publish(m.Reply, s.start); err != nil {
		s.logger.Error("mbus: cannot answer "+router.GreetSubject, "error", err)
	}
}

// route applies a register or unregister message to the registry, for each of its uris; an
// invalid one is logged and dropped. The other router.* subjects are not for it.
func (s *Subscriber) route(m *nats.Msg) {
	var apply func(uri string, e *route.Endpoint)
	switch m.Subject {
	case router.RegisterSubject:
		apply = s.registry.Register
	case router.UnregisterSubject:
		apply = s.registry.Unregister
	default:
		return
	}
	var msg router.RegistryMessage
	err := json.Unmarshal(m.Data, &msg)
	var e *route.Endpoint
	if err == nil {
		e, err = Endpoint(msg)
	}
	if err != nil {
		s.logger.Warn("mbus: dropped an invalid message", "subject", m.Subject, "error", err, "payload", string(m.Data))
		return
	}
	for _, uri := range msg.URIs {
		apply(uri, e)
	}
}

// Endpoint is the backend a register or unregister message names, or what makes the message
// invalid. As gorouter, a route service URL must be https. The backend is dialled on port in
// plain HTTP: tls_port, protocol and the load-balancing option are not used by this router.
// endpoint_updated_at_ns (when the instance started) is not the registration's time: pruning
// counts from the message's arrival.
func Endpoint(m router.RegistryMessage) (*route.Endpoint, error) {
	var problems []error
	if m.Host == "" {
		problems = append(problems, errors.New("host is missing"))
	}
	if m.Port == 0 {
		problems = append(problems, errors.New("port is missing"))
	}
	if len(m.URIs) == 0 {
		problems = append(problems, errors.New("uris is missing"))
	}
	for _, u := range m.URIs {
		if u == "" {
			problems = append(problems, errors.New("uris holds an empty uri"))
			break
		}
	}
	if m.RouteServiceURL != "" && !strings.HasPrefix(m.RouteServiceURL, "https") {
		problems = append(problems, fmt.Errorf("route_service_url %q must be https", m.RouteServiceURL))
	}
	if m.StaleThresholdInSeconds < 0 {
		problems = append(problems, fmt.Errorf("stale_threshold_in_seconds %d is negative", m.StaleThresholdInSeconds))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return &route.Endpoint{
		Host:                 m.Host,
		Port:                 m.Port,
		AppID:                m.App,
		PrivateInstanceID:    m.PrivateInstanceID,
		PrivateInstanceIndex: m.PrivateInstanceIndex,
		AvailabilityZone:     m.AvailabilityZone,
		IsolationSegment:     m.IsolationSegment,
		ServerCertDomainSAN:  m.ServerCertDomainSAN,
		RouteServiceURL:      m.RouteServiceURL,
		Tags:                 m.Tags,
		StaleThreshold:       time.Duration(m.StaleThresholdInSeconds) * time.Second,
	}, nil
}
