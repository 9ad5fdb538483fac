#!/usr/bin/env bash
# Run a single-node Apache Kafka broker (KRaft mode, no ZooKeeper) on 127.0.0.1 for
# local development, built from the Kafka jars on Maven Central, so neither Docker nor
# the Kafka binary tarball is needed. Run with --help for subcommands and settings.
#
# Why Kafka 4.0.2: it is the newest patch release of the 4.0 line, and the
# faust-streaming maintainers ran faust's broker integration tests with aiokafka 0.14.0
# against Kafka 4.0.0 (https://github.com/faust-streaming/faust/pull/714).
# The fallback is the 3.9 line (USER_INSIGHTS_KAFKA_VERSION=3.9.1).
# NOTE: the 3.9 fallback is untested here, because no 3.9.x release of
# org.apache.kafka:kafka_2.13 was in this machine's Maven package list, so check that
# it fetches and starts before relying on it.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$SCRIPT_DIR")
POM=$SCRIPT_DIR/kafka/pom.xml
TEMPLATE=$SCRIPT_DIR/kafka/server.properties.template

KAFKA_VERSION=${USER_INSIGHTS_KAFKA_VERSION:-4.0.2}
PORT=${USER_INSIGHTS_KAFKA_PORT:-9092}
CONTROLLER_PORT=${USER_INSIGHTS_KAFKA_CONTROLLER_PORT:-9093}
HEAP=${USER_INSIGHTS_KAFKA_HEAP:-1g}
START_TIMEOUT_S=${USER_INSIGHTS_KAFKA_START_TIMEOUT_S:-60}
STOP_TIMEOUT_S=30

CACHE_DIR=${USER_INSIGHTS_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/user-insights/kafka-$KAFKA_VERSION}
LIBS=$CACHE_DIR/libs
# Written only after a complete copy, so an interrupted fetch is retried on the next start.
LIBS_MARKER=$CACHE_DIR/libs.complete

STATE_DIR=${USER_INSIGHTS_KAFKA_HOME:-$REPO_ROOT/.local/kafka}
PROPERTIES=$STATE_DIR/server.properties
DATA_DIR=$STATE_DIR/data
LOG_FILE=$STATE_DIR/broker.log
PID_FILE=$STATE_DIR/broker.pid
CLUSTER_ID_FILE=$STATE_DIR/cluster.id

# Printed by kafka.server.KafkaRaftServer once the broker accepts client requests.
READY_LOG_LINE='Kafka Server started'

usage() {
    cat <<EOF
Usage: $(basename "$0") start|stop|status|logs [tail options]

Run a single-node Apache Kafka broker in KRaft mode on 127.0.0.1 for local development.

Subcommands:
  start    Fetch the Kafka jars (first run only), format the data directory (first run
           only) and start the broker in the background. Waits until the broker accepts
           connections. Does nothing if the broker is already running.
  stop     Send SIGTERM, wait up to ${STOP_TIMEOUT_S} s, then send SIGKILL. Does nothing if
           the broker is not running.
  status   Print whether the broker is running, its pid, bootstrap address and log file.
           Exit status is 0 if running and 3 if not.
  logs     Follow the broker log. Any further arguments replace the default tail
           options (-n 100 -F).

Environment variables:
  USER_INSIGHTS_KAFKA_PORT             client (PLAINTEXT) port (default 9092)
  USER_INSIGHTS_KAFKA_CONTROLLER_PORT  KRaft controller port (default 9093)
  USER_INSIGHTS_KAFKA_VERSION          Kafka version fetched from Maven Central
                                       (default 4.0.2)
  USER_INSIGHTS_KAFKA_HEAP             maximum JVM heap, passed as -Xmx (default 1g)
  USER_INSIGHTS_KAFKA_START_TIMEOUT_S  seconds start waits for the broker (default 60)
  USER_INSIGHTS_KAFKA_HOME             state directory with server.properties, data/,
                                       broker.log, broker.pid, cluster.id and format.log
                                       (default <repo>/.local/kafka)
  USER_INSIGHTS_KAFKA_CACHE            jar cache directory, outside git
                                       (default \${XDG_CACHE_HOME:-\$HOME/.cache}/user-insights/kafka-<version>)
  MAVEN_OPTS                           passed to Maven, for example
                                       -Dmaven.repo.local=DIR

Current values: port ${PORT}, controller port ${CONTROLLER_PORT}, version ${KAFKA_VERSION},
state directory ${STATE_DIR}, jar cache ${LIBS}.
EOF
}

