package gardenrunc

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"code.cloudfoundry.org/garden"
)

// Chain names of the project's own. Per-container chains are named dg-in-<hex> and dg-out-<hex>
// where <hex> is the container address (NetName).
// DefaultChainPrefix names the shared chains: <prefix>-prerouting, -postrouting, -forward and
// -input.
const DefaultChainPrefix = "diego-garden"

func (n *Network) prefix() string {
	if n.ChainPrefix == "" {
		return DefaultChainPrefix
	}
	return n.ChainPrefix
}
func (n *Network) natChain() string    { return n.prefix() + "-prerouting" }
func (n *Network) masqChain() string   { return n.prefix() + "-postrouting" }
func (n *Network) filterChain() string { return n.prefix() + "-forward" }
func (n *Network) inputChain() string  { return n.prefix() + "-input" }

// Network sets up the host side: one bridge, NAT and filter chains of the project's own, and
// per container a veth pair and two chains.
type Network struct {
	Bridge     string
	Pool       *IPPool
	MTU        int
	ExternalIP string
	IPForward  bool
	// AllowHostAccess lets containers reach the host's own addresses; by default the input
	// chain rejects what they send to the host (replies to the host's connections excepted).
	AllowHostAccess bool
	Log             *slog.Logger
	// ChainPrefix names the shared iptables chains (default diego-garden); servers sharing a
	// host need distinct prefixes only if they come and go independently (tests).
	ChainPrefix string
}

func run(name string, args ...string) error {
	return runIn(nil, name, args...)
}

