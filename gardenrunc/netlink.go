package gardenrunc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A minimal rtnetlink client: just what wiring a container needs (a veth pair with one end in the
// container's network namespace, link up, an address, a default route), so that creating a
// container costs no `ip` processes.

type nlSocket struct{ fd int }

var nlSeq uint32

func nlDial() (*nlSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &nlSocket{fd: fd}, nil
}

func (s *nlSocket) Close() { unix.Close(s.fd) }

// attr encodes one rtattr (data padded to 4 bytes).
func attr(typ uint16, data []byte) []byte {
	l := unix.SizeofRtAttr + len(data)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint16(b[0:2], uint16(l))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[4:], data)
	return b
}

func attrStr(typ uint16, s string) []byte { return attr(typ, append([]byte(s), 0)) }
func attrU32(typ uint16, v uint32) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, v)
	return attr(typ, b)
}

func join(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ifInfo(index int32, flags, change uint32) []byte {
	m := unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: index, Flags: flags, Change: change}
	return (*[unix.SizeofIfInfomsg]byte)(unsafe.Pointer(&m))[:]
}

// do sends one request and waits for its acknowledgement.
func (s *nlSocket) do(typ uint16, flags uint16, body []byte) error {
	_, err := s.request(typ, flags, body)
	return err
}

// request sends one request and returns the kernel's answers to it that came before its
// acknowledgement.
func (s *nlSocket) request(typ uint16, flags uint16, body []byte) ([]syscall.NetlinkMessage, error) {
	seq := atomic.AddUint32(&nlSeq, 1)
	h := unix.NlMsghdr{Len: uint32(unix.SizeofNlMsghdr + len(body)), Type: typ,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK | flags, Seq: seq}
	msg := append((*[unix.SizeofNlMsghdr]byte)(unsafe.Pointer(&h))[:], body...)
	if err := unix.Sendto(s.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var answers []syscall.NetlinkMessage
	buf := make([]byte, 65536)
	for {
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			if m.Header.Type != unix.NLMSG_ERROR {
				// the next read reuses buf
				m.Data = append([]byte(nil), m.Data...)
				answers = append(answers, m)
				continue
			}
			if code := int32(binary.NativeEndian.Uint32(m.Data[0:4])); code != 0 {
				return nil, unix.Errno(-code)
			}
			return answers, nil
		}
	}
}

// nlLinkIndex is the index of the interface called name in the current thread's namespace. It
// asks for that interface alone: net.InterfaceByName dumps every interface, which on a host with
// a veth per container costs in proportion to the containers, under the kernel's rtnl lock.
func nlLinkIndex(name string) (int, error) {
	s, err := nlDial()
	if err != nil {
		return 0, err
	}
	defer s.Close()
	answers, err := s.request(unix.RTM_GETLINK, 0, join(ifInfo(0, 0, 0), attrStr(unix.IFLA_IFNAME, name)))
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	for _, m := range answers {
		if m.Header.Type == unix.RTM_NEWLINK && len(m.Data) >= unix.SizeofIfInfomsg {
			return int((*unix.IfInfomsg)(unsafe.Pointer(&m.Data[0])).Index), nil
		}
	}
	return 0, fmt.Errorf("interface %s: no link in the kernel's answer", name)
}

// nlLinkExists reports whether the interface called name is there: the kernel answers ENODEV when
// it is not.
func nlLinkExists(name string) (bool, error) {
	_, err := nlLinkIndex(name)
	if errors.Is(err, unix.ENODEV) {
		return false, nil
	}
	return err == nil, err
}

