package gardenrunc

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
)

// IPPool hands out container addresses from a subnet. The first usable address is the bridge's
// (the containers' gateway); containers get the following ones. It is pure and safe for
// concurrent use.
type IPPool struct {
	mu     sync.Mutex
	subnet *net.IPNet
	used   map[uint32]bool
}

// NewIPPool parses an IPv4 CIDR such as 10.254.0.0/22.
func NewIPPool(cidr string) (*IPPool, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, err
	}
	if n.IP.To4() == nil {
		return nil, fmt.Errorf("network pool %s is not IPv4", cidr)
	}
	ones, bits := n.Mask.Size()
	if bits-ones < 2 || bits-ones > 24 {
		return nil, fmt.Errorf("network pool %s must be between /8 and /30", cidr)
	}
	return &IPPool{subnet: n, used: map[uint32]bool{}}, nil
}

func ip2u(ip net.IP) uint32 { return binary.BigEndian.Uint32(ip.To4()) }
func u2ip(u uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, u)
	return ip
}

func (p *IPPool) base() uint32 { return ip2u(p.subnet.IP) }
func (p *IPPool) size() uint32 {
	ones, bits := p.subnet.Mask.Size()
	return 1 << uint(bits-ones)
}

// Gateway is the bridge address.
func (p *IPPool) Gateway() net.IP { return u2ip(p.base() + 1) }

// PrefixLen is the subnet's prefix length.
func (p *IPPool) PrefixLen() int { ones, _ := p.subnet.Mask.Size(); return ones }

// Subnet returns the pool's CIDR.
func (p *IPPool) Subnet() *net.IPNet { return p.subnet }

// Capacity is how many container addresses the pool holds.
func (p *IPPool) Capacity() int { return int(p.size()) - 3 }

// Acquire returns the lowest free container address.
func (p *IPPool) Acquire() (net.IP, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for off := uint32(2); off < p.size()-1; off++ {
		u := p.base() + off
		if !p.used[u] {
			p.used[u] = true
			return u2ip(u), nil
		}
	}
	return nil, fmt.Errorf("no free addresses left in %s", p.subnet)
}

// Reserve marks an address as used (when reloading containers after a restart).
func (p *IPPool) Reserve(ip net.IP) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ip.To4() == nil || !p.subnet.Contains(ip) {
		return fmt.Errorf("address %s is not in %s", ip, p.subnet)
	}
	u := ip2u(ip)
	if p.used[u] {
		return fmt.Errorf("address %s already in use", ip)
	}
	p.used[u] = true
	return nil
}

// Release frees an address.
func (p *IPPool) Release(ip net.IP) {
	if ip.To4() == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.used, ip2u(ip))
}

// PortPool hands out host ports from [start, end).
type PortPool struct {
	mu         sync.Mutex
	start, end uint32
	next       uint32
	used       map[uint32]bool
}

func NewPortPool(start, end uint32) (*PortPool, error) {
	if start == 0 || end <= start || end > 65536 {
		return nil, fmt.Errorf("invalid port range %d-%d", start, end)
	}
	return &PortPool{start: start, end: end, next: start, used: map[uint32]bool{}}, nil
}

// Acquire returns a free port, cycling through the range so recently freed ports are reused last.
func (p *PortPool) Acquire() (uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.end - p.start
	for i := uint32(0); i < n; i++ {
		port := p.start + (p.next-p.start+i)%n
		if !p.used[port] {
			p.used[port] = true
			p.next = port + 1
			if p.next >= p.end {
				p.next = p.start
			}
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free ports left in %d-%d", p.start, p.end)
}

// Reserve marks a port as used. Ports outside the range are accepted (explicit host ports) and
// only recorded.
func (p *PortPool) Reserve(port uint32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used[port] {
		return fmt.Errorf("host port %d already in use", port)
	}
	p.used[port] = true
	return nil
}

func (p *PortPool) Release(port uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.used, port)
}

// NetName is a short, unique-per-address name fragment (8 hex digits) for interfaces and chains.
func NetName(ip net.IP) string { return fmt.Sprintf("%08x", ip2u(ip)) }
