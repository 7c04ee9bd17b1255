package locket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/tedsuo/ifrit"
)

// Registration describes a service registered with the local Consul agent.
type Registration struct {
	Name    string   // service name: found as <Name>.service.consul
	ID      string   // unique per instance; defaults to Name
	Address string   // advertised address; empty means the agent's node address
	Port    int      // advertised port
	Tags    []string // DNS: <tag>.<Name>.service.consul
}

// DeregisterCriticalServiceAfter is how long the agent keeps a service whose TTL check went
// critical (its process died without deregistering) before removing it. Consul's minimum is 1m.
const DeregisterCriticalServiceAfter = time.Minute

type serviceRunner struct {
	logger *slog.Logger
	client *Client
	reg    Registration
	ttl    time.Duration
}

// NewServiceRegistration returns a runner that registers reg with the agent, with a TTL check of
// ttl (default 15s) that it marks passing every ttl/2. Ready is closed once registered (it retries
// every ttl/2 until the agent answers). When the agent no longer knows the check (an agent restart
// without its data, a deregistration) it registers again. On a signal it deregisters and returns
// nil. A process that dies leaves the service critical (not resolvable by DNS) after ttl and
// removed after DeregisterCriticalServiceAfter.
func NewServiceRegistration(logger *slog.Logger, client *Client, reg Registration, ttl time.Duration) ifrit.Runner {
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	if reg.ID == "" {
		reg.ID = reg.Name
	}
	return &serviceRunner{logger: orDiscard(logger).With("service", reg.Name, "service_id", reg.ID), client: client, reg: reg, ttl: ttl}
}

func (s *serviceRunner) checkID() string { return "service:" + s.reg.ID }

func (s *serviceRunner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	if s.reg.Name == "" {
		return errors.New("locket: service name is empty")
	}
	ctx, stop := signalContext(s.logger, signals)
	defer stop()
	interval := s.ttl / 2

	for {
		err := s.register(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		s.logger.Warn("service-register-failed", "error", err.Error(), "retry_in", interval.String())
		if !sleepCtx(ctx, interval) {
			return nil
		}
	}
	s.logger.Info("service-registered", "address", s.reg.Address, "port", s.reg.Port, "ttl", s.ttl.String())
	close(ready)

	failing := false
	for sleepCtx(ctx, interval) {
		err := s.pass(ctx)
		if err == nil {
			if failing {
				s.logger.Info("service-check-passing-again")
				failing = false
			}
			continue
		}
		if ctx.Err() != nil {
			break
		}
		// The agent may have lost the service (restart without data, deregistration): register
		// again, which also marks the check passing.
		if rerr := s.register(ctx); rerr == nil {
			s.logger.Info("service-re-registered", "after_error", err.Error())
			failing = false
			continue
		} else if !failing {
			s.logger.Warn("service-check-update-failed", "error", err.Error(), "register_error", rerr.Error())
			failing = true
		}
	}

	dctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.client.consul.Agent().ServiceDeregisterOpts(s.reg.ID, (&api.QueryOptions{}).WithContext(dctx)); err != nil {
		s.logger.Warn("service-deregister-failed", "error", err.Error())
	} else {
		s.logger.Info("service-deregistered")
	}
	return nil
}

// callTimeout bounds one call to the agent. Short, so that a call the agent holds while it has no
// leader (a registration resolves central config through the servers) is retried once it has one.
func (s *serviceRunner) callTimeout() time.Duration {
	return min(requestTimeout, max(s.ttl/2, time.Second))
}

func (s *serviceRunner) register(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, s.callTimeout())
	defer cancel()
	return s.client.consul.Agent().ServiceRegisterOpts(&api.AgentServiceRegistration{
		ID:      s.reg.ID,
		Name:    s.reg.Name,
		Address: s.reg.Address,
		Port:    s.reg.Port,
		Tags:    s.reg.Tags,
		Check: &api.AgentServiceCheck{
			CheckID:                        s.checkID(),
			Name:                           s.reg.Name + " alive",
			TTL:                            s.ttl.String(),
			Status:                         api.HealthPassing,
			DeregisterCriticalServiceAfter: DeregisterCriticalServiceAfter.String(),
		},
	}, api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(rctx))
}

func (s *serviceRunner) pass(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, s.callTimeout())
	defer cancel()
	err := s.client.consul.Agent().UpdateTTLOpts(s.checkID(), "", api.HealthPassing, (&api.QueryOptions{}).WithContext(rctx))
	if err != nil {
		return fmt.Errorf("marking %s passing: %w", s.checkID(), err)
	}
	return nil
}

// ServiceAddresses lists the "host:port" of each passing instance of the service name, the
// node's address for an instance registered without one: what a client of several instances (the
// BBS client's resolver, for example) tries.
func (c *Client) ServiceAddresses(ctx context.Context, name string) ([]string, error) {
	entries, _, err := c.consul.Health().Service(name, "", true, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("locket: instances of service %s: %w", name, err)
	}
	addrs := make([]string, 0, len(entries))
	for _, e := range entries {
		host := e.Service.Address
		if host == "" {
			host = e.Node.Address
		}
		addrs = append(addrs, net.JoinHostPort(host, strconv.Itoa(e.Service.Port)))
	}
	return addrs, nil
}
