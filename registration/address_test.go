package registration

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAddressPolicy holds the CIMD dial policy, a pure function of the
// address, to the IANA special-purpose registries; rows are named after the
// SSRF target they would reach.
func TestAddressPolicy(t *testing.T) {
	for _, c := range []struct {
		name, addr string
		allowed    bool
	}{
		{"public IPv4", "93.184.216.34", true},
		{"public IPv6", "2606:4700::1111", true},
		{"NAT64 of a public IPv4", "64:ff9b::5db8:d822", true},
		{"6to4 of a public IPv4", "2002:5db8:d822::1", true},
		{"IPv4-mapped public", "::ffff:93.184.216.34", true},
		{"cloud metadata 169.254.169.254", "169.254.169.254", false},
		{"shared address space (cloud metadata in 100.64.0.0/10)", "100.100.100.200", false},
		{"shared address space low end", "100.64.0.1", false},
		{"this network 0.0.0.0/8", "0.1.2.3", false},
		{"unspecified 0.0.0.0", "0.0.0.0", false},
		{"IETF protocol assignments 192.0.0.0/24", "192.0.0.170", false},
		{"benchmarking 198.18.0.0/15", "198.19.1.1", false},
		{"reserved 240.0.0.0/4", "240.0.0.1", false},
		{"limited broadcast", "255.255.255.255", false},
		{"multicast", "224.0.0.1", false},
		{"private 10/8", "10.0.0.1", false},
		{"private 172.16/12", "172.31.255.254", false},
		{"private 192.168/16", "192.168.1.1", false},
		{"loopback", "127.0.0.1", false},
		{"documentation 203.0.113.0/24", "203.0.113.9", false},
		{"IPv6 loopback", "::1", false},
		{"IPv6 unspecified", "::", false},
		{"IPv6 link local", "fe80::1", false},
		{"IPv6 link local with zone", "fe80::1%eth0", false},
		{"IPv6 unique local", "fd00::1", false},
		{"IPv6 multicast", "ff02::1", false},
		{"IPv4-mapped loopback", "::ffff:127.0.0.1", false},
		{"IPv4-mapped cloud metadata", "::ffff:169.254.169.254", false},
		{"IPv4-compatible private (deprecated ::a.b.c.d)", "::10.0.0.1", false},
		{"IPv4-compatible public (deprecated, not routable)", "::93.184.216.34", false},
		{"NAT64 of loopback", "64:ff9b::7f00:1", false},
		{"NAT64 of cloud metadata", "64:ff9b::a9fe:a9fe", false},
		{"local-use NAT64 64:ff9b:1::/48", "64:ff9b:1::5db8:d822", false},
		{"6to4 of a private IPv4", "2002:0a00:0001::1", false},
		{"6to4 of cloud metadata", "2002:a9fe:a9fe::1", false},
		{"Teredo 2001::/32", "2001:0:4136:e378:8000:63bf:3fff:fdd2", false},
		{"IPv6 documentation 2001:db8::/32", "2001:db8::1", false},
		{"IPv6 documentation 3fff::/20", "3fff::1", false},
		{"IPv6 discard-only 100::/64", "100::1", false},
	} {
		a := netip.MustParseAddr(c.addr)
		err := checkPublicAddress(a)
		if (err == nil) != c.allowed {
			t.Errorf("%s (%s): allowed %v, want %v (%v)", c.name, c.addr, err == nil, c.allowed, err)
		}
		if err != nil && !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: %v does not wrap ErrForbiddenAddress", c.name, err)
		}
	}
}

// TestCIMDDialerInNetworkNamespace runs the real resolver inside a network
// namespace of its own (unshare -n: only a loopback interface, so no packet
// can leave the machine): forbidden addresses are refused by the dial-time
// check, and a public one is dialed (and fails for want of a route), which
// shows the check is what refused the others.
func TestCIMDDialerInNetworkNamespace(t *testing.T) {
	if os.Getenv("MCPAUTH_NETNS_CHILD") != "1" {
		exe, err := os.Executable()
		if err != nil {
			t.Skip(err)
		}
		if err := exec.Command("unshare", "-n", "true").Run(); err != nil {
			t.Skipf("cannot create a network namespace here (unshare -n: %v)", err)
		}
		cmd := exec.Command("unshare", "-n", exe, "-test.run=^TestCIMDDialerInNetworkNamespace$", "-test.v")
		cmd.Env = append(os.Environ(), "MCPAUTH_NETNS_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("in the namespace: %v\n%s", err, out)
		}
		return
	}
	r := NewCIMDResolver(CIMDOptions{})
	for _, host := range []string{"100.64.0.1", "169.254.169.254", "[64:ff9b::a9fe:a9fe]", "[::ffff:10.0.0.1]", "[2002:a9fe:a9fe::1]", "198.18.0.1", "240.0.0.1"} {
		_, err := r.Resolve(context.Background(), "https://"+host+"/client.json")
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: %v, want ErrForbiddenAddress", host, err)
		}
	}
	_, err := r.Resolve(context.Background(), "https://93.184.216.34/client.json")
	if err == nil || errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("a public address: %v, want a dial failure that is not ErrForbiddenAddress", err)
	}
}
