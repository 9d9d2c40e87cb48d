# shellcheck shell=bash
# The two-server testbed for the scripts (demo, soak, flood, lossy, cpuload,
# measure-takeover). Its topology (namespaces, switch, cables, IPv4 and IPv6
# addresses) is defined once, in tests/support/testbed.rs, with its picture;
# the scenario tests and scripts/bench use the same. tb_up and tb_down run
# it through `netool testbed`: build the netool example (release) first.
# docs/design.md §8: only namespaces made here, only 198.18.0.0/24 (public),
# 198.19.0.0/24 (private) and fd00:18::/64, nothing attached to the host.
# Source it, set TB (a unique prefix) and DIR, then call tb_up.
#
# Namespaces $TB{w,p,s,c}: switch, primary, secondary, client. A cable is
# the switch side of a veth: `tb_cable p-pub down` pulls it.

TB_PIDS=()
TB_NETOOL=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/target/release/examples/netool
TB_OURS=

tb_ns() { echo "${TB}$1"; }   # w (switch), p, s, c

# Exit status 3 of `netool testbed up`: one of the names was taken, nothing
# was made, and tb_down must leave those namespaces alone. Otherwise the
# names are ours from here on, also if we are interrupted while building.
tb_up() {
    [ -x "$TB_NETOOL" ] || { echo "testbed.sh: build it first: cargo build --release --example netool" >&2; return 1; }
    TB_OURS=1
    local rc=0
    "$TB_NETOOL" testbed up "$TB" || rc=$?
    [ "$rc" != 3 ] || TB_OURS=
    return "$rc"
}

tb_cable() { ip -n "$(tb_ns w)" link set "$1" "$2"; }

# The primary falls off both networks: both cables in one `ip -batch`,
# the private one first. One after the other, a primary that noticed its
# public link go first would hand over on the private network
# (primary-public-down), which is another scenario.
tb_fall_off() { printf 'link set p-priv down\nlink set p-pub down\n' | ip -n "$(tb_ns w)" -batch -; }

# Writes $DIR/<p|s>.conf; extra lines come from $TB_EXTRA.
tb_config() {
    tb_config_as p primary 198.19.0.2 198.18.0.10
    tb_config_as s secondary 198.19.0.1 198.18.0.10
}

# Writes $DIR/<file>.conf for one daemon: role, peer (the other server's
# private address) and service address, with its own state_dir, pidfile,
# control socket and scripts_dir named after <file>, so that several
# daemons can run on one server (active/active: one per pair). Extra
# lines (port, pair, timing) come from $TB_EXTRA.
tb_config_as() { # file role peer address
    cat > "$DIR/$1.conf" <<CONF
role = $2
network = public pub0 198.18.0.255
network = private priv0 198.19.0.255
peer = $3
address = pub0:$4/24
auth_key_file = $DIR/key
state_dir = $DIR/state-$1
pidfile = $DIR/$1.pid
control_socket = $DIR/$1.sock
scripts_dir = $DIR/scripts-$1
${TB_EXTRA:-}
CONF
    [ -f "$DIR/key" ] || { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/key"; chmod 600 "$DIR/key"; }
}

# Starts a program in a namespace in the background and remembers its PID.
tb_spawn() { # node log cmd...
    local node=$1 log=$2
    shift 2
    ip netns exec "$(tb_ns "$node")" "$@" >"$log" 2>&1 &
    TB_PIDS+=($!)
}

tb_down() {
    local pid
    for pid in "${TB_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${TB_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    TB_PIDS=()
    if [ -n "$TB_OURS" ]; then
        "$TB_NETOOL" testbed down "$TB" || true
        TB_OURS=
    fi
}

# Waits until file $1 contains $2, at most $3 seconds.
tb_wait() {
    local end=$(( $(date +%s) + $3 ))
    until grep -q -- "$2" "$1" 2>/dev/null; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.02
    done
}
