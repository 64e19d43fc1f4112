package registration

import (
	"fmt"
	"net/netip"
)

// Address policy for fetching Client ID Metadata Documents: only globally
// reachable unicast addresses, per the IANA IPv4 and IPv6 Special-Purpose
// Address Registries. An IPv6 address that carries an IPv4 address (IPv4-
// mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by that IPv4
// address; other IPv6 forms that embed one (IPv4-compatible, local-use NAT64
// 64:ff9b:1::/48, Teredo 2001::/32) are not globally reachable and refused.

var forbiddenV4 = prefixes(
	"0.0.0.0/8",       // "this network"
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // shared address space (carrier NAT; cloud metadata services live here)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link local (cloud metadata 169.254.169.254)
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation
	"192.31.196.0/24", // AS112
	"192.52.193.0/24", // AMT
	"192.88.99.0/24",  // deprecated 6to4 relay anycast
	"192.168.0.0/16",  // private
	"192.175.48.0/24", // direct delegation AS112
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation
	"203.0.113.0/24",  // documentation
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, and the limited broadcast address
)

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
)

var forbiddenV6 = prefixes(
	"64:ff9b:1::/48", // local-use NAT64
	"2001::/23",      // IETF protocol assignments, Teredo 2001::/32 among them
	"2001:db8::/32",  // documentation
	"3fff::/20",      // documentation
)

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// checkPublicAddress returns nil for a globally reachable unicast address
// and an error wrapping [ErrForbiddenAddress] naming the range otherwise.
func checkPublicAddress(a netip.Addr) error {
	a = a.WithZone("")
	if a.Is4In6() {
		return checkPublicV4(a.Unmap(), "IPv4-mapped "+a.String())
	}
	if a.Is4() {
		return checkPublicV4(a, a.String())
	}
	if nat64.Contains(a) {
		b := a.As16()
		return checkPublicV4(netip.AddrFrom4([4]byte(b[12:16])), "NAT64 "+a.String())
	}
	if sixToFour.Contains(a) {
		b := a.As16()
		return checkPublicV4(netip.AddrFrom4([4]byte(b[2:6])), "6to4 "+a.String())
	}
	if !globalUnicast6.Contains(a) {
		return fmt.Errorf("%w: %s is not a global unicast IPv6 address (loopback, link-local, unique local, multicast, IPv4-compatible and unspecified addresses are refused)", ErrForbiddenAddress, a)
	}
	for _, p := range forbiddenV6 {
		if p.Contains(a) {
			return fmt.Errorf("%w: %s is in the special-purpose range %s", ErrForbiddenAddress, a, p)
		}
	}
	return nil
}

func checkPublicV4(a netip.Addr, what string) error {
	for _, p := range forbiddenV4 {
		if p.Contains(a) {
			return fmt.Errorf("%w: %s is in the special-purpose range %s", ErrForbiddenAddress, what, p)
		}
	}
	return nil
}
