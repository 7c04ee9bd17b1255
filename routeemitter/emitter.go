// Package routeemitter is the route emitter's runner: it keeps the routing table
// (routeemitter/routingtable) current from the BBS and publishes gorouter's register and
// unregister messages on NATS.
//
// One goroutine owns the table. It applies the BBS's LRP instance events as they come; it reads
// the whole state again (a full sync) once the event stream is open, every sync interval, and
// each time the stream broke and was opened again, keeping the events that arrive during a sync
// to replay them on the snapshot. It greets the routers (router.greet, every second until one
// answers), registers every route again at the smallest interval the routers ask for, and soon
// after a router announces itself on router.start.
package routeemitter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/events"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/routeemitter/cfroutes"
	"github.com/diego-go/diego/routeemitter/routingtable"
	"github.com/diego-go/diego/router"
)

// Timings that are not configured.
const (
	// greetInterval: how often router.greet is sent until a router answers (upstream's).
	greetInterval = time.Second
	// retryWait: the pause before subscribing again or syncing again after a failure.
	retryWait = time.Second
)

// Config is what the runner needs.
type Config struct {
	BBS     *bbs.Client
	NATS    *nats.Conn
	Logger  *slog.Logger
	Metrics *Metrics
	// SyncInterval: how often the whole state is read again.
	SyncInterval time.Duration
	// RegisterInterval: how often everything is registered again until a router says otherwise.
	RegisterInterval time.Duration
}

// Runner is the ifrit runner of the route emitter (run it only while holding the lock).
type Runner struct {
	cfg Config
}

// New makes the runner.
func New(cfg Config) *Runner { return &Runner{cfg: cfg} }

type syncResult struct {
	snapshot routingtable.Snapshot
	started  time.Time
	err      error
}

// Run runs until signalled. It is ready once it listens to the routers.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	log := r.cfg.Logger
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Routers' announcements: answers to our greeting and router.start.
	greeted := make(chan router.RouterStart, 16)
	started := make(chan router.RouterStart, 16)
	inbox := nats.NewInbox()
	for subject, ch := range map[string]chan router.RouterStart{inbox: greeted, router.StartSubject: started} {
		sub, err := r.cfg.NATS.Subscribe(subject, func(m *nats.Msg) {
			var s router.RouterStart
			if err := json.Unmarshal(m.Data, &s); err != nil {
				log.Warn("route-emitter: ignoring a router's announcement that does not decode", "subject", m.Subject, "error", err.Error())
				return
			}
			select {
			case ch <- s:
			default: // a burst: one is enough to act on
			}
		})
		if err != nil {
			return err
		}
		defer func() { _ = sub.Unsubscribe() }()
	}

	evs := make(chan models.Event)
	// resync: the event stream was (re)opened, a sync must follow
	resync := make(chan struct{}, 1)
	go r.watch(ctx, evs, resync)
	close(ready)
	log.Info("route-emitter: started", "sync_interval", r.cfg.SyncInterval.String(), "register_interval", r.cfg.RegisterInterval.String())

	table := routingtable.New()
	var (
		syncing, syncAgain bool
		during             []models.Event
		syncDone           = make(chan syncResult, 1)
	)
	startSync := func() {
		if syncing {
			syncAgain = true
			return
		}
		syncing, syncAgain, during = true, false, nil
		go func() { syncDone <- r.readSnapshot(ctx) }()
	}
	retrySync := func() {
		time.AfterFunc(retryWait, func() {
			select {
			case resync <- struct{}{}:
			default:
			}
		})
	}

	interval := registerInterval{d: r.cfg.RegisterInterval}
	registerTicker := time.NewTicker(interval.d)
	defer registerTicker.Stop()
	syncTicker := time.NewTicker(r.cfg.SyncInterval)
	defer syncTicker.Stop()
	greetTicker := time.NewTicker(greetInterval)
	defer greetTicker.Stop()
	r.greet(inbox)

	useInterval := func(s router.RouterStart) {
		if interval.adopt(s) {
			registerTicker.Reset(interval.d)
			log.Info("route-emitter: register interval set by a router", "router", s.ID, "interval", interval.d.String())
		}
	}
	emitAll := make(chan struct{}, 1)

	for {
		select {
		case <-signals:
			log.Info("route-emitter: stopping")
			return nil

		case e := <-evs:
			if syncing {
				during = append(during, e)
				continue
			}
			r.publish(table.Handle(e))
			r.measure(table)

		case <-resync:
			startSync()
		case <-syncTicker.C:
			startSync()
		case res := <-syncDone:
			syncing = false
			if res.err != nil {
				r.cfg.Metrics.syncs.WithLabelValues("failed").Inc()
				log.Error("route-emitter: sync failed; retrying", "error", res.err.Error())
				// the events kept for the snapshot still apply to the table in hand
				for _, e := range during {
					r.publish(table.Handle(e))
				}
				during = nil
				r.measure(table)
				retrySync()
				continue
			}
			m := table.Sync(res.snapshot, during)
			during = nil
			r.publish(m)
			r.measure(table)
			took := time.Since(res.started)
			r.cfg.Metrics.syncs.WithLabelValues("ok").Inc()
			r.cfg.Metrics.syncDuration.Observe(took.Seconds())
			log.Info("route-emitter: synced", "duration", took.String(), "routes", table.RouteCount(),
				"registered", len(m.Registrations), "unregistered", len(m.Unregistrations))
			if syncAgain {
				startSync()
			}

		case <-greetTicker.C:
			r.greet(inbox)
		case s := <-greeted:
			greetTicker.Stop()
			useInterval(s)
		case s := <-started:
			greetTicker.Stop()
			useInterval(s)
			jitter := time.Duration(rand.Int64N(int64(interval.startJitter()) + 1))
			time.AfterFunc(jitter, func() {
				select {
				case emitAll <- struct{}{}:
				default:
				}
			})
		case <-emitAll:
			r.publish(table.Emit())
			registerTicker.Reset(interval.d)
		case <-registerTicker.C:
			r.publish(table.Emit())
		}
	}
}

