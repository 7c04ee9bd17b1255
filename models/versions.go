package models

import (
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
)

// The .r2 read routes answer records as clients from before image layers
// knew them: shared layers become cached dependencies (ahead of the
// record's own), exclusive ones parallel downloads run before the setup (an
// LRP) or the action (a Task), and the layers themselves are left out.

// WithoutImageLayers is the LRP as the .r2 routes answer it.
func (d *DesiredLRP) WithoutImageLayers() *DesiredLRP {
	c := proto.CloneOf(d)
	if len(c.ImageLayers) == 0 {
		return c
	}
	c.CachedDependencies = append(sharedLayersAsDependencies(c.ImageLayers), c.CachedDependencies...)
	c.Setup = exclusiveLayersBefore(c.ImageLayers, c.GetLegacyDownloadUser(), c.Setup)
	c.ImageLayers = nil
	return c
}

// WithoutImageLayers is the Task as the .r2 routes answer it.
func (t *Task) WithoutImageLayers() *Task {
	c := proto.CloneOf(t)
	d := c.GetTaskDefinition()
	if len(d.GetImageLayers()) == 0 {
		return c
	}
	d.CachedDependencies = append(sharedLayersAsDependencies(d.ImageLayers), d.CachedDependencies...)
	d.Action = exclusiveLayersBefore(d.ImageLayers, d.GetLegacyDownloadUser(), d.Action)
	d.ImageLayers = nil
	return c
}

func digestName(a ImageLayer_DigestAlgorithm) string {
	if a == ImageLayer_DigestAlgorithmInvalid {
		return ""
	}
	return strings.ToLower(a.String())
}

func sharedLayersAsDependencies(layers []*ImageLayer) []*CachedDependency {
	var out []*CachedDependency
	for _, l := range layers {
		if l.GetLayerType() != ImageLayer_SHARED {
			continue
		}
		c := &CachedDependency{
			Name:              l.GetName(),
			From:              l.GetUrl(),
			To:                l.GetDestinationPath(),
			ChecksumAlgorithm: digestName(l.GetDigestAlgorithm()),
			ChecksumValue:     l.GetDigestValue(),
			CacheKey:          l.GetUrl(),
		}
		if l.GetDigestValue() != "" {
			c.CacheKey = c.ChecksumAlgorithm + ":" + l.GetDigestValue()
		}
		out = append(out, c)
	}
	return out
}

func exclusiveLayersBefore(layers []*ImageLayer, user string, then *Action) *Action {
	var downloads []*Action
	for _, l := range layers {
		if l.GetLayerType() != ImageLayer_EXCLUSIVE {
			continue
		}
		alg := digestName(l.GetDigestAlgorithm())
		downloads = append(downloads, &Action{Value: &Action_DownloadAction{DownloadAction: &DownloadAction{
			Artifact:          l.GetName(),
			From:              l.GetUrl(),
			To:                l.GetDestinationPath(),
			CacheKey:          alg + ":" + l.GetDigestValue(),
			User:              user,
			ChecksumAlgorithm: alg,
			ChecksumValue:     l.GetDigestValue(),
		}}})
	}
	if len(downloads) == 0 {
		return then
	}
	parallel := &Action{Value: &Action_ParallelAction{ParallelAction: &ParallelAction{Actions: downloads}}}
	if then == nil {
		return parallel
	}
	return &Action{Value: &Action_SerialAction{SerialAction: &SerialAction{Actions: []*Action{parallel, then}}}}
}

// WithMetricsGuid fills in whichever of the deprecated metrics_guid and the
// "source_id" metric tag is missing from the other, as upstream answers
// desired LRPs to the clients of either.
func (d *DesiredLRP) WithMetricsGuid() *DesiredLRP {
	source, hasSource := d.GetMetricTags()["source_id"]
	switch {
	case hasSource && d.GetMetricsGuid() == "":
		c := proto.CloneOf(d)
		c.MetricsGuid = source.GetStatic()
		return c
	case !hasSource && d.GetMetricsGuid() != "":
		c := proto.CloneOf(d)
		if c.MetricTags == nil {
			c.MetricTags = map[string]*MetricTagValue{}
		}
		c.MetricTags["source_id"] = &MetricTagValue{Static: d.GetMetricsGuid()}
		return c
	}
	return d
}

