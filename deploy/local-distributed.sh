#!/usr/bin/env bash
# The distributed mode on one machine, without containers: PostgreSQL, RabbitMQ and every service as its own process.
#   deploy/local-distributed.sh start [DATA_DIR] [ENCODERS] [EXTRACTORS]   builds, starts everything (2 encoders and 2
#                                                                          frame extractors by default), prints URLs and PIDs
#   deploy/local-distributed.sh stop  [DATA_DIR]              stops the services (by PID), RabbitMQ and PostgreSQL
# The Upload API listens on http://127.0.0.1:8080, the dashboard on :8091/admin and, with QDRANT_URL set, the query API
# on :8081; an admin key is written to DATA_DIR/admin-key.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd="${1:-start}"
data="$(realpath -m "${2:-.litevl-distributed}")"
encoders="${3:-2}"
extractors="${4:-2}"
pids="$data/pids"

case "$cmd" in
  start)
    mkdir -p "$data/logs"
    dotnet build LiteVL.Platform.sln -c Release --nologo -v quiet -clp:ErrorsOnly
    pg=$(deploy/postgres.sh start "$data/postgres" 55440)
    mq_port=$(deploy/rabbitmq.sh start "$data/rabbitmq" 55672 55673)
    export LiteVL__Storage__Provider=Postgres
    export LiteVL__Storage__ConnectionString="$pg"
    export LiteVL__Storage__DataDirectory="$data"
    export LiteVL__Messaging__Transport=RabbitMq
    export LiteVL__Messaging__RabbitMqHost=127.0.0.1
    export LiteVL__Messaging__RabbitMqPort="$mq_port"
    export LiteVL__Model__Directory="${LITEVL_MODEL:-$data/model}"
    if [ -n "${QDRANT_URL:-}" ]; then
      # Several processes share the index only through Qdrant; without it the indexer owns the embedded index alone.
      export LiteVL__VectorIndex__Kind=Qdrant LiteVL__VectorIndex__QdrantUrl="$QDRANT_URL"
    fi
    if [ ! -f "$LiteVL__Model__Directory/config.json" ]; then
      dotnet services/LiteVL.Cli/bin/Release/net10.0/litevl.dll model init --preset tiny --out "$LiteVL__Model__Directory"
    fi
    frames=$(python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print(c['num_frames'], c['vision']['image_size'])" "$LiteVL__Model__Directory/config.json")
    export LiteVL__Frames__FramesPerSegment="${frames% *}" LiteVL__Frames__FrameSize="${frames#* }"
    : > "$pids"
    start_service() { # name dll port
      ASPNETCORE_URLS="http://127.0.0.1:$3" nohup dotnet "services/$2/bin/Release/net10.0/$2.dll" > "$data/logs/$1.log" 2>&1 &
      echo "$! $1" >> "$pids"
      echo "started $1 (pid $!, http://127.0.0.1:$3, log $data/logs/$1.log)"
    }
    LiteVL__AdminKeyFile="$data/admin-key" start_service upload-api LiteVL.UploadApi 8080
    sleep 5 # the Upload API applies the database migrations first
    # Competing consumers of one queue each: extractors on 8082 and 8070+, encoders on 8084+.
    start_service frame-extractor-1 LiteVL.FrameExtractor 8082
    for i in $(seq 2 "$extractors"); do start_service "frame-extractor-$i" LiteVL.FrameExtractor $((8068 + i)); done
    for i in $(seq 1 "$encoders"); do start_service "encoder-$i" LiteVL.Encoder $((8083 + i)); done
    start_service indexer LiteVL.Indexer 8090
    if [ -n "${QDRANT_URL:-}" ]; then
      start_service query-api LiteVL.QueryApi 8081
    else
      echo "query API not started: in the distributed mode it needs Qdrant (set QDRANT_URL=http://HOST:6334); the embedded index belongs to the indexer process"
    fi
    [ -n "${QDRANT_URL:-}" ] && export LiteVL__Dashboard__QueryApiUrl=http://127.0.0.1:8081 # its search page asks the query API
    LiteVL__Dashboard__RabbitMqManagementUrl=http://127.0.0.1:55673 start_service dashboard LiteVL.Dashboard 8091
    echo "dashboard: http://127.0.0.1:8091/admin (sign in with the admin key)"
    echo "admin key: $data/admin-key (written by the Upload API on first start)"
    echo "RabbitMQ management: http://127.0.0.1:55673 (guest/guest)"
    ;;
  stop)
    if [ -f "$pids" ]; then
      while read -r pid name; do kill "$pid" 2>/dev/null && echo "stopped $name ($pid)" || true; done < "$pids"
      rm -f "$pids"
    fi
    deploy/rabbitmq.sh stop "$data/rabbitmq" || true
    deploy/postgres.sh stop "$data/postgres" || true
    ;;
  *)
    echo "usage: $0 start|stop [DATA_DIR] [ENCODERS] [EXTRACTORS]" >&2
    exit 2
    ;;
esac