// watch opens the BBS's LRP instance event stream (again and again until it is open) and passes
// its events on. Each time the stream is opened or reopened it asks for a sync, since events may
// have been missed.
func (r *Runner) watch(ctx context.Context, out chan<- models.Event, resync chan<- struct{}) {
	log := r.cfg.Logger
	askSync := func() {
		select {
		case resync <- struct{}{}:
		default:
		}
	}
	var stream *bbs.EventStream
	for {
		var err error
		stream, err = r.cfg.BBS.SubscribeToLRPInstanceEvents(ctx, "")
		if err == nil {
			break
		}
		log.Error("route-emitter: cannot subscribe to the BBS's events; retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryWait):
		}
	}
	defer func() { _ = stream.Close() }()
	askSync()
	for {
		e, err := stream.Next()
		switch {
		case err == nil:
			// here every event passes once, whether the loop applies it now or after a sync
			r.warnBadRoutes(e)
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		case errors.Is(err, bbs.ErrReconnected):
			log.Warn("route-emitter: the BBS's event stream broke and was reopened; syncing", "error", err.Error())
			askSync()
		case ctx.Err() != nil, errors.Is(err, events.ErrEventSourceClosed):
			return
		default:
			log.Error("route-emitter: skipping an event that does not decode", "error", err.Error())
		}
	}
}

// readSnapshot reads what a full sync needs: every desired LRP's routing fields, every actual
// LRP and the fresh domains.
func (r *Runner) readSnapshot(ctx context.Context) syncResult {
	res := syncResult{started: time.Now()}
	res.snapshot.Desired, res.err = r.cfg.BBS.DesiredLRPRoutingInfos(ctx, bbs.DesiredLRPFilter{})
	if res.err != nil {
		return res
	}
	res.snapshot.Actual, res.err = r.cfg.BBS.ActualLRPs(ctx, bbs.ActualLRPFilter{})
	if res.err != nil {
		return res
	}
	res.snapshot.FreshDomains, res.err = r.cfg.BBS.Domains(ctx)
	return res
}

func (r *Runner) greet(inbox string) {
	if err := r.cfg.NATS.PublishRequest(router.GreetSubject, inbox, nil); err != nil {
		r.cfg.Logger.Warn("route-emitter: cannot greet the routers", "error", err.Error())
	}
}

// publish sends the messages: unregistrations first, so that a route that moves is never
// registered twice at once.
func (r *Runner) publish(m routingtable.Messages) {
	var failed error
	for _, s := range []struct {
		subject string
		msgs    []router.RegistryMessage
		sent    prometheus.Counter
	}{{router.UnregisterSubject, m.Unregistrations, r.cfg.Metrics.unregistered}, {router.RegisterSubject, m.Registrations, r.cfg.Metrics.registered}} {
		for _, msg := range s.msgs {
			// plain structs always encode
			b, _ := json.Marshal(msg)
			if err := r.cfg.NATS.Publish(s.subject, b); err != nil {
				failed = err
				continue
			}
			s.sent.Inc()
			r.cfg.Logger.Debug("route-emitter: published", "subject", s.subject, "message", string(b))
		}
	}
	if failed != nil {
		r.cfg.Logger.Error("route-emitter: cannot publish on NATS", "error", failed.Error())
	}
}

func (r *Runner) measure(t *routingtable.Table) {
	r.cfg.Metrics.routes.Set(float64(t.RouteCount()))
	r.cfg.Metrics.entries.Set(float64(t.Size()))
}

// warnBadRoutes logs a desired LRP whose cf-router routes do not decode (they route nothing).
func (r *Runner) warnBadRoutes(e models.Event) {
	var d *models.DesiredLRP
	switch e := e.(type) {
	case *models.DesiredLRPCreatedEvent:
		d = e.GetDesiredLrp()
	case *models.DesiredLRPChangedEvent:
		d = e.GetAfter()
	default:
		return
	}
	if _, err := cfroutes.Decode(d.GetRoutes()); err != nil {
		r.cfg.Logger.Warn("route-emitter: desired LRP's routes route nothing", "process_guid", d.GetProcessGuid(), "error", err.Error())
	}
}
