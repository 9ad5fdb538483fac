"""Measure a faust agent that only decodes records, the framework's ceiling for the pipeline.

Run as a subprocess by the throughput benchmark. The app uses the product's faust settings
(`pipeline.worker.create_faust_app`) with its own app id, so it reads the throughput topic
from the start under a new consumer group. Its agent only decodes each value with
`orjson.loads`, as the bare aiokafka baseline does, and faust acks every record itself.
The clock and the CPU time start at the first record and stop at the last one, and the
process writes its result as JSON and exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

EXIT_TIMEOUT = 3


def main() -> None:
    arguments = _parse_arguments()
    app = _build_app(arguments)
    topic = app.topic(arguments.topic, key_serializer="raw", value_serializer="raw")
    progress: dict[str, Any] = {"records": 0, "not_json": 0}

    @app.agent(topic, name="faust-ceiling")
    async def decode_only(stream: Any) -> None:
        # mode-streaming 0.7.1 leaves the root logger at DEBUG, so it is reset as in the worker.
        logging.getLogger().setLevel(logging.WARNING)
        async for value in stream:
            if progress["records"] == 0:
                progress["started_s"] = time.monotonic()
                progress["cpu_started_s"] = time.process_time()
            progress["records"] += 1
            try:
                orjson.loads(value)
            except orjson.JSONDecodeError:
                progress["not_json"] += 1
            if progress["records"] >= arguments.records:
                _write_result_and_exit(arguments.output, progress)

    _exit_on_timeout(app, arguments.timeout_s)
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


def _parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap host:port")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--records", type=int, required=True, help="records to read, then stop")
    parser.add_argument("--app-id", required=True, help="faust app id, also the consumer group")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True, help="JSON result file")
    parser.add_argument(
        "--timeout-s", type=float, default=600.0, help="time limit of the run, in seconds"
    )
    return parser.parse_args()


def _build_app(arguments: argparse.Namespace) -> Any:
    from pipeline.settings import Settings
    from pipeline.worker import create_faust_app

    arguments.data_dir.joinpath("faust").mkdir(parents=True, exist_ok=True)
    settings = Settings(
        kafka_bootstrap_servers=arguments.bootstrap,
        app_id=arguments.app_id,
        topic_partitions=arguments.partitions,
        data_dir=arguments.data_dir,
        table_store="memory://",
    )
    return create_faust_app(settings)


def _write_result_and_exit(output: Path, progress: dict[str, Any]) -> None:
    elapsed_s = time.monotonic() - progress["started_s"]
    cpu_s = time.process_time() - progress["cpu_started_s"]
    result = {
        "records": progress["records"],
        "not_json": progress["not_json"],
        "elapsed_s": elapsed_s,
        "records_per_s": progress["records"] / elapsed_s,
        "cpu_s": cpu_s,
        "records_per_cpu_s": progress["records"] / cpu_s if cpu_s else None,
    }
    output.write_bytes(orjson.dumps(result))
    # The consumer group belongs to this run only, so skipping a clean shutdown is harmless.
    os._exit(0)


def _exit_on_timeout(app: Any, timeout_s: float) -> None:
    @app.timer(timeout_s, name="faust-ceiling-timeout")
    async def give_up() -> None:
        message = f"faust ceiling: timed out after {timeout_s:.0f} s before the last record"
        print(message, file=sys.stderr, flush=True)
        os._exit(EXIT_TIMEOUT)


if __name__ == "__main__":
    main()
