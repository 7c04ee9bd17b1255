// Package bbs is the Go client of the BBS API: one method per route, errors as *models.Error.
// Every component and the CLI talk to the BBS through it.
package bbs

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/models"
)

// Client talks to the BBS: to the first of its URLs that answers (see NewClient).
type Client struct {
	urls      []string
	resolve   func(ctx context.Context) ([]string, error)
	logger    *slog.Logger
	attempts  int
	retryWait time.Duration
	http      *http.Client
	// streaming client without a total timeout (event streams)
	stream *http.Client

	mu sync.Mutex
	// last is the URL that answered last: calls try it first
	last string
}

// Option tunes a Client.
type Option func(*Client)

// WithURLs adds BBS URLs (other BBS instances) tried after the first.
func WithURLs(urls ...string) Option {
	return func(c *Client) {
		for _, u := range urls {
			c.urls = append(c.urls, strings.TrimRight(u, "/"))
		}
	}
}

// WithResolver makes a call ask resolve for the BBS URLs (for example the instances of a Consul
// service, resolved by the daemon through locket, which this package does not link) in every
// round, once the BBS that answered last (asked first, without resolving) has not answered; the
// URLs given to NewClient and WithURLs are tried after the resolved ones.
func WithResolver(resolve func(ctx context.Context) ([]string, error)) Option {
	return func(c *Client) { c.resolve = resolve }
}

// WithLogger sets where failovers and reconnections are logged (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.logger = l } }

// WithRetry sets how many rounds over the URLs a call makes at most and the pause between two
// rounds (default 3 and 500 ms, as upstream's client).
func WithRetry(attempts int, wait time.Duration) Option {
	return func(c *Client) { c.attempts, c.retryWait = max(attempts, 1), wait }
}

