"""Apache Kafka for the local stack: jars from Maven Central, KRaft config, storage, command."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from streams.stack.proc import LOOPBACK, StackError, file_lock, tail

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
SLF4J_VERSION = "2.0.16"
MIN_JAVA = 17
INDEX_BYTES = 256 * 1024  # log.index.size.max.bytes (see write_config)

_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.arbiter</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>{LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>{SLF4J_VERSION}</version></dependency>
  </dependencies>
</project>
"""

# Rolling, so a stack left up for weeks does not fill the disk.
_LOG4J2 = """status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {log}
appender.file.filePattern = {log}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def cache_dir() -> Path:
    override = os.environ.get("ARBITER_STACK_CACHE")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "mot-arbiter" / f"kafka-{KAFKA_VERSION}"


def java_binary() -> str:
    """JAVA_HOME's java if set, else the one on PATH; Kafka 4 needs Java 17 or later."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home, "bin", "java") if home else None
    java = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
    if not java:
        raise StackError("java not found; install a Java 17+ runtime "
                         "(apt-get install default-jre-headless)", code=2)
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(match.group(1)) if match else 0
    major = int(match.group(2)) if match and major == 1 and match.group(2) else major
    if major < MIN_JAVA:
        raise StackError(f"{java} is Java {major or '?'}; Kafka {KAFKA_VERSION} needs Java "
                         f"{MIN_JAVA}+ (apt-get install openjdk-17-jre-headless)", code=2)
    return java


def jars_cached() -> bool:
    return (cache_dir() / ".complete").exists()


def ensure_jars() -> Path:
    """The Kafka runtime jars, fetched with Maven the first time and reused afterwards."""
    cache = cache_dir()
    lib = cache / "lib"
    if jars_cached():
        return lib
    with file_lock(cache / ".lock"):
        if jars_cached():  # another process fetched them while we waited
            return lib
        mvn = shutil.which("mvn")
        if not mvn:
            raise StackError("mvn not found; install Maven to fetch Apache Kafka "
                             "(apt-get install maven)", code=2)
        _fetch(mvn, cache, lib)
        (cache / ".complete").write_text(KAFKA_VERSION + "\n")
    return lib


def _fetch(mvn: str, cache: Path, lib: Path) -> None:
    print(f"arbiter stack: fetching Apache Kafka {KAFKA_VERSION} from Maven Central "
          f"into {cache} (once)", file=sys.stderr)
    shutil.rmtree(lib, ignore_errors=True)
    (cache / "pom.xml").write_text(_POM)
    log = cache / "maven.log"
    with log.open("w") as out:
        done = subprocess.run(
            [mvn, "-q", "-B", "-f", str(cache / "pom.xml"), "dependency:copy-dependencies",
             f"-DoutputDirectory={lib}", "-DincludeScope=runtime"],
            stdout=out, stderr=subprocess.STDOUT, cwd=cache,
        )
    if done.returncode != 0 or not any(lib.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
        for line in tail(log):
            print(line, file=sys.stderr)
        raise StackError(f"Maven could not fetch Apache Kafka {KAFKA_VERSION} (see {log})")


def cluster_id() -> str:
    """A random KRaft cluster id in Kafka's own form (URL-safe base64, not starting with '-')."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def write_config(home: Path, port: int, controller_port: int) -> Path:
    """server.properties and log4j2 config for one combined broker+controller on loopback."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{LOOPBACK}:{controller_port}",
        "listeners": f"PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(home / "data"),
        "num.partitions": "8",
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # A development broker: keep a day of data in small segments so old ones are dropped.
        "log.retention.hours": "24",
        "log.segment.bytes": str(64 * 1024 * 1024),
        # Each segment's offset and time index is a sparse file of this size, mmap'd. The first
        # read of a fresh one faults in a whole readahead window (8 MiB here) of zeroed pages:
        # 16 MiB of memset per new partition with the 10 MiB default, a core busy for a second
        # when a bench's fresh topics first take load (docs/performance.md). 256 KiB still holds
        # a full 64 MiB segment's entries: one per 4 KiB of log, 16,384 of 8 and 12 bytes.
        "log.index.size.max.bytes": str(INDEX_BYTES),
    }
    config = home / "server.properties"
    config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    (home / "log4j2.properties").write_text(_LOG4J2.format(log=home / "server.log"))
    return config


def port_of(config: Path) -> int | None:
    """The client (PLAINTEXT) port as written in server.properties."""
    try:
        text = config.read_text()
    except OSError:
        return None
    match = re.search(r"^listeners=PLAINTEXT://[^:,]+:(\d+)", text, re.M)
    return int(match.group(1)) if match else None


def format_storage(java: str, lib: Path, config: Path) -> None:
    """Formats the KRaft log dir once; a formatted dir keeps its cluster id and topics."""
    if (config.parent / "data" / "meta.properties").exists():
        return
    done = subprocess.run(
        [java, "-Xmx256m", "-cp", f"{lib}/*", "kafka.tools.StorageTool", "format",
         "-t", cluster_id(), "-c", str(config), "--ignore-formatted"],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        for line in (done.stdout + done.stderr).splitlines()[-30:]:
            print(line, file=sys.stderr)
        raise StackError("formatting Kafka storage failed")


def command(java: str, lib: Path, config: Path) -> list[str]:
    home = config.parent
    return [
        # The serial collector: a one-node broker with a heap of at most 1 GiB on a small
        # machine has no use for G1's concurrent threads and write barriers. On 2 cores,
        # alternating fresh stacks, it took the broker 15-18 µs per event in the bench's
        # throughput run against G1's 26-51, and 121-136 µs at 5,000/s against 136-153
        # (docs/performance.md). A production broker's collector is its operator's choice.
        # The whole heap from the start: grown from 256 MiB, the broker's first promotion
        # failure, seconds into a bench's latency phase, was a full collection (63 ms, a 74 ms
        # safepoint) that stalled every request (docs/performance.md).
        java, "-Xms1g", "-Xmx1g", "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={home}",
        "-cp", f"{lib}/*", "kafka.Kafka", str(config),
    ]
