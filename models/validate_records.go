package models

import (
	"net/url"
	"slices"
	"strconv"
)

func (a *Action) Validate() error {
	f := newFields()
	validateAction(f, "action", a, true)
	return f.err()
}

// validateAction checks one action tree; nil is allowed only when optional.
func validateAction(f fields, field string, a *Action, required bool) {
	if a == nil {
		f.check(!required, field, ruleRequired)
		return
	}
	in := f.in(field)
	switch v := a.Value.(type) {
	case *Action_DownloadAction:
		if v.DownloadAction == nil {
			in.check(false, "download", ruleRequired)
			return
		}
		d := in.in("download")
		d.required("from", v.DownloadAction.From)
		d.required("to", v.DownloadAction.To)
		d.required("user", v.DownloadAction.User)
		validateChecksum(d, v.DownloadAction.ChecksumAlgorithm, v.DownloadAction.ChecksumValue)
	case *Action_UploadAction:
		if v.UploadAction == nil {
			in.check(false, "upload", ruleRequired)
			return
		}
		u := in.in("upload")
		u.required("from", v.UploadAction.From)
		u.required("to", v.UploadAction.To)
		u.required("user", v.UploadAction.User)
	case *Action_RunAction:
		if v.RunAction == nil {
			in.check(false, "run", ruleRequired)
			return
		}
		r := in.in("run")
		r.required("path", v.RunAction.Path)
		r.required("user", v.RunAction.User)
		validateEnv(r, "env", v.RunAction.Env)
	case *Action_TimeoutAction:
		if v.TimeoutAction == nil {
			in.check(false, "timeout", ruleRequired)
			return
		}
		t := in.in("timeout")
		t.check(v.TimeoutAction.TimeoutMs > 0, "timeout_ms", "must be positive")
		validateAction(t, "action", v.TimeoutAction.Action, true)
	case *Action_EmitProgressAction:
		if v.EmitProgressAction == nil {
			in.check(false, "emit_progress", ruleRequired)
			return
		}
		validateAction(in.in("emit_progress"), "action", v.EmitProgressAction.Action, true)
	case *Action_TryAction:
		if v.TryAction == nil {
			in.check(false, "try", ruleRequired)
			return
		}
		validateAction(in.in("try"), "action", v.TryAction.Action, true)
	case *Action_ParallelAction:
		validateActionList(in, "parallel", v.ParallelAction.GetActions())
	case *Action_SerialAction:
		validateActionList(in, "serial", v.SerialAction.GetActions())
	case *Action_CodependentAction:
		validateActionList(in, "codependent", v.CodependentAction.GetActions())
	default:
		f.check(false, field, ruleOneAction)
	}
}

func validateActionList(f fields, field string, actions []*Action) {
	f.in(field).check(len(actions) > 0, "actions", "must not be empty")
	for i, a := range actions {
		validateAction(f.in(field), indexed("actions", i), a, true)
	}
}

func validateChecksum(f fields, algorithm, value string) {
	if algorithm == "" && value == "" {
		return
	}
	f.check(slices.Contains([]string{"md5", "sha1", "sha256"}, algorithm), "checksum_algorithm", "must be md5, sha1 or sha256")
	f.required("checksum_value", value)
}

func validateEnv(f fields, field string, env []*EnvironmentVariable) {
	for i, e := range env {
		f.at(field, i).required("name", e.GetName())
	}
}

func (c *CheckDefinition) validate(f fields) {
	validateChecks := func(field string, checks []*Check) {
		for i, c := range checks {
			in := f.at(field, i)
			switch v := c.GetValue().(type) {
			case *Check_TcpCheck:
				in.in("tcp_check").port("port", v.TcpCheck.GetPort())
			case *Check_HttpCheck:
				h := in.in("http_check")
				h.port("port", v.HttpCheck.GetPort())
			default:
				f.check(false, indexed(field, i), ruleOneCheck)
			}
		}
	}
	validateChecks("checks", c.GetChecks())
	validateChecks("readiness_checks", c.GetReadinessChecks())
}

func validateEgressRules(f fields, rules []*SecurityGroupRule) {
	for i, r := range rules {
		in := f.at("egress_rules", i)
		in.check(slices.Contains([]string{"tcp", "udp", "icmp", "all"}, r.GetProtocol()), "protocol", "must be tcp, udp, icmp or all")
		in.check(len(r.GetDestinations()) > 0, "destinations", "must not be empty")
		if r.GetPortRange() != nil {
			in.check(len(r.GetPorts()) == 0, "port_range", "cannot be combined with ports")
			in.check(r.GetPortRange().GetStart() <= r.GetPortRange().GetEnd(), "port_range", "start must not exceed end")
		}
		if r.GetIcmpInfo() != nil {
			in.check(r.GetProtocol() == "icmp", "icmp_info", "is allowed only with protocol icmp")
		}
	}
}