// NewClient makes a client for the BBS at url ("https://bbs.service.cf.internal:8889"; may be ""
// with WithURLs or WithResolver); tlsConfig carries the client certificate and CA (nil for plain
// http).
//
// A call goes to the URL that answered last, then to the others in turn. It moves on to the next
// URL when the request could not be sent (the connection was refused: a standby BBS does not
// listen) or the BBS answered 503 (unavailable); a read (list, get, ping, cells, converge, event
// subscription) also when the connection failed after the request was sent, since reading twice
// is harmless. A change whose answer was lost is not sent again: it may have been applied. When
// no URL answered, the call waits and makes another round over them, as often as WithRetry says.
func NewClient(url string, tlsConfig *tls.Config, opts ...Option) *Client {
	tr := &http.Transport{
		TLSClientConfig:     tlsConfig,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	c := &Client{
		logger:    slog.Default(),
		attempts:  3,
		retryWait: 500 * time.Millisecond,
		http:      &http.Client{Transport: tr, Timeout: 2 * time.Minute},
		stream:    &http.Client{Transport: tr},
	}
	if url != "" {
		c.urls = []string{strings.TrimRight(url, "/")}
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

type withError interface {
	proto.Message
	GetError() *models.Error
}

// Ping reports whether a BBS answers, asking each URL once (no further rounds: a probe).
func (c *Client) Ping(ctx context.Context) bool {
	out, err := c.callRounds(ctx, PingRoute, nil, 1)
	if err != nil {
		return false
	}
	resp := &models.PingResponse{}
	return proto.Unmarshal(out, resp) == nil && resp.GetAvailable()
}

// Domains lists the fresh domains.
func (c *Client) Domains(ctx context.Context) ([]string, error) {
	resp := &models.DomainsResponse{}
	err := c.do(ctx, DomainsRoute, nil, resp)
	return resp.GetDomains(), err
}

// UpsertDomain marks a domain fresh for ttl (0: for ever).
func (c *Client) UpsertDomain(ctx context.Context, domain string, ttl time.Duration) error {
	return c.do(ctx, UpsertDomainRoute, &models.UpsertDomainRequest{Domain: domain, Ttl: uint32(ttl / time.Second)}, &models.UpsertDomainResponse{})
}

// Cells lists the cells present.
func (c *Client) Cells(ctx context.Context) ([]*models.CellPresence, error) {
	resp := &models.CellsResponse{}
	err := c.do(ctx, CellsRoute, nil, resp)
	return resp.GetCells(), err
}

// ActualLRPFilter selects actual LRPs; zero fields match all.
type ActualLRPFilter struct {
	Domain      string
	CellID      string
	ProcessGuid string
	Index       *int32
}

// ActualLRPs lists instances.
func (c *Client) ActualLRPs(ctx context.Context, f ActualLRPFilter) ([]*models.ActualLRP, error) {
	resp := &models.ActualLRPsResponse{}
	err := c.do(ctx, ActualLRPsRoute, &models.ActualLRPsRequest{Domain: f.Domain, CellId: f.CellID, ProcessGuid: f.ProcessGuid, Index: f.Index}, resp)
	return resp.GetActualLrps(), err
}

func lifecycle(ctx context.Context, c *Client, route string, req proto.Message) error {
	return c.do(ctx, route, req, &models.ActualLRPLifecycleResponse{})
}

// ClaimActualLRP claims an instance for a container.
func (c *Client) ClaimActualLRP(ctx context.Context, processGuid string, index int32, ik *models.ActualLRPInstanceKey) error {
	return lifecycle(ctx, c, ClaimActualLRPRoute, &models.ClaimActualLRPRequest{ProcessGuid: processGuid, Index: index, ActualLrpInstanceKey: ik})
}

// StartActualLRP reports an instance running, with its internal routes and metric tags.
func (c *Client) StartActualLRP(ctx context.Context, req *models.StartActualLRPRequest) error {
	return lifecycle(ctx, c, StartActualLRPRouteR1, req)
}

// CrashActualLRP reports an instance crashed.
func (c *Client) CrashActualLRP(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey, reason string) error {
	return lifecycle(ctx, c, CrashActualLRPRoute, &models.CrashActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik, ErrorMessage: reason})
}

// FailActualLRP records a placement failure.
func (c *Client) FailActualLRP(ctx context.Context, key *models.ActualLRPKey, reason string) error {
	return lifecycle(ctx, c, FailActualLRPRoute, &models.FailActualLRPRequest{ActualLrpKey: key, ErrorMessage: reason})
}

// RemoveActualLRP deletes an instance record (only if held by ik, when not nil).
func (c *Client) RemoveActualLRP(ctx context.Context, processGuid string, index int32, ik *models.ActualLRPInstanceKey) error {
	return lifecycle(ctx, c, RemoveActualLRPRoute, &models.RemoveActualLRPRequest{ProcessGuid: processGuid, Index: index, ActualLrpInstanceKey: ik})
}

// RetireActualLRP stops an instance.
func (c *Client) RetireActualLRP(ctx context.Context, key *models.ActualLRPKey) error {
	return lifecycle(ctx, c, RetireActualLRPRoute, &models.RetireActualLRPRequest{ActualLrpKey: key})
}

func evacuation(ctx context.Context, c *Client, route string, req proto.Message) (bool, error) {
	resp := &models.EvacuationResponse{}
	err := c.do(ctx, route, req, resp)
	return resp.GetKeepContainer(), err
}

// EvacuateClaimedActualLRP gives back a claimed instance of an evacuating cell.
func (c *Client) EvacuateClaimedActualLRP(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) (bool, error) {
	return evacuation(ctx, c, EvacuateClaimedRoute, &models.EvacuateClaimedActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik})
}

// EvacuateRunningActualLRP keeps a running instance while a replacement is placed.
func (c *Client) EvacuateRunningActualLRP(ctx context.Context, req *models.EvacuateRunningActualLRPRequest) (bool, error) {
	return evacuation(ctx, c, EvacuateRunningRouteR1, req)
}

// EvacuateStoppedActualLRP reports an evacuating container stopped.
func (c *Client) EvacuateStoppedActualLRP(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) (bool, error) {
	return evacuation(ctx, c, EvacuateStoppedRoute, &models.EvacuateStoppedActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik})
}

