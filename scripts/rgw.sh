#!/usr/bin/env bash
# A throwaway S3-compatible server for tests: a single-node Ceph cluster (one monitor, one
# memstore OSD, auth off, no manager) plus radosgw, all on 127.0.0.1 with free ports and
# every file under one temporary directory. Facts and quirks: ../shared/notes/s3-test-server.md.
#
#   eval "$(scripts/rgw.sh start)"   # installs packages if needed, starts, prints exports
#   scripts/rgw.sh env [DIR]          # prints the exports again (DIR defaults to $GANNET_RGW_DIR)
#   scripts/rgw.sh stop [DIR]         # kills the daemons by their pid files, removes DIR
#
# `start` prints only `export NAME=value` lines on stdout (progress goes to stderr):
# AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
# GANNET_TEST_S3_BUCKET and GANNET_RGW_DIR. It fails with a message and cleans up after
# itself if the cluster is not serving within GANNET_RGW_TIMEOUT seconds (default 60).
set -euo pipefail

readonly ACCESS_KEY=GANNETTESTACCESSKEY0
readonly SECRET_KEY=gannet-test-secret-key-0000000000000000
readonly REGION=us-east-1
readonly BUCKET=gannet-test
readonly PACKAGES=(radosgw ceph-mon ceph-osd ceph-common uuid-runtime)

log() { echo "rgw.sh: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing: ${missing[*]}"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
}

# Prints N distinct free TCP ports on 127.0.0.1.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

print_env() {
  local dir=$1
  [ -f "$dir/env" ] || die "$dir/env not found: is a cluster running there?"
  cat "$dir/env"
}

stop_cluster() {
  local dir=$1 pidfile pid i
  [ -d "$dir" ] || return 0
  # Refuse to remove anything that this script did not create.
  [ -f "$dir/gannet-rgw" ] || die "$dir was not created by rgw.sh; not removing it"
  for pidfile in "$dir"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null || true
  done
  for i in $(seq 1 20); do
    local alive=0
    for pidfile in "$dir"/run/*.pid; do
      [ -f "$pidfile" ] || continue
      pid=$(cat "$pidfile" 2>/dev/null || true)
      [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for pidfile in "$dir"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

# Waits up to the deadline for `cmd` to succeed.
wait_for() {
  local what=$1
  shift
  while ! "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$DEADLINE" ]; then
      log "timed out waiting for $what; last log lines:"
      tail -n 20 "$DIR"/log/*.log >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
}

start_cluster() {
  install_packages
  local timeout=${GANNET_RGW_TIMEOUT:-60}
  local t0
  t0=$(date +%s.%N)
  DEADLINE=$(($(date +%s) + timeout))
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/gannet-rgw-XXXXXX")
  touch "$DIR/gannet-rgw"
  # On any failure, stop whatever started and remove the directory.
  trap 'rc=$?; if [ $rc -ne 0 ]; then stop_cluster "$DIR"; fi' EXIT
  mkdir -p "$DIR"/{run,log,mon/ceph-a,osd/ceph-0,rgw}
  local mon_port rgw_port fsid osd_uuid
  read -r mon_port rgw_port < <(free_ports 2)
  fsid=$(uuidgen)
  osd_uuid=$(uuidgen)
  local conf="$DIR/ceph.conf"
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_port]
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
ms bind msgr1 = false
ms bind ipv6 = false
public addr = 127.0.0.1
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
paxos propose interval = 0.1
run dir = $DIR/run
log file = $DIR/log/\$name.log
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
keyring = $DIR/keyring
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 2147483648
crash dir = $DIR/run
[client.rgw]
auth client required = none
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $DIR/rgw
rgw enable usage log = false
rgw thread pool size = 64
EOF
  : >"$DIR/keyring"
  local ceph=(ceph -c "$conf" --connect-timeout 10)

  log "bootstrapping in $DIR (mon :$mon_port, rgw :$rgw_port)"
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/monmap" >/dev/null \
    2>>"$DIR/log/bootstrap.log" || die "monmaptool failed (see $DIR/log/bootstrap.log)"
  ceph-mon -c "$conf" --mkfs -i a --monmap "$DIR/monmap" >>"$DIR/log/bootstrap.log" 2>&1 ||
    die "ceph-mon --mkfs failed: $(tail -n 5 "$DIR/log/bootstrap.log")"
  ceph-mon -c "$conf" -i a >>"$DIR/log/bootstrap.log" 2>&1 || die "ceph-mon did not start"
  wait_for "the monitor" "${ceph[@]}" mon stat || die "the monitor is not answering"

  local osd_id
  osd_id=$("${ceph[@]}" osd new "$osd_uuid" 2>>"$DIR/log/bootstrap.log") ||
    die "ceph osd new failed"
  [ "$osd_id" = 0 ] || die "unexpected osd id '$osd_id'"
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$DIR/log/bootstrap.log" 2>&1 ||
    die "ceph-osd --mkfs failed: $(tail -n 5 "$DIR/log/bootstrap.log")"
  ceph-osd -c "$conf" -i 0 >>"$DIR/log/bootstrap.log" 2>&1 || die "ceph-osd did not start"

  radosgw -c "$conf" -n client.rgw >>"$DIR/log/bootstrap.log" 2>&1 || die "radosgw did not start"
  local endpoint="http://127.0.0.1:$rgw_port"
  wait_for "radosgw on $endpoint" curl -sf -o /dev/null "$endpoint/" || die "radosgw is not serving"

  radosgw-admin -c "$conf" -n client.rgw user create --uid=gannet-test --display-name="gannet test" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null 2>>"$DIR/log/bootstrap.log" ||
    die "radosgw-admin user create failed: $(tail -n 5 "$DIR/log/bootstrap.log")"
  # Create the bucket with a signed PUT; retry briefly while the new user propagates.
  local code=""
  while :; do
    code=$(curl -s -o "$DIR/log/create-bucket.out" -w '%{http_code}' -X PUT \
      --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$endpoint/$BUCKET" || true)
    [ "$code" = 200 ] && break
    if [ "$(date +%s)" -ge "$DEADLINE" ]; then
      die "creating bucket $BUCKET failed with HTTP $code: $(cat "$DIR/log/create-bucket.out")"
    fi
    sleep 0.1
  done

  cat >"$DIR/env" <<EOF
export AWS_ENDPOINT_URL=$endpoint
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=$REGION
export GANNET_TEST_S3_BUCKET=$BUCKET
export GANNET_RGW_DIR=$DIR
EOF
  trap - EXIT
  log "ready at $endpoint in $(python3 -c "import time; print(round(time.time() - $t0, 1))") s"
  cat "$DIR/env"
}

cmd=${1:-}
case "$cmd" in
  start) start_cluster ;;
  stop)
    dir=${2:-${GANNET_RGW_DIR:-}}
    [ -n "$dir" ] || die "usage: rgw.sh stop DIR (or set GANNET_RGW_DIR)"
    stop_cluster "$dir"
    ;;
  env)
    dir=${2:-${GANNET_RGW_DIR:-}}
    [ -n "$dir" ] || die "usage: rgw.sh env DIR (or set GANNET_RGW_DIR)"
    print_env "$dir"
    ;;
  *) die "usage: rgw.sh start | stop [DIR] | env [DIR]" ;;
esac