func validateCachedDependencies(f fields, deps []*CachedDependency) {
	for i, d := range deps {
		in := f.at("cached_dependencies", i)
		in.required("from", d.GetFrom())
		in.required("to", d.GetTo())
		validateChecksum(in, d.GetChecksumAlgorithm(), d.GetChecksumValue())
	}
}

func validateVolumeMounts(f fields, mounts []*VolumeMount) {
	for i, m := range mounts {
		in := f.at("volume_mounts", i)
		in.required("driver", m.GetDriver())
		in.required("container_dir", m.GetContainerDir())
		in.check(m.GetMode() == "r" || m.GetMode() == "rw", "mode", `must be "r" or "rw"`)
		if m.GetShared() != nil {
			in.in("shared").required("volume_id", m.GetShared().GetVolumeId())
		}
	}
}

func validateImageLayers(f fields, layers []*ImageLayer) {
	for i, l := range layers {
		in := f.at("image_layers", i)
		in.required("url", l.GetUrl())
		in.required("destination_path", l.GetDestinationPath())
		in.check(l.GetLayerType() != ImageLayer_LayerTypeInvalid, "layer_type", "must be SHARED or EXCLUSIVE")
		in.check(l.GetMediaType() != ImageLayer_MediaTypeInvalid, "media_type", "must be TGZ, TAR or ZIP")
		hasDigest := l.GetDigestAlgorithm() != ImageLayer_DigestAlgorithmInvalid || l.GetDigestValue() != ""
		if l.GetLayerType() == ImageLayer_EXCLUSIVE || hasDigest {
			in.check(l.GetDigestAlgorithm() != ImageLayer_DigestAlgorithmInvalid, "digest_algorithm", "must be SHA256 or SHA512")
			in.required("digest_value", l.GetDigestValue())
		}
	}
}

func validateMetricTags(f fields, tags map[string]*MetricTagValue) {
	for name, v := range tags {
		hasStatic := v.GetStatic() != ""
		hasDynamic := v.GetDynamic() != MetricTagValue_DynamicValueInvalid
		f.in("metric_tags").check(hasStatic != hasDynamic, name, "must have exactly one of static or dynamic")
	}
}

func validateRoutes(f fields, routes *Routes) {
	size := 0
	for name, raw := range routes.GetRoutes() {
		size += len(name) + len(raw)
	}
	f.maxBytes("routes", size, MaxRoutesBytes)
}

func (d *DesiredLRP) Validate() error {
	f := newFields()
	d.validate(f)
	return f.err()
}

func (d *DesiredLRP) validate(f fields) {
	f.guid("process_guid", d.GetProcessGuid())
	f.required("domain", d.GetDomain())
	f.rootFS("root_fs", d.GetRootFs())
	f.nonNegative("instances", int64(d.GetInstances()))
	validateAction(f, "setup", d.GetSetup(), false)
	validateAction(f, "action", d.GetAction(), true)
	validateAction(f, "monitor", d.GetMonitor(), false)
	f.nonNegative("disk_mb", int64(d.GetDiskMb()))
	f.nonNegative("memory_mb", int64(d.GetMemoryMb()))
	f.nonNegative("max_pids", int64(d.GetMaxPids()))
	f.nonNegative("start_timeout_ms", d.GetStartTimeoutMs())
	f.cpuWeight("cpu_weight", d.GetCpuWeight())
	for i, p := range d.GetPorts() {
		f.port(indexed("ports", i), p)
	}
	f.maxBytes("annotation", len(d.GetAnnotation()), MaxAnnotationBytes)
	validateRoutes(f, d.GetRoutes())
	validateEnv(f, "environment_variables", d.GetEnvironmentVariables())
	validateEgressRules(f, d.GetEgressRules())
	validateCachedDependencies(f, d.GetCachedDependencies())
	validateVolumeMounts(f, d.GetVolumeMounts())
	validateImageLayers(f, d.GetImageLayers())
	validateMetricTags(f, d.GetMetricTags())
	if d.GetCheckDefinition() != nil {
		d.GetCheckDefinition().validate(f.in("check_definition"))
	}
	for i, s := range d.GetSidecars() {
		in := f.at("sidecars", i)
		validateAction(in, "action", s.GetAction(), true)
		in.nonNegative("disk_mb", int64(s.GetDiskMb()))
		in.nonNegative("memory_mb", int64(s.GetMemoryMb()))
	}
	f.check(d.GetStopGracePeriodMs() <= MaxStopGracePeriodMs, "stop_grace_period_ms", "must be at most one hour")
}

