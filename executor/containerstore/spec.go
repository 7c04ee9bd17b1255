package containerstore

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"code.cloudfoundry.org/garden"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
)

// Paths inside the container, as upstream's executor uses them.
const (
	// CredentialsDir holds the instance identity certificate and key.
	CredentialsDir = "/etc/cf-instance-credentials"
	// HealthCheckDir holds cmd/healthcheck's binary, HealthCheckPath is the binary.
	HealthCheckDir  = "/etc/cf-assets/healthcheck"
	HealthCheckPath = HealthCheckDir + "/healthcheck"
)

// rootFS is a RunInfo's rootfs as garden gets it, with the layer a preloaded+layer rootfs adds.
type rootFS struct {
	// URI goes to garden: preloaded:STACK, docker://..., or another scheme garden knows.
	URI string
	// Stack is the preloaded stack (preloaded: and preloaded+layer:), "" otherwise.
	Stack string
	// Layer, for preloaded+layer, is fetched through the cache and laid into the container at
	// its To.
	Layer *executor.CachedDependency
}

// parseRootFS reads preloaded:STACK, preloaded+layer:STACK?layer=URL&layer_path=PATH&layer_digest=HEX
// and docker:///image#tag (or any other scheme, passed to garden as it is).
func parseRootFS(raw string) (rootFS, error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" {
		return rootFS{}, fmt.Errorf("rootfs %q has no scheme (preloaded:, preloaded+layer: or docker://)", raw)
	}
	switch scheme {
	case "preloaded":
		if rest == "" || strings.ContainsAny(rest, "?/#") {
			return rootFS{}, fmt.Errorf("rootfs %q: preloaded takes a stack name", raw)
		}
		return rootFS{URI: raw, Stack: rest}, nil
	case "preloaded+layer":
		stack, query, _ := strings.Cut(rest, "?")
		if stack == "" || strings.ContainsAny(stack, "/#") {
			return rootFS{}, fmt.Errorf("rootfs %q: preloaded+layer takes a stack name", raw)
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return rootFS{}, fmt.Errorf("rootfs %q: %w", raw, err)
		}
		layer, path, digest := q.Get("layer"), q.Get("layer_path"), q.Get("layer_digest")
		if u, err := url.Parse(layer); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return rootFS{}, fmt.Errorf("rootfs %q: layer must be an http(s) URL", raw)
		}
		if !strings.HasPrefix(path, "/") {
			return rootFS{}, fmt.Errorf("rootfs %q: layer_path must be an absolute path", raw)
		}
		dep := &executor.CachedDependency{From: layer, To: path}
		if digest != "" {
			// the digest names the layer's content: the cache may keep it under that name
			dep.CacheKey, dep.ChecksumAlgorithm, dep.ChecksumValue = "layer-"+digest, "sha256", digest
		}
		return rootFS{URI: "preloaded:" + stack, Stack: stack, Layer: dep}, nil
	}
	return rootFS{URI: raw}, nil
}

// cpuShares is upstream's: the cell's maximum shares times cpu_weight percent.
func cpuShares(maxShares uint64, weight uint32) uint64 {
	return uint64(float64(maxShares) * float64(weight) / 100.0)
}

// diskLimit is upstream's: disk_mb plus what garden counts of the rootfs itself, 0 (none) when
// disk_mb is 0.
func diskLimit(diskMB int, rootFSSize uint64) uint64 {
	if diskMB == 0 {
		return 0
	}
	return uint64(diskMB)*1024*1024 + rootFSSize
}

// networkEnv is upstream's run step's network variables: the instance's addresses, its first
// port (empty when none) and every port as JSON ("[]" when none).
func networkEnv(externalIP, internalIP string, ports []executor.PortMapping) []executor.EnvironmentVariable {
	type portJSON struct {
		External uint32 `json:"external,omitempty"`
		Internal uint32 `json:"internal"`
	}
	env := []executor.EnvironmentVariable{
		{Name: "CF_INSTANCE_IP", Value: externalIP},
		{Name: "CF_INSTANCE_INTERNAL_IP", Value: internalIP},
	}
	if len(ports) == 0 {
		return append(env,
			executor.EnvironmentVariable{Name: "CF_INSTANCE_PORT"},
			executor.EnvironmentVariable{Name: "CF_INSTANCE_ADDR"},
			executor.EnvironmentVariable{Name: "CF_INSTANCE_PORTS", Value: "[]"})
	}
	list := make([]portJSON, len(ports))
	for i, p := range ports {
		list[i] = portJSON{External: p.HostPort, Internal: p.ContainerPort}
	}
	b, _ := json.Marshal(list)
	first := strconv.FormatUint(uint64(ports[0].HostPort), 10)
	return append(env,
		executor.EnvironmentVariable{Name: "CF_INSTANCE_PORT", Value: first},
		executor.EnvironmentVariable{Name: "CF_INSTANCE_ADDR", Value: net.JoinHostPort(externalIP, first)},
		executor.EnvironmentVariable{Name: "CF_INSTANCE_PORTS", Value: string(b)})
}

