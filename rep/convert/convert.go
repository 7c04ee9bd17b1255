// Package convert turns the BBS's records into what the executor runs, and back: a DesiredLRP
// and an instance's keys, or a Task, become an executor.RunInfo; a container's tags and ports
// become the instance's keys and net info. It follows upstream's rep (tags, environment, log and
// metric configuration, image layers) so that containers look the same to their apps.
//
//	LRPRunInfo(d *models.DesiredLRP, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey, opts Options) (executor.RunInfo, error)
//	TaskRunInfo(t *models.Task, opts Options) (executor.RunInfo, error)
//	LRPTags(lrp models.RepLRP, instanceGuid string) executor.Tags; TaskTags(task models.RepTask) executor.Tags
//	ActualLRPKeyFromTags, InstanceKey, NetInfo
package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
)

// The tags the rep puts on its containers, upstream's names and values.
const (
	LifecycleTag     = "lifecycle"
	DomainTag        = "domain"
	ProcessGuidTag   = "process-guid"
	InstanceGuidTag  = "instance-guid"
	ProcessIndexTag  = "process-index"
	VolumeDriversTag = "volume-drivers"
	PlacementTagsTag = "placement-tags"

	LRPLifecycle  = "lrp"
	TaskLifecycle = "task"
)

// Default log sources when the record names none.
const (
	DefaultLRPLogSource  = "APP/PROC/WEB"
	DefaultTaskLogSource = "TASK"
)

// Options are the cell's settings that change the conversion.
type Options struct {
	// TwoLayer turns a preloaded rootfs with an exclusive tgz sha256 image layer into a
	// "preloaded+layer:STACK?layer=...&layer_path=...&layer_digest=..." rootfs, as upstream's
	// two-layer mode does (the layer then is not downloaded into the container).
	TwoLayer bool
}

// LRPContainerGuid is the guid of an instance's container: its instance guid, as upstream's.
func LRPContainerGuid(processGuid, instanceGuid string) string { return instanceGuid }

// LRPTags are the tags of the container an instance is allocated.
func LRPTags(lrp models.RepLRP, instanceGuid string) executor.Tags {
	t := placementTags(lrp.PlacementConstraint)
	t[LifecycleTag] = LRPLifecycle
	t[DomainTag] = lrp.Domain
	t[ProcessGuidTag] = lrp.ProcessGUID
	t[ProcessIndexTag] = strconv.Itoa(int(lrp.Index))
	t[InstanceGuidTag] = instanceGuid
	return t
}

// TaskTags are the tags of the container a task is allocated (its guid is the task guid).
func TaskTags(task models.RepTask) executor.Tags {
	t := placementTags(task.PlacementConstraint)
	t[LifecycleTag] = TaskLifecycle
	t[DomainTag] = task.Domain
	return t
}

// placementTags keeps what the work asked of the cell, as JSON arrays, so the cell state can
// report it back.
func placementTags(pc models.PlacementConstraint) executor.Tags {
	tags, _ := json.Marshal(pc.PlacementTags)
	drivers, _ := json.Marshal(pc.VolumeDrivers)
	return executor.Tags{PlacementTagsTag: string(tags), VolumeDriversTag: string(drivers)}
}

