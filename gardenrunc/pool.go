package gardenrunc

import (
	"fmt"
	"net"
	"slices"
)

// PoolOverlap names the first host interface, other than those in skip, with an address whose
// network overlaps pool, as "name (address)", or "" when there is none. A server given that
// pool would route its containers' traffic where that interface's already goes (another
// server's bridge, for one).
func PoolOverlap(pool *net.IPNet, skip ...string) (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, iface := range ifaces {
		if slices.Contains(skip, iface.Name) {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			return "", fmt.Errorf("addresses of %s: %w", iface.Name, err)
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && (n.Contains(pool.IP) || pool.Contains(n.IP)) {
				return fmt.Sprintf("%s (%s)", iface.Name, n), nil
			}
		}
	}
	return "", nil
}
