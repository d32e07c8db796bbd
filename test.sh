#!/usr/bin/env bash
# Runs every test: installs the real peers the tests drive (OpenSSH, socat, iproute2, Jupyter,
# Chromium, PostgreSQL, Prometheus, Open MPI, Pebble, BIND) when missing, builds, runs the unit and end-to-end suites, and
# prints one totals line.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v scp >/dev/null 2>&1 || need+=(openssh-client)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# Debian's Jupyter and Python live under /usr/bin; the python3 first on PATH may be another build
# that does not see them, so these are checked (and later called) by full path.
[ -x /usr/bin/jupyter-notebook ] || [ -x /usr/bin/jupyter ] || need+=(jupyter-notebook)
/usr/bin/python3 -c 'import ipykernel' >/dev/null 2>&1 || need+=(python3-ipykernel)
/usr/bin/python3 -c 'import websocket' >/dev/null 2>&1 || need+=(python3-websocket)
[ -x /usr/bin/chromium ] || need+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
# /metrics: a real Prometheus scrapes the gateway (started by the tests, never as the system service), and promtool checks the alerts.
[ -x /usr/bin/prometheus ] || need+=(prometheus)
# Multi-node fleet jobs: Debian's Open MPI and mpi4py, called as /usr/bin/python3 like Jupyter above.
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
/usr/bin/python3 -c 'import mpi4py' >/dev/null 2>&1 || need+=(python3-mpi4py)
# deploy/: the units are checked by systemd's own tools, the stack file by Debian's docker-compose
# (or the docker CLI's compose plugin where that is present).
# ACME: Let's Encrypt's test server Pebble, and BIND for its DNS (names, and DNS-01's dynamic updates), both started by the tests.
[ -x /usr/bin/pebble ] || need+=(pebble)
[ -x /usr/sbin/named ] || need+=(bind9)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
# OIDC sign-in: a real provider (panva's oidc-provider) under Node, installed below into its fixture's folder.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test peers: ${need[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

[ -d tests/Fixtures/oidc-provider/node_modules/oidc-provider ] \
  || (cd tests/Fixtures/oidc-provider && npm install --no-audit --no-fund --silent) >&2

dotnet build Jumpgate.sln -c Release -nologo -clp:ErrorsOnly
# The end-to-end tests drive the Native AOT binary, as users install it: the suite starts `jumpgate`
# thousands of times, and each start costs milliseconds where the JIT build's costs a third of a
# second (the suite ran in a third of the time). Where the AOT toolchain is missing they drive the JIT build.
native=artifacts/test-native
if dotnet publish src/Jumpgate.Cli -c Release -r linux-x64 -p:PublishAot=true -o "$native" -nologo -clp:ErrorsOnly -v:q >&2; then
  export JUMPGATE_TEST_EXECUTABLE="$PWD/$native/jumpgate"
else
  echo "test.sh: the Native AOT publish failed; the end-to-end tests drive the JIT build" >&2
fi
log=$(mktemp)
status=0
# Every process the tests start logs here, and every token they issue is recorded by the hash of its
# secret, so one check after the tests can look for every token in every log, audit file and store.
run=$(mktemp -d /tmp/jumpgate-test-run.XXXXXX)
export JUMPGATE_TEST_RUN="$run"
dotnet test Jumpgate.sln -c Release --no-build -nologo "$@" 2>&1 | tee "$log" || status=$?
leak=0
dotnet tests/Jumpgate.LeakCheck/bin/Release/net10.0/Jumpgate.LeakCheck.dll "$run" 2>&1 | tee -a "$log" || leak=$?
if [ "$leak" -eq 0 ]; then rm -rf "$run"; else status=1; fi

# One totals line, summed over the test assemblies.
awk '
  /(Passed|Failed)!  *- *Failed:/ {
    for (i = 1; i <= NF; i++) {
      gsub(",", "", $(i+1))
      if ($i == "Failed:") f += $(i+1)
      if ($i == "Passed:") p += $(i+1)
      if ($i == "Skipped:") s += $(i+1)
    }
  }
  /^token leak check: (passed|no tokens)/ { leak = "no token leaked" }
  /^token leak check: FAILED/ { leak = "TOKENS LEAKED (see above)" }
  END { printf "%d passed, %d failed, %d skipped; %s\n", p, f, s, leak == "" ? "leak check did not run" : leak }
' "$log"
rm -f "$log"
exit $status
