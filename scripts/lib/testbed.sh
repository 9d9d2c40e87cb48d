# shellcheck shell=bash
# A two-server testbed in network namespaces, shared by scripts/demo and
# scripts/measure-takeover. SPEC 8: only namespaces made here, only
# 198.18.0.0/24 (public) and 198.19.0.0/24 (private), nothing attached to
# the host. Source it, set TB (a unique prefix) and DIR, then call tb_up.
#
#   client 198.18.0.100 ─┐                 primary priv0 198.19.0.1 ─┐
#   primary pub0 .0.1 ───┤ br-pub (switch)  secondary priv0 198.19.0.2 ┘ br-priv
#   secondary pub0 .0.2 ─┘
#
# A cable is the switch side of a veth: `tb_cable p-pub down` pulls it.

TB_PIDS=()

tb_ns() { echo "${TB}$1"; }   # w (switch), p, s, c

tb_plug() { # ns tag lan ifname address
    ip -n "$(tb_ns w)" link add "$2-$3" type veth peer name "$4" netns "$1"
    ip -n "$(tb_ns w)" link set "$2-$3" master "br-$3" up
    ip -n "$1" addr add "$5" dev "$4"
    ip -n "$1" link set "$4" up
}

tb_up() {
    local n
    for n in w p s c; do ip netns add "$(tb_ns $n)"; ip -n "$(tb_ns $n)" link set lo up; done
    for n in br-pub br-priv; do
        ip -n "$(tb_ns w)" link add $n type bridge
        ip -n "$(tb_ns w)" link set $n up
    done
    tb_plug "$(tb_ns p)" p pub pub0 198.18.0.1/24
    tb_plug "$(tb_ns s)" s pub pub0 198.18.0.2/24
    tb_plug "$(tb_ns c)" c pub pub0 198.18.0.100/24
    tb_plug "$(tb_ns p)" p priv priv0 198.19.0.1/24
    tb_plug "$(tb_ns s)" s priv priv0 198.19.0.2/24
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
    local pid n
    for pid in "${TB_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${TB_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    TB_PIDS=()
    for n in w p s c; do ip netns del "$(tb_ns $n)" 2>/dev/null || true; done
}

# Waits until file $1 contains $2, at most $3 seconds.
tb_wait() {
    local end=$(( $(date +%s) + $3 ))
    until grep -q -- "$2" "$1" 2>/dev/null; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.02
    done
}