func runIn(stdin []byte, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func ipt(args ...string) error { return run("iptables", append([]string{"-w"}, args...)...) }

// ensureRule appends a rule unless it exists.
func ensureRule(table, chain string, rule ...string) error {
	check := append([]string{"-t", table, "-C", chain}, rule...)
	if ipt(check...) == nil {
		return nil
	}
	return ipt(append([]string{"-t", table, "-A", chain}, rule...)...)
}

func ensureChain(table, chain string) error {
	if ipt("-t", table, "-S", chain) == nil {
		return nil
	}
	if err := ipt("-t", table, "-N", chain); err != nil && !strings.Contains(err.Error(), "already exists") {
		return err
	}
	return nil
}

// Setup creates the bridge and the project's chains (idempotent).
func (n *Network) Setup() error {
	gw := fmt.Sprintf("%s/%d", n.Pool.Gateway(), n.Pool.PrefixLen())
	if _, err := net.InterfaceByName(n.Bridge); err != nil {
		if err := run("ip", "link", "add", n.Bridge, "type", "bridge"); err != nil {
			return err
		}
	}
	if err := runIn([]byte(fmt.Sprintf("addr replace %s dev %s\nlink set %s address %s mtu %d up\n", gw, n.Bridge, n.Bridge,
		ipMAC(n.Pool.Gateway()), n.MTU)), "ip", "-batch", "-"); err != nil {
		return err
	}
	if n.IPForward {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0644); err != nil {
			return err
		}
	}
	// Isolated ports keep containers from talking over the bridge, where no iptables rule sees
	// them. Proxy ARP for the bridge's own segment (RFC 3069's private VLAN) makes the host the
	// next hop to every other container, so that traffic is routed, and the forward chain's
	// egress rules decide it as they decide traffic to any other host. Routing it needs
	// forwarding on the bridge only (what arrives there), whatever ip_forward says of the
	// host's other interfaces. The proxy answers at once (its default delay is up to 0.8 s on
	// every first connection).
	for _, c := range [][2]string{
		{"/proc/sys/net/ipv4/conf/" + n.Bridge + "/forwarding", "1"},
		{"/proc/sys/net/ipv4/conf/" + n.Bridge + "/proxy_arp_pvlan", "1"},
		{"/proc/sys/net/ipv4/neigh/" + n.Bridge + "/proxy_delay", "0"},
	} {
		if err := os.WriteFile(c[0], []byte(c[1]), 0644); err != nil {
			return fmt.Errorf("routing between containers on bridge %s: %w", n.Bridge, err)
		}
	}
	subnet := n.Pool.Subnet().String()
	steps := []func() error{
		func() error { return ensureChain("nat", n.natChain()) },
		func() error { return ensureChain("nat", n.masqChain()) },
		func() error { return ensureChain("filter", n.filterChain()) },
		func() error {
			return ensureRule("nat", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", n.natChain())
		},
		func() error {
			return ensureRule("nat", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", n.natChain())
		},
		func() error { return ensureRule("nat", "POSTROUTING", "-j", n.masqChain()) },
		func() error {
			return ensureRule("nat", n.masqChain(), "-s", subnet, "!", "-d", subnet, "-j", "MASQUERADE")
		},
		func() error { return ensureRule("filter", "FORWARD", "-j", n.filterChain()) },
		// the defaults for containers without chains of their own (jumps to those come first)
		func() error {
			return ensureRule("filter", n.filterChain(), "-i", n.Bridge, "-s", subnet, "-m", "conntrack",
				"--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
		},
		func() error {
			tcp := []string{"-i", n.Bridge, "-s", subnet, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"}
			if ipt(append([]string{"-t", "filter", "-C", n.filterChain()}, tcp...)...) == nil {
				return nil
			}
			// a chain made before this rule existed: it must come before the catch-all
			ipt("-t", "filter", "-D", n.filterChain(), "-i", n.Bridge, "-s", subnet, "-j", "REJECT",
				"--reject-with", "icmp-port-unreachable")
			return ipt(append([]string{"-t", "filter", "-A", n.filterChain()}, tcp...)...)
		},
		func() error {
			return ensureRule("filter", n.filterChain(), "-i", n.Bridge, "-s", subnet, "-j", "REJECT",
				"--reject-with", "icmp-port-unreachable")
		},
		func() error { return ensureChain("filter", n.inputChain()) },
		// first in INPUT: an ACCEPT of the host's own firewall must not let containers in
		func() error {
			if ipt("-t", "filter", "-C", "INPUT", "-j", n.inputChain()) == nil {
				return nil
			}
			return ipt("-t", "filter", "-I", "INPUT", "1", "-j", n.inputChain())
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return n.hostAccess()
}

// ipMAC is the hardware address of the interface with address ip (the bridge's with the
// gateway's, a container's eth0 with the container's): locally administered, 02:00 and the four
// bytes of ip. Neighbour entries stay right as containers come and go: a bridge whose address was
// never set takes the lowest of its ports', so destroying one container would change it under the
// others, and a container given a freed address would otherwise have a new one while the host
// still sends to the old; either way packets are lost, answers to NetIn connections included,
// until the entry expires seconds later.
func ipMAC(ip net.IP) net.HardwareAddr {
	v4 := ip.To4()
	return net.HardwareAddr{0x02, 0x00, v4[0], v4[1], v4[2], v4[3]}
}

// hostAccess puts the bridge's rules in the input chain, or takes them out when containers may
// reach the host (the setting may have changed since the last start). Traffic DNATed to
// containers (NetIn, even from a container) is forwarded and never meets them. The bridge gets
// no IPv6 address either (a link-local one would let containers in over IPv6), unless allowed.
func (n *Network) hostAccess() error {
	rules := [][]string{
		{"-i", n.Bridge, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"-i", n.Bridge, "-j", "REJECT", "--reject-with", "icmp-port-unreachable"},
	}
	for _, r := range rules {
		if !n.AllowHostAccess {
			if err := ensureRule("filter", n.inputChain(), r...); err != nil {
				return err
			}
			continue
		}
		// every copy of it
		for ipt(append([]string{"-t", "filter", "-D", n.inputChain()}, r...)...) == nil {
		}
	}
	disable := "1"
	if n.AllowHostAccess {
		disable = "0"
	}
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+n.Bridge+"/disable_ipv6", []byte(disable), 0644); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("IPv6 of bridge %s: %w", n.Bridge, err)
	}
	return nil
}

// TeardownChains removes the project's shared chains. Only used by tests and operators; the
// server leaves them in place across restarts.
func (n *Network) TeardownChains() {
	ipt("-t", "nat", "-D", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", n.natChain())
	ipt("-t", "nat", "-D", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", n.natChain())
	ipt("-t", "nat", "-D", "POSTROUTING", "-j", n.masqChain())
	ipt("-t", "filter", "-D", "FORWARD", "-j", n.filterChain())
	ipt("-t", "filter", "-D", "INPUT", "-j", n.inputChain())
	for _, c := range [][2]string{{"nat", n.natChain()}, {"nat", n.masqChain()}, {"filter", n.filterChain()}, {"filter", n.inputChain()}} {
		ipt("-t", c[0], "-F", c[1])
		ipt("-t", c[0], "-X", c[1])
	}
}

func hostVeth(ip net.IP) string { return "dg" + NetName(ip) }
func inChain(ip net.IP) string  { return "dg-in-" + NetName(ip) }
func outChain(ip net.IP) string { return "dg-out-" + NetName(ip) }

// AddContainer wires a container whose init has host pid pid: a veth pair with the host end on
// the bridge and eth0 inside.
func (n *Network) AddContainer(pid int, ip net.IP) error {
	err := n.addContainerNetlink(pid, ip)
	if err != nil {
		if n.Log != nil {
			n.Log.Warn("netlink-setup-failed-using-ip", "error", err)
		}
		// fall back to iproute2 after removing whatever netlink made
		if exists, _ := nlLinkExists(hostVeth(ip)); exists {
			run("ip", "link", "del", hostVeth(ip))
		}
		if err := n.addContainerIP(pid, ip); err != nil {
			return err
		}
	}
	return n.announce(ip)
}

// announce tells the host the container's hardware address now that eth0 answers. A client
// still dialing the address of a destroyed container leaves the host's neighbour entry for it
// unresolved: the kernel probes once a second and, when a round of probes goes unanswered,
// fails every packet queued meanwhile with "no route to host" (EHOSTUNREACH). A container given
// the address would answer only the next probe, so its first connections would wait up to a
// second, or fail when they had come in after the round's last probe. Setting the entry sends
// what is queued at once.
func (n *Network) announce(ip net.IP) error {
	br, err := nlLinkIndex(n.Bridge)
	if err == nil {
		err = nlReplaceNeigh(br, ip, ipMAC(ip))
	}
	if err == nil {
		return nil
	}
	if e := run("ip", "neigh", "replace", ip.String(), "lladdr", ipMAC(ip).String(), "dev", n.Bridge, "nud", "stale"); e != nil {
		return fmt.Errorf("neighbour entry of %s: %w", ip, errors.Join(err, e))
	}
	return nil
}

func (n *Network) addContainerNetlink(pid int, ip net.IP) error {
	br, err := nlLinkIndex(n.Bridge)
	if err != nil {
		return err
	}
	if err := nlAddVeth(hostVeth(ip), "eth0", ipMAC(ip), n.MTU, pid, br); err != nil {
		return fmt.Errorf("create veth: %w", err)
	}
	if err := nlIsolatePort(hostVeth(ip)); err != nil {
		return fmt.Errorf("isolate bridge port: %w", err)
	}
	return inNetns(pid, func() error { return nlConfigureContainer(ip, n.Pool.PrefixLen(), n.Pool.Gateway()) })
}

func (n *Network) addContainerIP(pid int, ip net.IP) error {
	hv := hostVeth(ip)
	host := fmt.Sprintf("link add %s mtu %d type veth peer name eth0 address %s mtu %d netns %d\nlink set %s master %s up\nlink set dev %s type bridge_slave isolated on\n",
		hv, n.MTU, ipMAC(ip), n.MTU, pid, hv, n.Bridge, hv)
	if err := runIn([]byte(host), "ip", "-batch", "-"); err != nil {
		return err
	}
	inside := fmt.Sprintf("link set lo up\naddr add %s/%d dev eth0\nlink set eth0 up\nroute add default via %s\n",
		ip, n.Pool.PrefixLen(), n.Pool.Gateway())
	return runIn([]byte(inside), "nsenter", "-t", strconv.Itoa(pid), "-n", "ip", "-batch", "-")
}

// AddChains creates the container's ingress chain and its default-deny egress chain. It needs
// no process, so it runs while the container starts. Refused TCP is answered with a reset, not
// an ICMP error: to another container the host routes back out of the bridge, so it sends the
// caller an ICMP redirect first, which spends the caller's ICMP rate limit, and the error would
// never arrive (the connection would time out instead of being refused).
func (n *Network) AddChains(ip net.IP) error {
	rules := fmt.Sprintf(`*nat
:%[1]s - [0:0]
-A %[2]s -j %[1]s
COMMIT
*filter
:%[3]s - [0:0]
-A %[3]s -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A %[3]s -p tcp -j REJECT --reject-with tcp-reset
-A %[3]s -j REJECT --reject-with icmp-port-unreachable
-I %[4]s 1 -i %[5]s -s %[6]s/32 -j %[3]s
COMMIT
`, inChain(ip), n.natChain(), outChain(ip), n.filterChain(), n.Bridge, ip)
	return runIn([]byte(rules), "iptables-restore", "-w", "--noflush")
}

// RemoveContainer deletes the container's chains and rules (AddChains, NetIn, NetOut). It is
// idempotent: one iptables-restore normally; rule by rule if part of it is already gone.
func (n *Network) RemoveContainer(ip net.IP) {
	if ip == nil {
		return
	}
	batch := fmt.Sprintf(`*nat
-D %[1]s -j %[2]s
-F %[2]s
-X %[2]s
COMMIT
*filter
-D %[3]s -i %[4]s -s %[5]s/32 -j %[6]s
-F %[6]s
-X %[6]s
COMMIT
`, n.natChain(), inChain(ip), n.filterChain(), n.Bridge, ip, outChain(ip))
	if runIn([]byte(batch), "iptables-restore", "-w", "--noflush") != nil {
		ipt("-t", "nat", "-D", n.natChain(), "-j", inChain(ip))
		ipt("-t", "nat", "-F", inChain(ip))
		ipt("-t", "nat", "-X", inChain(ip))
		ipt("-t", "filter", "-D", n.filterChain(), "-i", n.Bridge, "-s", ip.String()+"/32", "-j", outChain(ip))
		ipt("-t", "filter", "-F", outChain(ip))
		ipt("-t", "filter", "-X", outChain(ip))
	}
}

// RemoveVeth waits for the host end of a container's veth pair to go with the container's
// network namespace, and deletes it if it outlives vethTeardownWait (the namespace kept alive by
// something else): rtnetlink, and ip as a fallback. It fails when the interface is still there,
// or cannot be looked up, at the end.
func (n *Network) RemoveVeth(ip net.IP) error {
	name := hostVeth(ip)
	deadline := time.Now().Add(vethTeardownWait)
	for delay := time.Millisecond; time.Now().Before(deadline); delay = min(2*delay, 50*time.Millisecond) {
		if exists, err := nlLinkExists(name); err == nil && !exists {
			return nil
		}
		time.Sleep(delay)
	}
	if err := nlDelLink(name); err != nil {
		run("ip", "link", "del", name)
	}
	exists, err := nlLinkExists(name)
	if err == nil && exists {
		err = fmt.Errorf("interface %s could not be removed", name)
	}
	return err
}

// vethTeardownWait is how long a dead container's veth pair is left to the kernel.
const vethTeardownWait = 2 * time.Second

// NetIn forwards hostPort of the external address (not of the host's other addresses, the
// bridge's included) to the container's port.
func (n *Network) NetIn(ip net.IP, hostPort, containerPort uint32) error {
	return ipt("-t", "nat", "-A", inChain(ip), "-d", n.ExternalIP+"/32", "-p", "tcp", "--dport", strconv.Itoa(int(hostPort)),
		"-j", "DNAT", "--to-destination", fmt.Sprintf("%s:%d", ip, containerPort))
}

// NetOut allows egress matching rule, ahead of the chain's final REJECT.
func (n *Network) NetOut(ip net.IP, rule garden.NetOutRule) error {
	for _, args := range NetOutRuleArgs(rule) {
		full := append([]string{"-t", "filter", "-I", outChain(ip), "2"}, args...)
		if err := ipt(full...); err != nil {
			return err
		}
	}
	return nil
}

// NetOutRuleArgs translates a garden NetOutRule into iptables rule arguments (one rule per
// network x port range combination). Pure.
func NetOutRuleArgs(rule garden.NetOutRule) [][]string {
	var proto []string
	switch rule.Protocol {
	case garden.ProtocolTCP:
		proto = []string{"-p", "tcp"}
	case garden.ProtocolUDP:
		proto = []string{"-p", "udp"}
	case garden.ProtocolICMP:
		proto = []string{"-p", "icmp"}
	default:
		proto = []string{"-p", "all"}
	}
	nets := [][]string{nil}
	if len(rule.Networks) > 0 {
		nets = nil
		for _, r := range rule.Networks {
			start, end := r.Start, r.End
			if end == nil {
				end = start
			}
			if start == nil {
				start = end
			}
			if start == nil {
				nets = append(nets, nil)
				continue
			}
			if start.Equal(end) {
				nets = append(nets, []string{"-d", start.String() + "/32"})
			} else {
				nets = append(nets, []string{"-m", "iprange", "--dst-range", start.String() + "-" + end.String()})
			}
		}
	}
	ports := [][]string{nil}
	if len(rule.Ports) > 0 && (rule.Protocol == garden.ProtocolTCP || rule.Protocol == garden.ProtocolUDP) {
		ports = nil
		for _, p := range rule.Ports {
			end := p.End
			if end == 0 {
				end = p.Start
			}
			if end == p.Start {
				ports = append(ports, []string{"--dport", strconv.Itoa(int(p.Start))})
			} else {
				ports = append(ports, []string{"--dport", fmt.Sprintf("%d:%d", p.Start, end)})
			}
		}
	}
	var icmp []string
	if rule.Protocol == garden.ProtocolICMP && rule.ICMPs != nil {
		t := strconv.Itoa(int(rule.ICMPs.Type))
		if rule.ICMPs.Code != nil {
			t += "/" + strconv.Itoa(int(*rule.ICMPs.Code))
		}
		icmp = []string{"--icmp-type", t}
	}
	var out [][]string
	for _, nw := range nets {
		for _, pt := range ports {
			args := append([]string{}, proto...)
			args = append(args, nw...)
			args = append(args, pt...)
			args = append(args, icmp...)
			if rule.Log {
				out = append(out, append(append([]string{}, args...), "-j", "LOG", "--log-prefix", "diego-garden "))
			}
			out = append(out, append(args, "-j", "ACCEPT"))
		}
	}
	return out
}

// DefaultMTU is the MTU of the interface holding ip, or 1500.
func DefaultMTU(ip string) int {
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.String() == ip {
				return i.MTU
			}
		}
	}
	return 1500
}

// DefaultExternalIP is the first global IPv4 address of the host.
func DefaultExternalIP() string {
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 || strings.HasPrefix(i.Name, "diego") || strings.HasPrefix(i.Name, "dg") {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// RemoveSharedChainsIfUnused removes the shared chains of prefix (and their jumps) when no
// container uses them any more (no per-container jump and no masquerade rule left in them). For
// tests and operators; a running server keeps its chains.
func RemoveSharedChainsIfUnused(prefix string) {
	n := &Network{ChainPrefix: prefix}
	for _, c := range [][2]string{{"nat", n.natChain()}, {"nat", n.masqChain()}, {"filter", n.filterChain()}} {
		out, err := exec.Command("iptables", "-w", "-t", c[0], "-S", c[1]).Output()
		if err != nil {
			continue
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			// the forward chain's own defaults do not count as a use
			if strings.HasPrefix(l, "-A ") && (c[1] != n.filterChain() || strings.Contains(l, " -j dg-")) {
				return
			}
		}
	}
	n.TeardownChains()
}
