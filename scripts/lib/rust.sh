# shellcheck shell=bash
# Rust for scripts/demo and scripts/test on a fresh Debian or Ubuntu
# machine (sourced, bash). The crate needs the rustc of Cargo.toml's
# rust-version. Where the distribution's own rustc is that recent (Debian
# 13 ships 1.85) it is installed with apt, like iproute2; where it is older
# (Debian 12 ships 1.63, Ubuntu 24.04 1.75) the exact rustup command is
# printed and the script stops. See INSTALL, "Building".

# Cargo.toml's rust-version, e.g. 1.82.
rust_needed() {
    sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "${1:-Cargo.toml}"
}

# The upstream part of a Debian version or of `rustc --version`'s second
# word: 1.85.0+dfsg3-1 -> 1.85.0, 1:1.80.1-2 -> 1.80.1.
rust_upstream() {
    local v=${1#*:}
    v=${v%%[+~-]*}
    printf '%s\n' "$v"
}

# Whether version $1 is at least $2.
rust_at_least() {
    [ "$(printf '%s\n%s\n' "$(rust_upstream "$1")" "$2" | sort -V | head -n1)" = "$2" ]
}

# What to do: "ok" (the rustc found is recent enough), "apt" (the
# distribution's is: install it) or "rustup" (neither).
#   $1 rust-version needed, $2 the rustc found ("" for none),
#   $3 apt's candidate for package rustc ("" for none).
rust_plan() {
    if [ -n "$2" ] && rust_at_least "$2" "$1"; then
        echo ok
    elif [ -n "$3" ] && rust_at_least "$3" "$1"; then
        echo apt
    else
        echo rustup
    fi
}

# Makes cargo and a recent enough rustc available, or says exactly how and
# returns 1. $1: the calling script's name; further arguments: packages
# wanted besides rustc and cargo when apt installs them (rust-clippy
# rustfmt for scripts/test).
rust_ensure() {
    local who=$1
    shift
    # rustup installs in ~/.cargo/bin, which a root shell under sudo may
    # not have in its PATH.
    if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
        PATH=$HOME/.cargo/bin:$PATH
    fi
    local need have="" cand=""
    need=$(rust_needed Cargo.toml)
    if command -v rustc >/dev/null && command -v cargo >/dev/null; then
        have=$(rustc --version | awk '{print $2}')
    fi
    if [ "$(rust_plan "$need" "$have" "")" = ok ]; then
        return 0
    fi
    if command -v apt-get >/dev/null; then
        apt-get update -q >/dev/null
        cand=$(apt-cache policy rustc 2>/dev/null | awk '/Candidate:/ {print $2}')
        [ "$cand" = "(none)" ] && cand=""
    fi
    case $(rust_plan "$need" "$have" "$cand") in
        apt)
            echo "== installing the distribution's Rust (rustc $cand, the crate needs $need): rustc cargo $*"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rustc cargo "$@"
            return 0
            ;;
    esac
    {
        echo "$who: this crate needs rustc $need or later (rust-version in Cargo.toml);"
        if [ -n "$have" ]; then
            echo "  the rustc found is $have ($(command -v rustc))"
        else
            echo "  no rustc/cargo is installed"
        fi
        if [ -n "$cand" ]; then
            echo "  and this distribution's package rustc is $(rust_upstream "$cand"), too old."
        else
            echo "  and this system has no rustc package to install with apt."
        fi
        echo "Install the current stable Rust with rustup, then run $who again:"
        echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt"
        echo "  . \"\$HOME/.cargo/env\""
    } >&2
    return 1
}