// EvacuateCrashedActualLRP reports an evacuating container crashed.
func (c *Client) EvacuateCrashedActualLRP(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey, reason string) (bool, error) {
	return evacuation(ctx, c, EvacuateCrashedRoute, &models.EvacuateCrashedActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik, ErrorMessage: reason})
}

// RemoveEvacuatingActualLRP deletes an evacuating record.
func (c *Client) RemoveEvacuatingActualLRP(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) error {
	return c.do(ctx, RemoveEvacuatingActualLRPRte, &models.RemoveEvacuatingActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik}, &models.RemoveEvacuatingActualLRPResponse{})
}

// DesiredLRPFilter selects desired LRPs; zero fields match all.
type DesiredLRPFilter struct {
	Domain       string
	ProcessGuids []string
}

func (f DesiredLRPFilter) request() *models.DesiredLRPsRequest {
	return &models.DesiredLRPsRequest{Domain: f.Domain, ProcessGuids: f.ProcessGuids}
}

// DesiredLRPs lists desired LRPs.
func (c *Client) DesiredLRPs(ctx context.Context, f DesiredLRPFilter) ([]*models.DesiredLRP, error) {
	resp := &models.DesiredLRPsResponse{}
	err := c.do(ctx, DesiredLRPsRoute, f.request(), resp)
	return resp.GetDesiredLrps(), err
}

// DesiredLRPByProcessGuid reads one desired LRP.
func (c *Client) DesiredLRPByProcessGuid(ctx context.Context, guid string) (*models.DesiredLRP, error) {
	resp := &models.DesiredLRPResponse{}
	err := c.do(ctx, DesiredLRPByProcessGuidRoute, &models.DesiredLRPByProcessGuidRequest{ProcessGuid: guid}, resp)
	return resp.GetDesiredLrp(), err
}

// DesiredLRPSchedulingInfos lists scheduling infos.
func (c *Client) DesiredLRPSchedulingInfos(ctx context.Context, f DesiredLRPFilter) ([]*models.DesiredLRPSchedulingInfo, error) {
	resp := &models.DesiredLRPSchedulingInfosResponse{}
	err := c.do(ctx, DesiredLRPSchedulingInfosRoute, f.request(), resp)
	return resp.GetDesiredLrpSchedulingInfos(), err
}

// DesiredLRPRoutingInfos lists desired LRPs with only their routing fields
// (key, instances, routes, modification tag, metric tags), as upstream does.
func (c *Client) DesiredLRPRoutingInfos(ctx context.Context, f DesiredLRPFilter) ([]*models.DesiredLRP, error) {
	resp := &models.DesiredLRPsResponse{}
	err := c.do(ctx, DesiredLRPRoutingInfosRoute, f.request(), resp)
	return resp.GetDesiredLrps(), err
}

// DesireLRP stores a new desired LRP.
func (c *Client) DesireLRP(ctx context.Context, d *models.DesiredLRP) error {
	return c.do(ctx, DesireDesiredLRPRoute, &models.DesireLRPRequest{DesiredLrp: d}, &models.DesiredLRPLifecycleResponse{})
}

// UpdateDesiredLRP changes instances, routes, annotation or metric tags.
func (c *Client) UpdateDesiredLRP(ctx context.Context, guid string, u *models.DesiredLRPUpdate) error {
	return c.do(ctx, UpdateDesiredLRPRoute, &models.UpdateDesiredLRPRequest{ProcessGuid: guid, Update: u}, &models.DesiredLRPLifecycleResponse{})
}

