package processor

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/convert"
)

// lrp is an instance's container with its keys.
type lrp struct {
	c   executor.Container
	key *models.ActualLRPKey
	ik  *models.ActualLRPInstanceKey
	log *slog.Logger
}

func (p *Processor) processLRP(c executor.Container) {
	key, err := convert.ActualLRPKeyFromTags(c.Tags)
	if err != nil {
		p.logger.Error("instance container without its keys", "container", c.Guid, "error", err)
		return
	}
	ik, err := convert.InstanceKey(c, p.cfg.CellID)
	if err != nil {
		p.logger.Error("instance container without its keys", "container", c.Guid, "error", err)
		return
	}
	l := lrp{c: c, key: key, ik: ik, log: p.logger.With("process_guid", key.ProcessGuid, "index", key.Index, "instance_guid", ik.InstanceGuid, "state", c.State)}
	if p.cfg.Evacuating() {
		p.evacuateLRP(l)
		return
	}
	switch c.State {
	case executor.StateReserved:
		if p.claim(l) {
			p.runLRP(l)
		}
	case executor.StateInitializing, executor.StateCreated:
		p.claim(l)
	case executor.StateRunning:
		routable := c.Ready
		if unroute, draining := p.draining.Load(c.Guid); draining {
			if !unroute.(bool) {
				return // its record is gone or another's: starting it would take that back
			}
			routable = false
		}
		err := p.bbs.StartActualLRP(p.ctx, p.startRequest(l, routable))
		if errors.Is(err, models.ErrActualLRPCannotBeStarted) {
			// the instance is another container's now (placed elsewhere while this cell was away)
			l.log.Info("instance cannot be started here: stopping its container", "error", err)
			p.afterDrain(c, p.stopContainer)
		} else if err != nil {
			l.log.Error("starting actual LRP", "error", err)
		}
	case executor.StateCompleted:
		// the container goes once the BBS knows, else the next turn (bulk sync) tells it again:
		// an instance whose container is gone would be removed, not crashed past its restart policy
		var settled bool
		if c.RunResult.Stopped {
			settled = p.settled(c.Guid, "removing actual LRP of a stopped container", p.bbs.RemoveActualLRP(p.ctx, key.ProcessGuid, key.Index, ik), models.ErrActualLRPCannotBeRemoved)
		} else {
			settled = p.settled(c.Guid, "crashing actual LRP", p.bbs.CrashActualLRP(p.ctx, key, ik, c.RunResult.FailureReason), models.ErrActualLRPCannotBeCrashed)
		}
		if settled {
			p.deleteContainer(c.Guid)
		}
	}
}

// claim claims the instance for the container; when the BBS says it cannot be (it is another
// cell's, or gone), the container goes.
func (p *Processor) claim(l lrp) bool {
	err := p.bbs.ClaimActualLRP(p.ctx, l.key.ProcessGuid, l.key.Index, l.ik)
	if err == nil {
		return true
	}
	l.log.Info("claiming actual LRP", "error", err)
	if errors.Is(err, models.ErrActualLRPCannotBeClaimed) || errors.Is(err, models.ErrResourceNotFound) {
		p.deleteContainer(l.c.Guid)
	}
	return false
}

// runLRP runs a claimed instance's container with its desired LRP's definition. A definition
// the cell cannot run crashes the instance with the reason, so it is in the BBS.
func (p *Processor) runLRP(l lrp) {
	d, err := p.bbs.DesiredLRPByProcessGuid(p.ctx, l.key.ProcessGuid)
	if err != nil {
		l.log.Error("reading desired LRP: giving the instance back", "error", err)
		p.giveBack(l)
		return
	}
	info, err := convert.LRPRunInfo(d, l.key, l.ik, p.cfg.Convert)
	if err != nil {
		l.log.Error("converting desired LRP", "error", err)
		if err := p.bbs.CrashActualLRP(p.ctx, l.key, l.ik, err.Error()); err != nil {
			l.log.Error("crashing actual LRP", "error", err)
		}
		p.deleteContainer(l.c.Guid)
		return
	}
	if err := p.exec.RunContainer(p.ctx, l.c.Guid, info); err != nil {
		l.log.Error("running container: giving the instance back", "error", err)
		p.giveBack(l)
	}
}

// giveBack removes the instance record and the container, so the instance is placed again.
func (p *Processor) giveBack(l lrp) {
	if err := p.bbs.RemoveActualLRP(p.ctx, l.key.ProcessGuid, l.key.Index, l.ik); err != nil {
		l.log.Error("removing actual LRP", "error", err)
	}
	p.deleteContainer(l.c.Guid)
}