// nlAddVeth creates host <-> peer (named peerName, with hardware address peerMAC, moved into pid's
// network namespace), with the host end enslaved to the bridge and up.
func nlAddVeth(host, peerName string, peerMAC net.HardwareAddr, mtu int, pid int, bridgeIndex int) error {
	s, err := nlDial()
	if err != nil {
		return err
	}
	defer s.Close()
	peer := join(ifInfo(0, 0, 0), attrStr(unix.IFLA_IFNAME, peerName), attr(unix.IFLA_ADDRESS, peerMAC),
		attrU32(unix.IFLA_MTU, uint32(mtu)), attrU32(unix.IFLA_NET_NS_PID, uint32(pid)))
	linkInfo := attr(unix.IFLA_LINKINFO, join(attrStr(unix.IFLA_INFO_KIND, "veth"),
		attr(unix.IFLA_INFO_DATA, attr(1 /* VETH_INFO_PEER */, peer))))
	body := join(ifInfo(0, unix.IFF_UP, unix.IFF_UP), attrStr(unix.IFLA_IFNAME, host),
		attrU32(unix.IFLA_MTU, uint32(mtu)), attrU32(unix.IFLA_MASTER, uint32(bridgeIndex)), linkInfo)
	return s.do(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

// nlDelLink deletes the interface called name; one that does not exist is not an error.
func nlDelLink(name string) error {
	s, err := nlDial()
	if err != nil {
		return err
	}
	defer s.Close()
	err = s.do(unix.RTM_DELLINK, 0, join(ifInfo(0, 0, 0), attrStr(unix.IFLA_IFNAME, name)))
	if err == unix.ENODEV {
		return nil
	}
	return err
}

// nlIsolatePort marks a bridge port isolated: isolated ports do not forward to each other, so
// containers on the bridge reach the host (and, routed through it, the world) but not each other.
func nlIsolatePort(name string) error {
	index, err := nlLinkIndex(name)
	if err != nil {
		return err
	}
	s, err := nlDial()
	if err != nil {
		return err
	}
	defer s.Close()
	m := unix.IfInfomsg{Family: unix.AF_BRIDGE, Index: int32(index)}
	body := join((*[unix.SizeofIfInfomsg]byte)(unsafe.Pointer(&m))[:],
		attr(unix.IFLA_PROTINFO|unix.NLA_F_NESTED, attr(unix.IFLA_BRPORT_ISOLATED, []byte{1})))
	return s.do(unix.RTM_SETLINK, 0, body)
}

// inNetns runs fn on an OS thread switched into pid's network namespace.
func inNetns(pid int, fn func() error) error {
	errCh := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errCh <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errCh <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errCh <- err
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		} // else: the thread stays locked and dies with this goroutine
		errCh <- err
	}()
	return <-errCh
}

// nlConfigureContainer brings lo and eth0 up in the current thread's namespace, gives eth0 ip and
// routes through gw.
func nlConfigureContainer(ip net.IP, prefix int, gw net.IP) error {
	s, err := nlDial()
	if err != nil {
		return err
	}
	defer s.Close()
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return err
	}
	eth0, err := net.InterfaceByName("eth0")
	if err != nil {
		return err
	}
	if err := s.do(unix.RTM_NEWLINK, 0, ifInfo(int32(lo.Index), unix.IFF_UP, unix.IFF_UP)); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	a := unix.IfAddrmsg{Family: unix.AF_INET, Prefixlen: uint8(prefix), Index: uint32(eth0.Index)}
	addr := join((*[unix.SizeofIfAddrmsg]byte)(unsafe.Pointer(&a))[:],
		attr(unix.IFA_LOCAL, ip.To4()), attr(unix.IFA_ADDRESS, ip.To4()))
	if err := s.do(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, addr); err != nil {
		return fmt.Errorf("address: %w", err)
	}
	if err := s.do(unix.RTM_NEWLINK, 0, ifInfo(int32(eth0.Index), unix.IFF_UP, unix.IFF_UP)); err != nil {
		return fmt.Errorf("eth0 up: %w", err)
	}
	r := unix.RtMsg{Family: unix.AF_INET, Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_BOOT,
		Scope: unix.RT_SCOPE_UNIVERSE, Type: unix.RTN_UNICAST}
	route := join((*[unix.SizeofRtMsg]byte)(unsafe.Pointer(&r))[:],
		attr(unix.RTA_GATEWAY, gw.To4()), attrU32(unix.RTA_OIF, uint32(eth0.Index)))
	if err := s.do(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, route); err != nil {
		return fmt.Errorf("default route: %w", err)
	}
	return nil
}

// nlReplaceNeigh sets the neighbour entry for ip on the interface with index ifIndex to mac, in
// state STALE: used at once, and confirmed by the kernel as any learned entry is.
func nlReplaceNeigh(ifIndex int, ip net.IP, mac net.HardwareAddr) error {
	s, err := nlDial()
	if err != nil {
		return err
	}
	defer s.Close()
	m := unix.NdMsg{Family: unix.AF_INET, Ifindex: int32(ifIndex), State: unix.NUD_STALE}
	body := join((*[unix.SizeofNdMsg]byte)(unsafe.Pointer(&m))[:],
		attr(unix.NDA_DST, ip.To4()), attr(unix.NDA_LLADDR, mac))
	return s.do(unix.RTM_NEWNEIGH, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, body)
}
