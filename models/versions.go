package models

import (
	"strings"

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
