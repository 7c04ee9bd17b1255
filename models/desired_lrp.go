package models

// DesiredLRPKey of the LRP.
func (d *DesiredLRP) DesiredLRPKey() *DesiredLRPKey {
	return &DesiredLRPKey{ProcessGuid: d.GetProcessGuid(), Domain: d.GetDomain(), LogGuid: d.GetLogGuid()}
}

// SchedulingInfo is the part of the LRP the auction and convergence read.
func (d *DesiredLRP) SchedulingInfo() *DesiredLRPSchedulingInfo {
	// always present, even without volumes: upstream's auctioneer reads its
	// driver names without checking
	placement := &VolumePlacement{}
	for _, m := range d.GetVolumeMounts() {
		placement.DriverNames = append(placement.DriverNames, m.GetDriver())
	}
	return &DesiredLRPSchedulingInfo{
		DesiredLrpKey: d.DesiredLRPKey(),
		Annotation:    d.GetAnnotation(),
		Instances:     d.GetInstances(),
		DesiredLrpResource: &DesiredLRPResource{
			MemoryMb: d.GetMemoryMb(),
			DiskMb:   d.GetDiskMb(),
			RootFs:   d.GetRootFs(),
			MaxPids:  d.GetMaxPids(),
		},
		Routes:          d.GetRoutes(),
		ModificationTag: d.GetModificationTag(),
		VolumePlacement: placement,
		PlacementTags:   d.GetPlacementTags(),
	}
}

// RunInfo is the part of the LRP a cell reads to run an instance.
func (d *DesiredLRP) RunInfo(createdAt int64) *DesiredLRPRunInfo {
	return &DesiredLRPRunInfo{
		DesiredLrpKey:                 d.DesiredLRPKey(),
		EnvironmentVariables:          d.GetEnvironmentVariables(),
		Setup:                         d.GetSetup(),
		Action:                        d.GetAction(),
		Monitor:                       d.GetMonitor(),
		DeprecatedStartTimeoutS:       d.GetDeprecatedStartTimeoutS(),
		Privileged:                    d.GetPrivileged(),
		CpuWeight:                     d.GetCpuWeight(),
		Ports:                         d.GetPorts(),
		EgressRules:                   d.GetEgressRules(),
		LogSource:                     d.GetLogSource(),
		MetricsGuid:                   d.GetMetricsGuid(),
		CreatedAt:                     createdAt,
		CachedDependencies:            d.GetCachedDependencies(),
		LegacyDownloadUser:            d.GetLegacyDownloadUser(),
		TrustedSystemCertificatesPath: d.GetTrustedSystemCertificatesPath(),
		VolumeMounts:                  d.GetVolumeMounts(),
		Network:                       d.GetNetwork(),
		StartTimeoutMs:                d.GetStartTimeoutMs(),
		CertificateProperties:         d.GetCertificateProperties(),
		ImageUsername:                 d.GetImageUsername(),
		ImagePassword:                 d.GetImagePassword(),
		CheckDefinition:               d.GetCheckDefinition(),
		ImageLayers:                   d.GetImageLayers(),
		MetricTags:                    d.GetMetricTags(),
		Sidecars:                      d.GetSidecars(),
		LogRateLimit:                  d.GetLogRateLimit(),
		StopGracePeriodMs:             d.GetStopGracePeriodMs(),
	}
}

// RoutingInfo is the part of the LRP the route emitter reads.
func (d *DesiredLRP) RoutingInfo() *DesiredLRPRoutingInfo {
	return &DesiredLRPRoutingInfo{
		DesiredLrpKey:   d.DesiredLRPKey(),
		Instances:       d.GetInstances(),
		Routes:          d.GetRoutes(),
		ModificationTag: d.GetModificationTag(),
		MetricTags:      d.GetMetricTags(),
	}
}

// DesiredLRP is the routing info as the routing infos route answers it: a
// DesiredLRP with only its routing fields set.
func (r *DesiredLRPRoutingInfo) DesiredLRP() *DesiredLRP {
	return &DesiredLRP{
		ProcessGuid:     r.GetDesiredLrpKey().GetProcessGuid(),
		Domain:          r.GetDesiredLrpKey().GetDomain(),
		LogGuid:         r.GetDesiredLrpKey().GetLogGuid(),
		Instances:       r.GetInstances(),
		Routes:          r.GetRoutes(),
		ModificationTag: r.GetModificationTag(),
		MetricTags:      r.GetMetricTags(),
	}
}

// NewDesiredLRP joins the scheduling and run parts back into the whole LRP.
func NewDesiredLRP(s *DesiredLRPSchedulingInfo, r *DesiredLRPRunInfo) *DesiredLRP {
	return &DesiredLRP{
		ProcessGuid:                   s.GetDesiredLrpKey().GetProcessGuid(),
		Domain:                        s.GetDesiredLrpKey().GetDomain(),
		LogGuid:                       s.GetDesiredLrpKey().GetLogGuid(),
		RootFs:                        s.GetDesiredLrpResource().GetRootFs(),
		Instances:                     s.GetInstances(),
		Annotation:                    s.GetAnnotation(),
		MemoryMb:                      s.GetDesiredLrpResource().GetMemoryMb(),
		DiskMb:                        s.GetDesiredLrpResource().GetDiskMb(),
		MaxPids:                       s.GetDesiredLrpResource().GetMaxPids(),
		Routes:                        s.GetRoutes(),
		ModificationTag:               s.GetModificationTag(),
		PlacementTags:                 s.GetPlacementTags(),
		EnvironmentVariables:          r.GetEnvironmentVariables(),
		Setup:                         r.GetSetup(),
		Action:                        r.GetAction(),
		Monitor:                       r.GetMonitor(),
		DeprecatedStartTimeoutS:       r.GetDeprecatedStartTimeoutS(),
		Privileged:                    r.GetPrivileged(),
		CpuWeight:                     r.GetCpuWeight(),
		Ports:                         r.GetPorts(),
		EgressRules:                   r.GetEgressRules(),
		LogSource:                     r.GetLogSource(),
		MetricsGuid:                   r.GetMetricsGuid(),
		CachedDependencies:            r.GetCachedDependencies(),
		LegacyDownloadUser:            r.GetLegacyDownloadUser(),
		TrustedSystemCertificatesPath: r.GetTrustedSystemCertificatesPath(),
		VolumeMounts:                  r.GetVolumeMounts(),
		Network:                       r.GetNetwork(),
		StartTimeoutMs:                r.GetStartTimeoutMs(),
		CertificateProperties:         r.GetCertificateProperties(),
		ImageUsername:                 r.GetImageUsername(),
		ImagePassword:                 r.GetImagePassword(),
		CheckDefinition:               r.GetCheckDefinition(),
		ImageLayers:                   r.GetImageLayers(),
		MetricTags:                    r.GetMetricTags(),
		Sidecars:                      r.GetSidecars(),
		LogRateLimit:                  r.GetLogRateLimit(),
		StopGracePeriodMs:             r.GetStopGracePeriodMs(),
	}
}