// AsFirstRevision is the LRP as upstream's first-revision event streams (GET /v1/events, POST
// /v1/events/lrp_instances) send it: the .r2 view, then every timeout action also in deprecated
// nanoseconds, the start timeout also in deprecated seconds, and the cached dependencies as
// parallel downloads run before the setup. Like upstream's, the conversion replaces an
// emit-progress or try action by the action it wraps.
func (d *DesiredLRP) AsFirstRevision() *DesiredLRP {
	c := d.WithoutImageLayers()
	c.Action = withDeprecatedTimeouts(c.Action)
	c.Setup = withDeprecatedTimeouts(c.Setup)
	c.Monitor = withDeprecatedTimeouts(c.Monitor)
	c.DeprecatedStartTimeoutS = uint32(c.StartTimeoutMs) / 1000
	if len(c.CachedDependencies) == 0 {
		return c
	}
	downloads := make([]*Action, len(c.CachedDependencies))
	for i, dep := range c.CachedDependencies {
		downloads[i] = &Action{Value: &Action_DownloadAction{DownloadAction: &DownloadAction{
			Artifact:  dep.GetName(),
			From:      dep.GetFrom(),
			To:        dep.GetTo(),
			CacheKey:  dep.GetCacheKey(),
			LogSource: dep.GetLogSource(),
			User:      c.GetLegacyDownloadUser(),
		}}}
	}
	serial := []*Action{{Value: &Action_ParallelAction{ParallelAction: &ParallelAction{Actions: downloads}}}}
	if c.Setup != nil {
		serial = append(serial, c.Setup)
	}
	c.Setup = &Action{Value: &Action_SerialAction{SerialAction: &SerialAction{Actions: serial}}}
	c.CachedDependencies = nil
	return c
}

// withDeprecatedTimeouts copies the tree with each timeout action's deprecated_timeout_ns set
// from timeout_ms (the action inside a timeout is left as it is, as upstream's).
func withDeprecatedTimeouts(a *Action) *Action {
	each := func(as []*Action) []*Action {
		out := make([]*Action, len(as))
		for i, x := range as {
			out[i] = withDeprecatedTimeouts(x)
		}
		return out
	}
	switch v := a.GetValue().(type) {
	case *Action_TimeoutAction:
		t := proto.CloneOf(v.TimeoutAction)
		t.DeprecatedTimeoutNs = t.GetTimeoutMs() * int64(time.Millisecond)
		return &Action{Value: &Action_TimeoutAction{TimeoutAction: t}}
	case *Action_EmitProgressAction:
		return withDeprecatedTimeouts(v.EmitProgressAction.GetAction())
	case *Action_TryAction:
		return withDeprecatedTimeouts(v.TryAction.GetAction())
	case *Action_ParallelAction:
		p := proto.CloneOf(v.ParallelAction)
		p.Actions = each(p.Actions)
		return &Action{Value: &Action_ParallelAction{ParallelAction: p}}
	case *Action_SerialAction:
		s := proto.CloneOf(v.SerialAction)
		s.Actions = each(s.Actions)
		return &Action{Value: &Action_SerialAction{SerialAction: s}}
	case *Action_CodependentAction:
		c := proto.CloneOf(v.CodependentAction)
		c.Actions = each(c.Actions)
		return &Action{Value: &Action_CodependentAction{CodependentAction: c}}
	}
	return a
}

// FirstRevisionLRPEvent is e as the first-revision LRP streams send it: desired LRP events carry
// their LRPs AsFirstRevision; other events are unchanged.
func FirstRevisionLRPEvent(e Event) Event {
	switch x := e.(type) {
	case *DesiredLRPCreatedEvent:
		return NewDesiredLRPCreatedEvent(x.GetDesiredLrp().AsFirstRevision(), x.GetTraceId())
	case *DesiredLRPChangedEvent:
		return NewDesiredLRPChangedEvent(x.GetBefore().AsFirstRevision(), x.GetAfter().AsFirstRevision(), x.GetTraceId())
	case *DesiredLRPRemovedEvent:
		return NewDesiredLRPRemovedEvent(x.GetDesiredLrp().AsFirstRevision(), x.GetTraceId())
	}
	return e
}

// FirstRevisionTaskEvent is e as the first-revision task stream (POST /v1/events/tasks) sends it:
// its Tasks WithoutImageLayers.
func FirstRevisionTaskEvent(e Event) Event {
	switch x := e.(type) {
	case *TaskCreatedEvent:
		return NewTaskCreatedEvent(x.GetTask().WithoutImageLayers())
	case *TaskChangedEvent:
		return NewTaskChangedEvent(x.GetBefore().WithoutImageLayers(), x.GetAfter().WithoutImageLayers())
	case *TaskRemovedEvent:
		return NewTaskRemovedEvent(x.GetTask().WithoutImageLayers())
	}
	return e
}