die() {
    echo "kafka-local: error: $*" >&2
    exit 1
}

info() {
    echo "kafka-local: $*"
}

require_port_number() {
    local name=$1 value=$2
    if ! [[ $value =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
        die "$name=$value is not a valid TCP port. Set it to a number from 1 to 65535."
    fi
}

validate_settings() {
    require_port_number USER_INSIGHTS_KAFKA_PORT "$PORT"
    require_port_number USER_INSIGHTS_KAFKA_CONTROLLER_PORT "$CONTROLLER_PORT"
    if ((PORT == CONTROLLER_PORT)); then
        die "USER_INSIGHTS_KAFKA_PORT and USER_INSIGHTS_KAFKA_CONTROLLER_PORT are both $PORT. Set them to two different ports."
    fi
    if ! [[ $START_TIMEOUT_S =~ ^[0-9]+$ ]] || ((START_TIMEOUT_S < 1)); then
        die "USER_INSIGHTS_KAFKA_START_TIMEOUT_S=$START_TIMEOUT_S is invalid. Set it to a whole number of seconds, at least 1."
    fi
    # The version becomes part of a directory name and a Maven coordinate.
    if ! [[ $KAFKA_VERSION =~ ^[0-9A-Za-z.-]+$ ]]; then
        die "USER_INSIGHTS_KAFKA_VERSION=$KAFKA_VERSION is invalid. Use a Kafka release such as 4.0.2."
    fi
    if ! [[ $HEAP =~ ^[0-9]+[kKmMgG]?$ ]]; then
        die "USER_INSIGHTS_KAFKA_HEAP=$HEAP is invalid. Use a JVM size such as 512m or 1g."
    fi
    # A backslash is an escape character in .properties files and would corrupt log.dirs.
    if [[ $STATE_DIR == *\\* || $STATE_DIR == *$'\n'* ]]; then
        die "USER_INSIGHTS_KAFKA_HOME=$STATE_DIR contains a backslash or newline. Choose a plain path."
    fi
}

require_java() {
    command -v java >/dev/null || die "java not found on PATH. Install a Java 17 or newer runtime (Kafka 4.x brokers require Java 17)."
    local version_line major
    version_line=$(java -version 2>&1 | head -n 1)
    # "1.8.0_392" is Java 8 and "17.0.15" is Java 17.
    major=$(sed -E 's/^[^"]*"(1\.)?([0-9]+).*/\2/' <<<"$version_line")
    if [[ $major =~ ^[0-9]+$ ]] && ((major < 17)); then
        die "java on PATH is version $major ($version_line), but Kafka 4.x brokers require Java 17 or newer. Put a Java 17+ java first on PATH."
    fi
}

# TCP connect to 127.0.0.1:PORT. Loopback connects are refused at once when nothing listens.
port_open() {
    (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Print the pid from the pid file if that process is a broker started from this state
# directory. A pid file can outlive its broker (reboot, kill -9) and the pid can be reused,
# so the command line is checked before the pid is trusted or signalled.
running_pid() {
    [[ -f $PID_FILE ]] || return 1
    local pid args
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    args=$(ps -ww -p "$pid" -o args= 2>/dev/null) || return 1
    [[ $args == *kafka.Kafka* && $args == *"$PROPERTIES"* ]] || return 1
    echo "$pid"
}

remove_stale_pid_file() {
    if [[ -f $PID_FILE ]]; then
        info "removing stale pid file $PID_FILE (pid $(<"$PID_FILE") is not a broker from this state directory)"
        rm -f "$PID_FILE"
    fi
}

# Print the client port the running broker was configured with, which may differ from
# USER_INSIGHTS_KAFKA_PORT if the variable changed after start.
configured_port() {
    local port
    port=$(sed -n -E 's|^advertised\.listeners=PLAINTEXT://127\.0\.0\.1:([0-9]+).*|\1|p' "$PROPERTIES" 2>/dev/null || true)
    echo "${port:-$PORT}"
}

fetch_jars() {
    if [[ -f $LIBS_MARKER && $(<"$LIBS_MARKER") == "$KAFKA_VERSION" && -f $LIBS/kafka_2.13-$KAFKA_VERSION.jar ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found on PATH. Install Maven, which fetches the Kafka $KAFKA_VERSION jars from Maven Central."

    info "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
    mkdir -p "$CACHE_DIR"
    rm -f "$LIBS_MARKER"
    # Copy into a fresh directory and swap it in, so a failed fetch never mixes with old jars.
    local staging=$CACHE_DIR/libs.partial
    local maven_log=$CACHE_DIR/maven.log
    rm -rf "$staging"
    # Maven's output goes to a log file because even with -q it prints terminal escape codes.
    if ! mvn -q -B -f "$POM" \
        -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies \
        -DincludeScope=runtime \
        -DoutputDirectory="$staging" >"$maven_log" 2>&1; then
        rm -rf "$staging"
        tail -n 40 "$maven_log" >&2
        die "Maven failed to fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (output above, full log in $maven_log). Check that the version exists on Maven Central and that Maven Central is reachable."
    fi
    if [[ ! -f $staging/kafka_2.13-$KAFKA_VERSION.jar ]]; then
        rm -rf "$staging"
        die "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing from the copied jars. Check $POM."
    fi
    rm -rf "$LIBS"
    mv "$staging" "$LIBS"
    echo "$KAFKA_VERSION" >"$LIBS_MARKER"
    info "cached $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

render_properties() {
    # Escape the sed replacement metacharacters \, | and & in the path. sed is used rather
    # than ${var//...} because bash 5.2 gives & a special meaning in that replacement.
    local log_dirs
    # shellcheck disable=SC2001
    log_dirs=$(sed -e 's/[\\|&]/\\&/g' <<<"$DATA_DIR")
    sed -e "s|@PORT@|$PORT|g" \
        -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
        -e "s|@LOG_DIRS@|$log_dirs|g" \
        "$TEMPLATE" >"$PROPERTIES.tmp"
    mv "$PROPERTIES.tmp" "$PROPERTIES"
}

# Format the KRaft log directory once. meta.properties is written by the format step, so
# its presence means the data directory already belongs to a cluster and must be kept.
format_storage_once() {
    if [[ -f $DATA_DIR/meta.properties ]]; then
        return 0
    fi
    local cluster_id
    if [[ -s $CLUSTER_ID_FILE ]]; then
        cluster_id=$(<"$CLUSTER_ID_FILE")
    else
        cluster_id=$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
        [[ -n $cluster_id ]] || die "kafka.tools.StorageTool random-uuid printed no cluster id. Run it by hand: java -cp '$LIBS/*' kafka.tools.StorageTool random-uuid"
        echo "$cluster_id" >"$CLUSTER_ID_FILE"
    fi
    info "formatting $DATA_DIR with cluster id $cluster_id"
    mkdir -p "$DATA_DIR"
    # --standalone is not passed because server.properties sets controller.quorum.voters,
    # and StorageTool rejects the two together.
    if ! java -cp "$LIBS/*" kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPERTIES" \
        >"$STATE_DIR/format.log" 2>&1; then
        cat "$STATE_DIR/format.log" >&2
        die "formatting $DATA_DIR failed (output above, also in $STATE_DIR/format.log)."
    fi
}

print_log_tail() {
    if [[ -f $LOG_FILE ]]; then
        echo "--- last 40 lines of $LOG_FILE ---" >&2
        tail -n 40 "$LOG_FILE" >&2
        echo "---" >&2
    fi
}

# Wait until the broker logs its ready line and accepts TCP connections on the client port.
wait_until_ready() {
    local pid=$1 port=$2
    local deadline=$((SECONDS + START_TIMEOUT_S))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            print_log_tail
            rm -f "$PID_FILE"
            if grep -q 'Address already in use' "$LOG_FILE" 2>/dev/null; then
                die "broker process $pid exited during startup because a port was in use. Set USER_INSIGHTS_KAFKA_PORT or USER_INSIGHTS_KAFKA_CONTROLLER_PORT to free ports."
            fi
            die "broker process $pid exited during startup. See the log lines above or $LOG_FILE."
        fi
        if grep -q "$READY_LOG_LINE" "$LOG_FILE" 2>/dev/null && port_open "$port"; then
            return 0
        fi
        sleep 0.5
    done
    print_log_tail
    die "timed out after ${START_TIMEOUT_S} s waiting for the broker (pid $pid) to accept connections on 127.0.0.1:$port. It is still running: follow it with '$0 logs', stop it with '$0 stop', or raise USER_INSIGHTS_KAFKA_START_TIMEOUT_S."
}

# Take an exclusive lock on the state directory, so two concurrent starts cannot both
# launch a broker on the same data directory. Released when this script exits.
lock_state_dir() {
    if command -v flock >/dev/null; then
        exec 9>"$STATE_DIR/.lock"
        flock -n 9 || die "another kafka-local.sh start is using $STATE_DIR. Wait for it to finish."
    fi
}

cmd_start() {
    validate_settings
    require_java
    mkdir -p "$STATE_DIR"
    lock_state_dir

    local pid
    if pid=$(running_pid); then
        local running_port
        running_port=$(configured_port)
        if ! port_open "$running_port"; then
            info "broker (pid $pid) is starting; waiting for it"
            wait_until_ready "$pid" "$running_port"
        fi
        info "already running (pid $pid, bootstrap 127.0.0.1:$running_port)"
        return 0
    fi
    remove_stale_pid_file

    if port_open "$PORT"; then
        die "port $PORT on 127.0.0.1 is already in use by another process. Stop it or set USER_INSIGHTS_KAFKA_PORT to a free port."
    fi
    if port_open "$CONTROLLER_PORT"; then
        die "controller port $CONTROLLER_PORT on 127.0.0.1 is already in use by another process. Stop it or set USER_INSIGHTS_KAFKA_CONTROLLER_PORT to a free port."
    fi

    fetch_jars
    render_properties
    format_storage_once

    # Keep the previous run's log, and start a fresh one so the ready check cannot match
    # a line from an earlier run.
    if [[ -f $LOG_FILE ]]; then
        mv "$LOG_FILE" "$LOG_FILE.1"
    fi
    info "starting Kafka $KAFKA_VERSION on 127.0.0.1:$PORT (controller 127.0.0.1:$CONTROLLER_PORT), log $LOG_FILE"
    # slf4j-simple prints no timestamps by default. 9>&- keeps the broker from inheriting
    # the state directory lock.
    nohup java "-Xmx$HEAP" \
        -Dorg.slf4j.simpleLogger.showDateTime=true \
        "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss.SSS" \
        -cp "$LIBS/*" kafka.Kafka "$PROPERTIES" \
        </dev/null >"$LOG_FILE" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$PID_FILE"

    local started_at=$SECONDS
    wait_until_ready "$pid" "$PORT"
    info "running (pid $pid, bootstrap 127.0.0.1:$PORT), ready after $((SECONDS - started_at)) s"
}

cmd_stop() {
    local pid
    if ! pid=$(running_pid); then
        remove_stale_pid_file
        info "not running (state directory $STATE_DIR)"
        return 0
    fi

    info "stopping broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT_S))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        info "broker (pid $pid) still running after ${STOP_TIMEOUT_S} s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do
            sleep 0.2
        done
    fi
    rm -f "$PID_FILE"
    info "stopped"
}

cmd_status() {
    local pid port
    if pid=$(running_pid); then
        port=$(configured_port)
        if port_open "$port"; then
            info "running (pid $pid, bootstrap 127.0.0.1:$port, log $LOG_FILE)"
        else
            info "starting, not yet accepting connections (pid $pid, bootstrap 127.0.0.1:$port, log $LOG_FILE)"
        fi
        return 0
    fi
    info "not running (state directory $STATE_DIR, log $LOG_FILE)"
    exit 3
}

cmd_logs() {
    [[ -f $LOG_FILE ]] || die "no broker log at $LOG_FILE. Run '$0 start' first."
    if (($# == 0)); then
        set -- -n 100 -F
    fi
    exec tail "$@" "$LOG_FILE"
}

main() {
    local command=${1:-}
    if (($# > 0)); then
        shift
    fi
    case $command in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    -h | --help | help)
        usage
        ;;
    "")
        usage
        exit 2
        ;;
    *)
        usage >&2
        die "unknown subcommand '$command'. Use start, stop, status or logs."
        ;;
    esac
}

main "$@"
