# Shared by the scripts that run a test service from its own virtualenv (localstack/, moto/).
# Source it from the repository root.

# ensure_venv NAME VENV REQUIREMENTS EXECUTABLE: (re)installs REQUIREMENTS into VENV when the file
# changed since the last install, or when VENV/bin/EXECUTABLE is missing.
ensure_venv() {
  local name=$1 venv=$2 requirements=$3 executable=$4 want
  want=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/$executable" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    echo "$name: installing into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$venv/.requirements.sha256"
  fi
}

# wait_for_url NAME URL TRIES LOG: polls URL twice a second; on success says so, else prints the
# end of LOG and fails.
wait_for_url() {
  local name=$1 url=$2 tries=$3 log=$4
  for _ in $(seq 1 "$tries"); do
    if curl -sf "$url" > /dev/null 2>&1; then
      echo "$name: ready at $url"
      return 0
    fi
    sleep 0.5
  done
  echo "$name: not answering at $url; last log lines:" >&2
  tail -20 "$log" >&2
  return 1
}

# stop_pidfile NAME PIDFILE: stops the process PIDFILE names (TERM, then KILL after 10 s).
stop_pidfile() {
  local name=$1 pidfile=$2 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2> /dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2> /dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2> /dev/null || true
  rm -f "$pidfile"
  echo "$name: stopped"
}