// MaxStopGracePeriodMs bounds an LRP's own grace period: a stop must not hold a cell's capacity
// for longer.
const MaxStopGracePeriodMs = 3600 * 1000

func (u *DesiredLRPUpdate) Validate() error {
	f := newFields()
	u.validate(f)
	return f.err()
}

func (u *DesiredLRPUpdate) validate(f fields) {
	if u.Instances != nil {
		f.nonNegative("instances", int64(u.GetInstances()))
	}
	if u.Annotation != nil {
		f.maxBytes("annotation", len(u.GetAnnotation()), MaxAnnotationBytes)
	}
	validateRoutes(f, u.GetRoutes())
	validateMetricTags(f, u.GetMetricTags())
}

func (t *TaskDefinition) Validate() error {
	f := newFields()
	t.validate(f)
	return f.err()
}

func (t *TaskDefinition) validate(f fields) {
	f.rootFS("root_fs", t.GetRootFs())
	validateAction(f, "action", t.GetAction(), true)
	f.nonNegative("disk_mb", int64(t.GetDiskMb()))
	f.nonNegative("memory_mb", int64(t.GetMemoryMb()))
	f.nonNegative("max_pids", int64(t.GetMaxPids()))
	f.cpuWeight("cpu_weight", t.GetCpuWeight())
	f.maxBytes("annotation", len(t.GetAnnotation()), MaxAnnotationBytes)
	if cb := t.GetCompletionCallbackUrl(); cb != "" {
		u, err := url.Parse(cb)
		f.check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "completion_callback_url", "must be an http or https URL")
	}
	validateEnv(f, "environment_variables", t.GetEnvironmentVariables())
	validateEgressRules(f, t.GetEgressRules())
	validateCachedDependencies(f, t.GetCachedDependencies())
	validateVolumeMounts(f, t.GetVolumeMounts())
	validateImageLayers(f, t.GetImageLayers())
	validateMetricTags(f, t.GetMetricTags())
}

func (t *Task) Validate() error {
	f := newFields()
	f.guid("task_guid", t.GetTaskGuid())
	f.required("domain", t.GetDomain())
	f.check(t.GetState() != Task_Invalid, "state", "must be Pending, Running, Completed or Resolving")
	if t.GetTaskDefinition() == nil {
		f.check(false, "task_definition", ruleRequired)
	} else {
		t.GetTaskDefinition().validate(f.in("task_definition"))
	}
	return f.err()
}

func (k *ActualLRPKey) validate(f fields) {
	f.guid("process_guid", k.GetProcessGuid())
	f.nonNegative("index", int64(k.GetIndex()))
	f.required("domain", k.GetDomain())
}

func (k *ActualLRPKey) Validate() error {
	f := newFields()
	k.validate(f)
	return f.err()
}

func (k *ActualLRPInstanceKey) validate(f fields) {
	f.guid("instance_guid", k.GetInstanceGuid())
	f.required("cell_id", k.GetCellId())
}

func (k *ActualLRPInstanceKey) Validate() error {
	f := newFields()
	k.validate(f)
	return f.err()
}

func (a *ActualLRP) Validate() error {
	f := newFields()
	if a.GetActualLrpKey() == nil {
		f.check(false, "actual_lrp_key", ruleRequired)
	} else {
		a.GetActualLrpKey().validate(f.in("actual_lrp_key"))
	}
	f.check(slices.Contains(actualLRPStates, a.GetState()), "state", "must be UNCLAIMED, CLAIMED, RUNNING or CRASHED")
	needsInstance := a.GetState() == ActualLRPStateClaimed || a.GetState() == ActualLRPStateRunning
	if needsInstance {
		if a.GetActualLrpInstanceKey() == nil {
			f.check(false, "actual_lrp_instance_key", ruleRequired)
		} else {
			a.GetActualLrpInstanceKey().validate(f.in("actual_lrp_instance_key"))
		}
	}
	if a.GetState() == ActualLRPStateRunning {
		f.in("actual_lrp_net_info").required("address", a.GetActualLrpNetInfo().GetAddress())
	}
	f.nonNegative("crash_count", int64(a.GetCrashCount()))
	return f.err()
}

func (c *CellPresence) Validate() error {
	f := newFields()
	f.required("cell_id", c.GetCellId())
	f.required("rep_address", c.GetRepAddress())
	if c.GetCapacity() == nil {
		f.check(false, "capacity", ruleRequired)
	} else {
		cap := f.in("capacity")
		cap.check(c.GetCapacity().GetMemoryMb() > 0, "memory_mb", "must be positive")
		cap.check(c.GetCapacity().GetDiskMb() >= 0, "disk_mb", ruleNonNeg)
		cap.check(c.GetCapacity().GetContainers() > 0, "containers", "must be positive")
	}
	return f.err()
}

func indexed(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}