func (p *Processor) startRequest(l lrp, routable bool) *models.StartActualLRPRequest {
	return &models.StartActualLRPRequest{
		ActualLrpKey:         l.key,
		ActualLrpInstanceKey: l.ik,
		ActualLrpNetInfo:     convert.NetInfo(l.c),
		MetricTags:           l.c.RunInfo.MetricsConfig.Tags,
		Routable:             &routable,
		AvailabilityZone:     p.cfg.AvailabilityZone,
	}
}

// evacuateLRP hands the instance over while the cell evacuates: one not running yet is given
// back at once; a running one is kept until the BBS says its replacement runs (the caller asks
// again until then); a completed one is reported and goes. A container the BBS did not answer
// for is kept, for the next pass to ask again.
func (p *Processor) evacuateLRP(l lrp) {
	switch l.c.State {
	case executor.StateReserved, executor.StateInitializing, executor.StateCreated:
		if _, err := p.bbs.EvacuateClaimedActualLRP(p.ctx, l.key, l.ik); p.settled(l.c.Guid, "evacuating claimed actual LRP", err) {
			p.deleteContainer(l.c.Guid)
		}
	case executor.StateRunning:
		if unroute, draining := p.draining.Load(l.c.Guid); draining {
			// its container goes after the drain: only a retired one still has a route to drop
			if unroute.(bool) {
				p.unrouteEvacuating(l)
			}
			return
		}
		if _, told := p.replacing.LoadOrStore(l.c.Guid, true); !told && p.cfg.AppLog != nil {
			p.cfg.AppLog(l.c.RunInfo.LogConfig, fmt.Sprintf("Cell %s requesting replacement for instance %s", p.cfg.CellID, l.ik.InstanceGuid))
		}
		s := p.startRequest(l, l.c.Ready)
		keep, err := p.bbs.EvacuateRunningActualLRP(p.ctx, &models.EvacuateRunningActualLRPRequest{
			ActualLrpKey: s.ActualLrpKey, ActualLrpInstanceKey: s.ActualLrpInstanceKey, ActualLrpNetInfo: s.ActualLrpNetInfo,
			MetricTags: s.MetricTags, Routable: s.Routable, AvailabilityZone: s.AvailabilityZone,
		})
		if err != nil {
			// kept: the next pass asks again; a BBS that did not answer decided nothing
			l.log.Error("evacuating running actual LRP", "error", err)
			return
		}
		if !keep {
			// the BBS removed the evacuating record: its route goes now
			l.log.Info("evacuated: the replacement runs, or the instance is gone")
			p.afterDrain(l.c, p.deleteContainer)
		}
	case executor.StateCompleted:
		var err error
		if l.c.RunResult.Stopped {
			_, err = p.bbs.EvacuateStoppedActualLRP(p.ctx, l.key, l.ik)
		} else {
			_, err = p.bbs.EvacuateCrashedActualLRP(p.ctx, l.key, l.ik, l.c.RunResult.FailureReason)
		}
		if p.settled(l.c.Guid, "evacuating completed actual LRP", err) {
			p.deleteContainer(l.c.Guid)
		}
	}
}

// unrouteEvacuating takes an instance retired while the cell evacuates out of the routes before
// its drain. Its record says how: an ordinary record still this container's (not handed over
// yet) is started again unroutable, as in an ordinary turn; an evacuating one is removed, which
// is its unregistration. Neither is done blindly: a start would take back a slot already handed
// over (or create one that went), and a removal would leave the ordinary record routed.
func (p *Processor) unrouteEvacuating(l lrp) {
	lrps, err := p.bbs.ActualLRPs(p.ctx, bbs.ActualLRPFilter{ProcessGuid: l.key.ProcessGuid, Index: &l.key.Index})
	if err != nil {
		l.log.Error("reading the retired instance's records", "error", err)
		return
	}
	for _, a := range lrps {
		if !a.GetActualLrpInstanceKey().Equal(l.ik) {
			continue
		}
		switch a.GetPresence() {
		case models.ActualLRP_ORDINARY:
			err = p.bbs.StartActualLRP(p.ctx, p.startRequest(l, false))
		case models.ActualLRP_EVACUATING:
			err = p.bbs.RemoveEvacuatingActualLRP(p.ctx, l.key, l.ik)
		}
		if err != nil {
			l.log.Error("unrouting the retired instance", "presence", a.GetPresence(), "error", err)
		}
	}
}
