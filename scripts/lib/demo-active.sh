# shellcheck shell=bash disable=SC2034  # TB_EXTRA is read by tb_config_as (testbed.sh)
# The active/active part of scripts/demo (sourced by it, with its helpers
# say, fail, wait_for and show_mail): server A (the testbed's p namespace)
# is the primary of 198.18.0.10 (pair web, port 1694) and the standby of
# 198.18.0.11; server B (s) the opposite (pair db, port 1695). One daemon
# per pair on each server, each with its own files.

# Who answers the client on $1, as the server's letter.
aa_who() {
    local who
    who=$(ip netns exec "$(tb_ns c)" "$TOOL" probe "$1:7777" 20 300 | grep -v summary | tail -1 | cut -d' ' -f2)
    echo "${who:-none}"
}

aa_show() {
    say "the client asks: 198.18.0.10 (web) is answered by $(aa_who 198.18.0.10), 198.18.0.11 (db) by $(aa_who 198.18.0.11)"
}

aa_fail() {
    local f
    say "FAILED: $*"
    for f in a-web a-db b-web b-db; do echo "--- $f log"; cat "$DIR/$f.log"; done
    exit 1
}

aa_wait() { tb_wait "$@" || aa_fail "no '$2' in $(basename "$1") after $3 s"; }

aa_line() { grep -o "state $2.*" "$DIR/$1.log" | tail -1; }

demo_active_active() {
    local timing="interval = 200ms"$'\n'"dead_after = 600ms"$'\n'"recover_after = 1s"$'\n'"notify = admin@example.com"$'\n'"sendmail = $DIR/sendmail"
    TB_EXTRA="$timing"$'\n'"pair = web"$'\n'"port = 1694"
    tb_config_as a-web primary 198.19.0.2 198.18.0.10
    tb_config_as b-web secondary 198.19.0.1 198.18.0.10
    TB_EXTRA="$timing"$'\n'"pair = db"$'\n'"port = 1695"
    tb_config_as b-db primary 198.19.0.1 198.18.0.11
    tb_config_as a-db secondary 198.19.0.2 198.18.0.11
    tb_spawn p "$DIR/ra.log" "$TOOL" respond A 7777
    tb_spawn s "$DIR/rb.log" "$TOOL" respond B 7777
    say "active/active: server A (198.18.0.1) serves web on 198.18.0.10 and backs up db;"
    say "server B (198.18.0.2) serves db on 198.18.0.11 and backs up web. Two daemons per server,"
    say "one per pair (web on UDP 1694, db on UDP 1695), each with its own files, hooks and mail"
    tb_spawn p "$DIR/a-web.log" "$BIN" -d -f "$DIR/a-web.conf"
    tb_spawn s "$DIR/b-db.log" "$BIN" -d -f "$DIR/b-db.conf"
    aa_wait "$DIR/a-web.log" "acquiring -> active" 10
    aa_wait "$DIR/b-db.log" "acquiring -> active" 10
    tb_spawn s "$DIR/b-web.log" "$BIN" -d -f "$DIR/b-web.conf"
    tb_spawn p "$DIR/a-db.log" "$BIN" -d -f "$DIR/a-db.conf"
    aa_wait "$DIR/b-web.log" "starting -> watching" 5
    aa_wait "$DIR/a-db.log" "starting -> watching" 5
    [ "$(aa_who 198.18.0.10)/$(aa_who 198.18.0.11)" = A/B ] || aa_fail "each address is not on its primary"
    aa_show

    say "pulling BOTH of server A's cables (A falls off the network)"
    tb_fall_off
    aa_wait "$DIR/b-web.log" "acquiring -> holding" 5
    say "B, web: $(aa_line b-web 'watching -> acquiring')"
    say "A, db:  $(aa_line a-db 'watching -> ')"
    sleep 0.5
    [ "$(aa_who 198.18.0.10)/$(aa_who 198.18.0.11)" = B/B ] || aa_fail "B does not hold both addresses"
    aa_show
    show_mail "web.*took over"

    say "plugging server A's cables back in"
    tb_cable p-pub up; tb_cable p-priv up
    aa_wait "$DIR/b-web.log" "holding -> releasing" 10
    aa_wait "$DIR/a-web.log" "claiming -> acquiring" 5
    aa_wait "$DIR/a-db.log" "isolated -> watching" 5
    sleep 0.5
    [ "$(aa_who 198.18.0.10)/$(aa_who 198.18.0.11)" = A/B ] || aa_fail "the addresses did not go back to their primaries"
    aa_show
    local removed added
    removed=$(grep "removed 198.18.0.10" "$DIR/b-web.log" | tail -1 | cut -c1-24)
    added=$(grep "added 198.18.0.10/24 on pub0 (released)" "$DIR/a-web.log" | tail -1 | cut -c1-24)
    if [ -z "$removed" ] || [ -z "$added" ] || [[ "$added" < "$removed" ]]; then
        aa_fail "A added 198.18.0.10 ($added) before B removed it ($removed)"
    fi
    say "B removed 198.18.0.10 at ${removed:11:12}, A added it at ${added:11:12}: never two owners;"
    say "198.18.0.11 never left B"

    say "pulling server A's PRIVATE cable only"
    tb_cable p-priv down
    aa_wait "$DIR/b-web.log" "watching -> anomaly-private" 5
    aa_wait "$DIR/a-db.log" "watching -> anomaly-private" 5
    say "B, web: $(aa_line b-web 'watching -> anomaly-private')"
    say "A, db:  $(aa_line a-db 'watching -> anomaly-private')"
    sleep 1
    [ "$(aa_who 198.18.0.10)/$(aa_who 198.18.0.11)" = A/B ] || aa_fail "an address moved on one silent network"
    aa_show
    show_mail "web.*network anomaly"
    show_mail "db.*network anomaly"
    tb_cable p-priv up
    aa_wait "$DIR/b-web.log" "anomaly-private -> watching" 5
    aa_wait "$DIR/a-db.log" "anomaly-private -> watching" 5
    say "cable back: both pairs watching again"
    say "demo finished: every step behaved as expected"
}