// PlacementFromTags reads back what placementTags stored; an absent tag reads as none, one that
// is not a JSON array of strings is an error naming it (what decoded is still returned).
func PlacementFromTags(t executor.Tags) (placementTags, volumeDrivers []string, err error) {
	var errs []error
	for name, into := range map[string]*[]string{PlacementTagsTag: &placementTags, VolumeDriversTag: &volumeDrivers} {
		v, ok := t[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal([]byte(v), into); err != nil {
			errs = append(errs, fmt.Errorf("container tag %s %q is not a JSON array of strings: %w", name, v, err))
		}
	}
	return placementTags, volumeDrivers, errors.Join(errs...)
}

// ErrMissingTags: a container without the tags of an instance.
var ErrMissingTags = errors.New("container is missing tags")

// ActualLRPKeyFromTags reads an instance's key from its container's tags.
func ActualLRPKeyFromTags(t executor.Tags) (*models.ActualLRPKey, error) {
	if t == nil {
		return nil, ErrMissingTags
	}
	index, err := strconv.ParseInt(t[ProcessIndexTag], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("container tag %s %q is not a valid process index", ProcessIndexTag, t[ProcessIndexTag])
	}
	if t[ProcessGuidTag] == "" || t[DomainTag] == "" {
		return nil, fmt.Errorf("%w: %s and %s are required", ErrMissingTags, ProcessGuidTag, DomainTag)
	}
	return &models.ActualLRPKey{ProcessGuid: t[ProcessGuidTag], Index: int32(index), Domain: t[DomainTag]}, nil
}

// InstanceKey is the instance key of an LRP container on cellID.
func InstanceKey(c executor.Container, cellID string) (*models.ActualLRPInstanceKey, error) {
	g := c.Tags[InstanceGuidTag]
	if g == "" {
		return nil, fmt.Errorf("%w: %s is required", ErrMissingTags, InstanceGuidTag)
	}
	return &models.ActualLRPInstanceKey{InstanceGuid: g, CellId: cellID}, nil
}

// NetInfo is how the instance in c is reached: the cell's address with the host ports, the
// container's own address with the container ports; the host address is preferred, as upstream's
// default.
func NetInfo(c executor.Container) *models.ActualLRPNetInfo {
	n := &models.ActualLRPNetInfo{
		Address:          c.ExternalIP,
		InstanceAddress:  c.InternalIP,
		PreferredAddress: models.ActualLRPNetInfo_HOST,
	}
	for _, p := range c.Ports {
		n.Ports = append(n.Ports, &models.PortMapping{ContainerPort: p.ContainerPort, HostPort: p.HostPort})
	}
	return n
}

// LRPRunInfo is what the executor runs for one instance of d.
func LRPRunInfo(d *models.DesiredLRP, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey, opts Options) (executor.RunInfo, error) {
	rootFS, layers := preloadedLayer(d.GetRootFs(), d.GetImageLayers(), opts)
	if rootFS != d.GetRootFs() {
		d = proto.CloneOf(d)
		d.ImageLayers = layers
	}
	d = d.WithMetricsGuid().WithoutImageLayers()
	index := strconv.Itoa(int(key.GetIndex()))
	tags, err := metricTags(d.GetMetricTags(), index, ik.GetInstanceGuid())
	if err != nil {
		return executor.RunInfo{}, err
	}
	startMs := uint32(d.GetStartTimeoutMs())
	if startMs == 0 {
		startMs = d.GetDeprecatedStartTimeoutS() * 1000
	}
	info := executor.RunInfo{
		RootFSPath:    rootFS,
		ImageUsername: d.GetImageUsername(),
		ImagePassword: d.GetImagePassword(),
		CPUWeight:     max(d.GetCpuWeight(), 1),
		Privileged:    d.GetPrivileged(),
		LogConfig: executor.LogConfig{
			Guid:           d.GetLogGuid(),
			Index:          int(key.GetIndex()),
			SourceName:     orDefault(d.GetLogSource(), DefaultLRPLogSource),
			Tags:           tags,
			BytesPerSecond: max(d.GetLogRateLimit().GetBytesPerSecond(), 0),
		},
		MetricsConfig:      executor.MetricsConfig{Guid: d.GetMetricsGuid(), Index: int(key.GetIndex()), Tags: tags},
		StartTimeoutMs:     startMs,
		CachedDependencies: cachedDependencies(d.GetCachedDependencies()),
		Setup:              d.GetSetup(),
		Action:             d.GetAction(),
		Monitor:            d.GetMonitor(),
		CheckDefinition:    d.GetCheckDefinition(),
		EgressRules:        d.GetEgressRules(),
		Env: append([]executor.EnvironmentVariable{
			{Name: "INSTANCE_GUID", Value: ik.GetInstanceGuid()},
			{Name: "INSTANCE_INDEX", Value: index},
			{Name: "CF_INSTANCE_GUID", Value: ik.GetInstanceGuid()},
			{Name: "CF_INSTANCE_INDEX", Value: index},
		}, env(d.GetEnvironmentVariables())...),
		CertificateOrganizationalUnits: d.GetCertificateProperties().GetOrganizationalUnit(),
		TrustedSystemCertificatesPath:  d.GetTrustedSystemCertificatesPath(),
		GracePeriod:                    time.Duration(d.GetStopGracePeriodMs()) * time.Millisecond,
	}
	for _, p := range d.GetPorts() {
		info.Ports = append(info.Ports, executor.PortMapping{ContainerPort: p})
	}
	for _, s := range d.GetSidecars() {
		info.Sidecars = append(info.Sidecars, executor.Sidecar{Action: s.GetAction(), MemoryMB: int(s.GetMemoryMb()), DiskMB: int(s.GetDiskMb())})
	}
	return info, nil
}

// TaskRunInfo is what the executor runs for t. Its exclusive image layers are downloaded by the
// setup, so that a failed download fails before the task's process runs (and is retried).
func TaskRunInfo(t *models.Task, opts Options) (executor.RunInfo, error) {
	def := t.GetTaskDefinition()
	if def == nil {
		return executor.RunInfo{}, fmt.Errorf("task %s has no definition", t.GetTaskGuid())
	}
	rootFS, layers := preloadedLayer(def.GetRootFs(), def.GetImageLayers(), opts)
	// The layers' downloads become the setup: convert a copy without the action, whose
	// action is then the downloads alone.
	noAction := &models.Task{TaskGuid: t.GetTaskGuid(), TaskDefinition: &models.TaskDefinition{
		ImageLayers: layers, CachedDependencies: def.GetCachedDependencies(), LegacyDownloadUser: def.GetLegacyDownloadUser(),
	}}
	layered := noAction.WithoutImageLayers().GetTaskDefinition()
	tags, err := metricTags(def.GetMetricTags(), "", "")
	if err != nil {
		return executor.RunInfo{}, err
	}
	return executor.RunInfo{
		RootFSPath:    rootFS,
		ImageUsername: def.GetImageUsername(),
		ImagePassword: def.GetImagePassword(),
		CPUWeight:     def.GetCpuWeight(),
		Privileged:    def.GetPrivileged(),
		LogConfig: executor.LogConfig{
			Guid:           def.GetLogGuid(),
			SourceName:     orDefault(def.GetLogSource(), DefaultTaskLogSource),
			Tags:           tags,
			BytesPerSecond: max(def.GetLogRateLimit().GetBytesPerSecond(), 0),
		},
		MetricsConfig:                  executor.MetricsConfig{Guid: def.GetMetricsGuid(), Tags: tags},
		CachedDependencies:             cachedDependencies(layered.GetCachedDependencies()),
		Setup:                          layered.GetAction(),
		Action:                         def.GetAction(),
		EgressRules:                    def.GetEgressRules(),
		Env:                            env(def.GetEnvironmentVariables()),
		CertificateOrganizationalUnits: def.GetCertificateProperties().GetOrganizationalUnit(),
		TrustedSystemCertificatesPath:  def.GetTrustedSystemCertificatesPath(),
		ResultFile:                     def.GetResultFile(),
	}, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func env(vars []*models.EnvironmentVariable) []executor.EnvironmentVariable {
	out := make([]executor.EnvironmentVariable, 0, len(vars))
	for _, v := range vars {
		out = append(out, executor.EnvironmentVariable{Name: v.GetName(), Value: v.GetValue()})
	}
	return out
}

func cachedDependencies(deps []*models.CachedDependency) []executor.CachedDependency {
	var out []executor.CachedDependency
	for _, d := range deps {
		out = append(out, executor.CachedDependency{
			Name: d.GetName(), From: d.GetFrom(), To: d.GetTo(), CacheKey: d.GetCacheKey(), LogSource: d.GetLogSource(),
			ChecksumAlgorithm: d.GetChecksumAlgorithm(), ChecksumValue: d.GetChecksumValue(),
		})
	}
	return out
}

// metricTags resolves the record's metric tags for one instance: a dynamic INDEX or
// INSTANCE_GUID value becomes the instance's (a task has neither, so either is an error there).
func metricTags(tags map[string]*models.MetricTagValue, index, instanceGuid string) (map[string]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(tags))
	for name, v := range tags {
		switch {
		case v.GetStatic() != "":
			out[name] = v.GetStatic()
		case v.GetDynamic() == models.MetricTagValue_INDEX && index != "":
			out[name] = index
		case v.GetDynamic() == models.MetricTagValue_INSTANCE_GUID && instanceGuid != "":
			out[name] = instanceGuid
		default:
			return nil, fmt.Errorf("metric tag %q: value %v cannot be resolved here", name, v.GetDynamic())
		}
	}
	return out, nil
}

// preloadedLayer applies upstream's two-layer mode: the first exclusive tgz layer with a sha256
// digest of a preloaded rootfs moves into the rootfs URL.
func preloadedLayer(rootFS string, layers []*models.ImageLayer, opts Options) (string, []*models.ImageLayer) {
	stack, ok := strings.CutPrefix(rootFS, "preloaded:")
	if !opts.TwoLayer || !ok {
		return rootFS, layers
	}
	for i, l := range layers {
		if l.GetLayerType() == models.ImageLayer_EXCLUSIVE && l.GetMediaType() == models.ImageLayer_TGZ &&
			l.GetDigestAlgorithm() == models.ImageLayer_SHA256 {
			rest := append(append([]*models.ImageLayer{}, layers[:i]...), layers[i+1:]...)
			return fmt.Sprintf("preloaded+layer:%s?layer=%s&layer_path=%s&layer_digest=%s", stack,
				url.QueryEscape(l.GetUrl()), url.QueryEscape(l.GetDestinationPath()), url.QueryEscape(l.GetDigestValue())), rest
		}
	}
	return rootFS, layers
}