// dedupPorts keeps the first mapping of each container port, as upstream does.
func dedupPorts(ports []executor.PortMapping) []executor.PortMapping {
	seen := map[uint32]bool{}
	var out []executor.PortMapping
	for _, p := range ports {
		if !seen[p.ContainerPort] {
			seen[p.ContainerPort] = true
			out = append(out, p)
		}
	}
	return out
}

// mappedPorts fills each asked-for port's host port from garden's mappings.
func mappedPorts(asked []executor.PortMapping, mapped []garden.PortMapping) []executor.PortMapping {
	host := map[uint32]uint32{}
	for _, m := range mapped {
		host[m.ContainerPort] = m.HostPort
	}
	out := make([]executor.PortMapping, len(asked))
	for i, p := range asked {
		out[i] = executor.PortMapping{ContainerPort: p.ContainerPort, HostPort: host[p.ContainerPort]}
	}
	return out
}

func envStrings(env []executor.EnvironmentVariable) []string {
	out := make([]string, len(env))
	for i, e := range env {
		out[i] = e.Name + "=" + e.Value
	}
	return out
}

// netOutRules turns security group rules into garden's NetOut rules as upstream does.
func netOutRules(rules []*models.SecurityGroupRule) ([]garden.NetOutRule, error) {
	out := make([]garden.NetOutRule, 0, len(rules))
	for i, r := range rules {
		rule := garden.NetOutRule{Log: r.GetLog()}
		switch r.GetProtocol() {
		case "tcp":
			rule.Protocol = garden.ProtocolTCP
		case "udp":
			rule.Protocol = garden.ProtocolUDP
		case "icmp":
			rule.Protocol = garden.ProtocolICMP
			rule.ICMPs = &garden.ICMPControl{Type: garden.ICMPType(r.GetIcmpInfo().GetType()),
				Code: garden.ICMPControlCode(uint8(r.GetIcmpInfo().GetCode()))}
		case "all":
			rule.Protocol = garden.ProtocolAll
		default:
			return nil, fmt.Errorf("egress rule %d: protocol %q is not tcp, udp, icmp or all", i, r.GetProtocol())
		}
		if pr := r.GetPortRange(); pr != nil {
			rule.Ports = append(rule.Ports, garden.PortRange{Start: uint16(pr.GetStart()), End: uint16(pr.GetEnd())})
		}
		for _, p := range r.GetPorts() {
			rule.Ports = append(rule.Ports, garden.PortRangeFromPort(uint16(p)))
		}
		for _, d := range r.GetDestinations() {
			ipr, err := ipRange(d)
			if err != nil {
				return nil, fmt.Errorf("egress rule %d: %w", i, err)
			}
			rule.Networks = append(rule.Networks, ipr)
		}
		out = append(out, rule)
	}
	return out, nil
}

// ipRange reads an address, a CIDR or a "first-last" range.
func ipRange(dest string) (garden.IPRange, error) {
	if strings.Contains(dest, "/") {
		_, n, err := net.ParseCIDR(dest)
		if err != nil {
			return garden.IPRange{}, fmt.Errorf("destination %q is not a CIDR", dest)
		}
		return garden.IPRangeFromIPNet(n), nil
	}
	if first, last, ok := strings.Cut(dest, "-"); ok {
		a, b := net.ParseIP(first), net.ParseIP(last)
		if a == nil || b == nil {
			return garden.IPRange{}, fmt.Errorf("destination %q is not an address range", dest)
		}
		return garden.IPRange{Start: a, End: b}, nil
	}
	ip := net.ParseIP(dest)
	if ip == nil {
		return garden.IPRange{}, fmt.Errorf("destination %q is not an address", dest)
	}
	return garden.IPRangeFromIP(ip), nil
}

// truncated keeps a failure reason within upstream's 1024 bytes.
func truncated(reason string) string {
	const max, suffix = 1024, " (error truncated)"
	if len(reason) <= max {
		return reason
	}
	return reason[:max-len(suffix)] + suffix
}
