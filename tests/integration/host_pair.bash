# For the network tests (network.bats, rootless_net.bats): `load host_pair`.

# make_host_pair HOST OUT NET: two network namespaces standing for a host and an outside one, joined by a veth
# pair: HOST's `uplink` NET.1/24 <-> OUT's `eth0` NET.2/24 (NET: three octets), lo up in both. The caller
# removes them (network.bats in its teardown, others through $TEST_DIR/netns).
make_host_pair() {
	local host=$1 out=$2 net=$3
	ip netns add "$host" && ip netns add "$out" || return 1
	ip -n "$host" link set lo up
	ip -n "$out" link set lo up
	ip -n "$host" link add uplink type veth peer name eth0 netns "$out"
	ip -n "$host" addr add "$net.1/24" dev uplink
	ip -n "$host" link set uplink up
	ip -n "$out" addr add "$net.2/24" dev eth0
	ip -n "$out" link set eth0 up
}
