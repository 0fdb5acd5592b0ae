#!/usr/bin/env bash
# The soak: the distributed mode (Upload API, 2 frame extractors, 2 encoders, indexer, each its own process) over a
# PostgreSQL cluster and a RabbitMQ node of its own (deploy/postgres.sh, deploy/rabbitmq.sh; stopped on exit), N clips
# uploaded while workers are SIGKILLed and restarted, the broker and the database restarted and videos deleted in
# flight; then every accepted video is reconciled against the database, the vector index, the stores and the queues.
#   tests/soak.sh [--videos N] [--encoder-kills K] [--extractor-kills K] [--indexer-kills K]
#                 [--broker-restarts R] [--db-restarts R] [--deletes D] [--seed S] [--settle-minutes M]
# Its last line:
#   soak: N accepted, N indexed, F failed, 0 lost, 0 duplicated, P points, K kills, R broker restarts, R db restarts, D deletes, T s
# Exit status 0 only with nothing lost, duplicated, orphaned or stuck; 1 when something was; 2 for a bad command line;
# 3 when the harness could not go on (a server or service did not start; the last line then says "soak: aborted").
# See docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK is required (https://dot.net); on Debian/Ubuntu: apt-get install -y dotnet-sdk-10.0" >&2
  exit 2
fi
# ffmpeg makes the clips and extracts the frames; deploy/postgres.sh and deploy/rabbitmq.sh install their servers.
if ! command -v ffmpeg >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ffmpeg (apt-get install -y ffmpeg)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
  else
    echo "error: the soak needs ffmpeg: run 'sudo apt-get install -y ffmpeg'" >&2
    exit 2
  fi
fi

echo "building the soak driver and the services (Release)"
dotnet build tests/LiteVL.Soak/LiteVL.Soak.csproj -c Release --nologo -v quiet -clp:ErrorsOnly || { echo "error: the soak driver did not build (see above)" >&2; exit 3; }
exec dotnet tests/LiteVL.Soak/bin/Release/net10.0/LiteVL.Soak.dll "$@"
