#!/usr/bin/env bash
# The test command of the README: restores, builds and runs every test project, then prints one summary line.
# Later tiers (RabbitMQ, PostgreSQL, ffmpeg, Chromium) are installed and started here as the tests that need them land.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK is required (https://dot.net); on Debian/Ubuntu: apt-get install -y dotnet-sdk-10.0" >&2
  exit 2
fi

# What the tests need on the machine: ffmpeg (media tests), PostgreSQL (the Npgsql path), RabbitMQ (the distributed
# mode), Chromium (dashboard tests), docker-compose (renders docker-compose.yml without an engine) and python3 (the
# independent clip renderer, tests/foreign/render.py), all from Debian.
need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v rabbitmq-server >/dev/null 2>&1 || need_apt+=(rabbitmq-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need_apt[*]} (apt-get install -y ${need_apt[*]})"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "error: the tests need ${need_apt[*]}: run 'sudo apt-get install -y ${need_apt[*]}'" >&2
    exit 2
  fi
fi

# A throwaway PostgreSQL cluster and RabbitMQ node for this run, stopped on exit. Ports are drawn below Linux's
# ephemeral range (32768+), where an outgoing connection could already hold them, and a start is retried on another.
pg_dir=$(mktemp -d /tmp/litevl-test-pg.XXXXXX)
mq_dir=$(mktemp -d /tmp/litevl-test-mq.XXXXXX)
cleanup() {
  deploy/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true
  deploy/rabbitmq.sh stop "$mq_dir" >/dev/null 2>&1 || true
  rm -rf "$pg_dir" "$mq_dir"
}
trap cleanup EXIT
for attempt in 1 2 3 4 5; do
  pg_port=$(( 21000 + RANDOM % 4000 ))
  if LITEVL_TEST_POSTGRES=$(deploy/postgres.sh start "$pg_dir" "$pg_port"); then break; fi
  echo "PostgreSQL did not start on port $pg_port (attempt $attempt); log: $(tail -n 3 "$pg_dir/server.log" 2>/dev/null)" >&2
  [ "$attempt" -eq 5 ] && exit 1
done
for attempt in 1 2 3 4 5; do
  mq_port=$(( 25000 + RANDOM % 3000 ))
  LITEVL_TEST_RABBITMQ_MANAGEMENT_PORT=$(( mq_port + 1000 ))
  if LITEVL_TEST_RABBITMQ_PORT=$(deploy/rabbitmq.sh start "$mq_dir" "$mq_port" "$LITEVL_TEST_RABBITMQ_MANAGEMENT_PORT"); then break; fi
  echo "RabbitMQ did not start on port $mq_port (attempt $attempt)" >&2
  deploy/rabbitmq.sh stop "$mq_dir" >/dev/null 2>&1 || true
  [ "$attempt" -eq 5 ] && exit 1
done
export LITEVL_TEST_POSTGRES LITEVL_TEST_RABBITMQ_PORT LITEVL_TEST_RABBITMQ_MANAGEMENT_PORT

configuration="${CONFIGURATION:-Release}"
results="${TEST_RESULTS_DIR:-artifacts/test-results}"
mkdir -p "$results"

# The deployment files (compose, k8s, Dockerfiles) checked without an engine or a cluster.
tests/validate-deployment.sh

dotnet restore LiteVL.Platform.sln --nologo -v quiet
dotnet build LiteVL.Platform.sln -c "$configuration" --no-restore --nologo -v quiet -clp:ErrorsOnly

log="$results/dotnet-test.log"
rm -f "$results"/*.trx
set +e
dotnet test LiteVL.Platform.sln -c "$configuration" --no-build --nologo \
  --logger "console;verbosity=normal" --logger "trx" --results-directory "$results" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line for CI, summed over the test assemblies' TRX counters: "N passed, N failed, N skipped".
read -r passed failed skipped < <(cat "$results"/*.trx 2>/dev/null | grep -o '<Counters [^>]*>' | awk '
  {
    for (i = 1; i <= NF; i++) {
      split($i, kv, "=")
      gsub(/[^0-9]/, "", kv[2])
      if (kv[1] == "passed") { p += kv[2] }
      if (kv[1] == "failed") { f += kv[2] }
      if (kv[1] == "total") { s += kv[2] }
      if (kv[1] == "executed") { s -= kv[2] }
    }
  }
  END { printf "%d %d %d\n", p, f, s }')
# CI keeps only the tail of this output, so the failures are repeated here, each with the start of its message.
if [ "$failed" -gt 0 ]; then
  echo "failed tests (full output: $log):"
  grep -E -A 12 '^\s+Failed [A-Za-z_][A-Za-z0-9_.]*' "$log" | grep -v -E '^\s+(Passed|Skipped) ' | cut -c1-400 | head -n 120
fi
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$passed" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "error: no test ran" >&2
  exit 1
fi
exit "$status"
