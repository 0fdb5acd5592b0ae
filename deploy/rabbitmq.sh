#!/usr/bin/env bash
# A throwaway RabbitMQ node (with the management plugin) for tests and local runs, without systemd.
#   deploy/rabbitmq.sh start [DIR] [PORT] [MGMT_PORT]   prints the AMQP port; node files live under DIR
#   deploy/rabbitmq.sh stop  [DIR]                       stops the node (and its epmd when no other node uses it) by PID
#   deploy/rabbitmq.sh queues [DIR]                      lists queues: name, ready, unacknowledged, consumers
# Installs the Debian package when RabbitMQ is missing (announcing it).
set -euo pipefail
cmd="${1:-start}"
dir="${2:-/tmp/litevl-rabbitmq}"
port="${3:-5672}"
mgmt="${4:-15672}"
# The node is named after the whole directory path (two DIRs with the same last component are two nodes).
export RABBITMQ_NODENAME="litevl-$(basename "$dir" | tr -c 'a-zA-Z0-9\n' '-')-$(realpath -m "$dir" | md5sum | cut -c1-8)@localhost"
export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_PID_FILE="$dir/rabbit.pid"
export RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT=$((port + 100))
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-rabbitmq_management tcp_config [{port,$mgmt}]"
export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
export HOME="${HOME:-/root}"

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "RabbitMQ is not installed; installing it: apt-get install -y rabbitmq-server" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >&2
fi

case "$cmd" in
  start)
    mkdir -p "$dir/log" "$dir/mnesia"
    [ "$(id -u)" -eq 0 ] && id rabbitmq >/dev/null 2>&1 && chown -R rabbitmq:rabbitmq "$dir"
    echo "[rabbitmq_management]." > "$dir/enabled_plugins"
    [ "$(id -u)" -eq 0 ] && id rabbitmq >/dev/null 2>&1 && chown rabbitmq:rabbitmq "$dir/enabled_plugins"
    if ! rabbitmqctl -q status >/dev/null 2>&1; then
      rabbitmq-server -detached >/dev/null 2>&1
      rabbitmqctl -q wait --timeout 90 "$RABBITMQ_PID_FILE" >/dev/null
    fi
    echo "$port"
    ;;
  stop)
    if [ -f "$RABBITMQ_PID_FILE" ]; then
      pid=$(cat "$RABBITMQ_PID_FILE")
      timeout 30 rabbitmqctl -q stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || true
      # If the graceful stop did not finish, end the node by its PID.
      if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        sleep 2
        kill -9 "$pid" 2>/dev/null || true
      fi
    fi
    # epmd outlives the node; stop it by its PID, unless another Erlang node (another RabbitMQ) still uses it.
    if ! pgrep -x beam.smp >/dev/null 2>&1; then
      for pid in $(pgrep -x epmd || true); do kill "$pid" 2>/dev/null || true; done
    fi
    ;;
  queues)
    # Messages ready and unacknowledged per queue, read from the node itself (no statistics delay).
    rabbitmqctl -q list_queues name messages_ready messages_unacknowledged consumers
    ;;
  *)
    echo "usage: $0 start|stop|queues [DIR] [PORT] [MGMT_PORT]" >&2
    exit 2
    ;;
esac