// RemoveDesiredLRP deletes a desired LRP and stops its instances.
func (c *Client) RemoveDesiredLRP(ctx context.Context, guid string) error {
	return c.do(ctx, RemoveDesiredLRPRoute, &models.RemoveDesiredLRPRequest{ProcessGuid: guid}, &models.DesiredLRPLifecycleResponse{})
}

// TaskFilter selects tasks; zero fields match all.
type TaskFilter struct {
	Domain string
	CellID string
}

// Tasks lists tasks.
func (c *Client) Tasks(ctx context.Context, f TaskFilter) ([]*models.Task, error) {
	resp := &models.TasksResponse{}
	err := c.do(ctx, TasksRoute, &models.TasksRequest{Domain: f.Domain, CellId: f.CellID}, resp)
	return resp.GetTasks(), err
}

// TaskByGuid reads one task.
func (c *Client) TaskByGuid(ctx context.Context, guid string) (*models.Task, error) {
	resp := &models.TaskResponse{}
	err := c.do(ctx, TaskByGuidRoute, &models.TaskByGuidRequest{TaskGuid: guid}, resp)
	return resp.GetTask(), err
}

func taskLifecycle(ctx context.Context, c *Client, route string, req proto.Message) error {
	return c.do(ctx, route, req, &models.TaskLifecycleResponse{})
}

// DesireTask stores a new task.
func (c *Client) DesireTask(ctx context.Context, guid, domain string, def *models.TaskDefinition) error {
	return taskLifecycle(ctx, c, DesireTaskRoute, &models.DesireTaskRequest{TaskGuid: guid, Domain: domain, TaskDefinition: def})
}

// StartTask claims a pending task for a cell; shouldStart is true for exactly one caller.
func (c *Client) StartTask(ctx context.Context, guid, cellID string) (bool, error) {
	resp := &models.StartTaskResponse{}
	err := c.do(ctx, StartTaskRoute, &models.StartTaskRequest{TaskGuid: guid, CellId: cellID}, resp)
	return resp.GetShouldStart(), err
}

// CancelTask cancels a task.
func (c *Client) CancelTask(ctx context.Context, guid string) error {
	return taskLifecycle(ctx, c, CancelTaskRoute, &models.TaskGuidRequest{TaskGuid: guid})
}

// FailTask fails a task (e.g. it could not be placed).
func (c *Client) FailTask(ctx context.Context, guid, reason string) error {
	return taskLifecycle(ctx, c, FailTaskRoute, &models.FailTaskRequest{TaskGuid: guid, FailureReason: reason})
}

// RejectTask hands a task back (the cell could not run it).
func (c *Client) RejectTask(ctx context.Context, guid, reason string) error {
	return taskLifecycle(ctx, c, RejectTaskRoute, &models.RejectTaskRequest{TaskGuid: guid, RejectionReason: reason})
}

// CompleteTask reports a task's result.
func (c *Client) CompleteTask(ctx context.Context, guid, cellID string, failed bool, reason, result string) error {
	return taskLifecycle(ctx, c, CompleteTaskRoute, &models.CompleteTaskRequest{TaskGuid: guid, CellId: cellID, Failed: failed, FailureReason: reason, Result: result})
}

// ResolvingTask marks a completed task as being resolved.
func (c *Client) ResolvingTask(ctx context.Context, guid string) error {
	return taskLifecycle(ctx, c, ResolvingTaskRoute, &models.TaskGuidRequest{TaskGuid: guid})
}

// DeleteTask deletes a resolving task.
func (c *Client) DeleteTask(ctx context.Context, guid string) error {
	return taskLifecycle(ctx, c, DeleteTaskRoute, &models.TaskGuidRequest{TaskGuid: guid})
}

// Converge runs one convergence pass (the converger calls this every interval).
func (c *Client) Converge(ctx context.Context) error {
	return c.do(ctx, ConvergeRoute, nil, &models.DesiredLRPLifecycleResponse{})
}
