"""What every fault drill shares: its own PostgreSQL cluster, `ledger` processes, a webhook receiver,
HTTP clients that retry commands under one Idempotency-Key, checks against the log, and the verdict line.

Standard library only (plus `standardwebhooks` when a receiver checks signatures). A drill builds nothing:
it runs the binary in LEDGER_BIN (default .build/release/ledger). Everything it starts is stopped on exit,
on a signal and on its hard timeout; DRILL_KEEP=1 keeps its temporary folder for a post-mortem.
"""
import argparse
import atexit
import collections
import ctypes
import http.client
import http.server
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def now():
    return time.monotonic()


def log(message):
    """Progress for the operator goes to stderr; stdout carries only the verdict line."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class DrillTimeout(Exception):
    pass


class Drill:
    """One drill run: arguments, a hard deadline, a temporary folder and the stack of things to stop."""

    def __init__(self, name, description, short_timeout, long_timeout):
        parser = argparse.ArgumentParser(prog=name, description=description)
        form = parser.add_mutually_exclusive_group()
        form.add_argument("--short", action="store_true", help="a few seconds of load (what CI runs)")
        form.add_argument("--long", action="store_true", help="the full drill (the default)")
        self.args = parser.parse_args()
        self.name = name
        self.short = self.args.short
        self.started = now()
        self.timeout = short_timeout if self.short else long_timeout
        self.binary = os.environ.get("LEDGER_BIN") or str(REPO / ".build/release/ledger")
        if not os.access(self.binary, os.X_OK):
            print(f"drill={name} verdict=fail reason=no_binary path={self.binary} (build it: swift build -c release)")
            sys.exit(2)
        self.directory = Path(tempfile.mkdtemp(prefix=f"ledger-drill-{name}-"))
        os.chmod(self.directory, 0o755)
        self._cleanups = []
        self._cleaned = False
        self.verdict_printed = False
        atexit.register(self.cleanup)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, self._on_signal)
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.alarm(int(self.timeout))
        log(f"{name}: {'short' if self.short else 'long'} form, hard timeout {self.timeout}s, folder {self.directory}")

    def _on_signal(self, number, _frame):
        self.verdict(False, reason=f"signal_{signal.Signals(number).name}")

    def _on_alarm(self, _number, _frame):
        raise DrillTimeout(f"hard timeout of {self.timeout}s")

    def on_exit(self, action):
        self._cleanups.append(action)

    def cleanup(self):
        if self._cleaned:
            return
        self._cleaned = True
        signal.alarm(0)
        while self._cleanups:
            action = self._cleanups.pop()
            try:
                action()
            except Exception as error:  # keep stopping the rest
                log(f"cleanup step failed: {error}")
        if os.environ.get("DRILL_KEEP") == "1":
            log(f"kept {self.directory}")
        else:
            subprocess.run(["rm", "-rf", str(self.directory)], check=False)

    def elapsed(self):
        return now() - self.started

    def verdict(self, passed, **figures):
        """Prints the one verdict line and exits (non-zero on fail). Figures keep their order."""
        if self.verdict_printed:
            sys.exit(0 if passed else 1)
        self.verdict_printed = True
        figures.setdefault("seconds", round(self.elapsed(), 1))
        parts = [f"drill={self.name}", f"form={'short' if self.short else 'long'}",
                 f"verdict={'pass' if passed else 'fail'}"]
        for key, value in figures.items():
            if isinstance(value, float):
                value = round(value, 3)
            parts.append(f"{key}={value}")
        print(" ".join(parts), flush=True)
        self.cleanup()
        sys.exit(0 if passed else 1)

    def run(self, body):
        """Runs the drill's body; an exception or the hard timeout is a fail with the reason printed."""
        try:
            body()
        except DrillTimeout as error:
            log(str(error))
            self.verdict(False, reason="hard_timeout")
        except SystemExit:
            raise
        except BaseException as error:
            import traceback
            traceback.print_exc()
            self.verdict(False, reason="drill_error", error=json.dumps(str(error)[:200]))


# PostgreSQL ---------------------------------------------------------------------------------------------

def pg_bin():
    configured = os.environ.get("LEDGER_PG_BIN")
    if configured:
        return Path(configured)
    root = Path("/usr/lib/postgresql")
    versions = sorted((int(p.name) for p in root.iterdir() if p.name.isdigit()), reverse=True) if root.exists() else []
    for version in versions:
        if (root / str(version) / "bin/initdb").exists():
            return root / str(version) / "bin"
    raise RuntimeError("PostgreSQL server programs not found (set LEDGER_PG_BIN)")


class Cluster:
    """A throwaway PostgreSQL cluster in the drill's folder, reached over a Unix socket there (no TCP port).
    As root it belongs to an unprivileged account (postgres, else nobody), like the service's embedded one."""

    def __init__(self, drill, settings=None):
        self.drill = drill
        self.bin = pg_bin()
        self.data = drill.directory / "pg"
        self.socket_dir = drill.directory / "run"
        self.logfile = drill.directory / "postgresql.log"
        self.passfile = drill.directory / "pgpass"
        self.owner = None
        if os.geteuid() == 0:
            import pwd
            for account in (os.environ.get("LEDGER_PG_USER"), "postgres", "nobody"):
                if account:
                    try:
                        pwd.getpwnam(account)
                        self.owner = account
                        break
                    except KeyError:
                        pass
        self.settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "unix_socket_permissions": "0700",
            "port": "5432",
            "max_connections": "300",
            "shared_buffers": "128MB",
            "log_min_messages": "warning",
        }
        self.settings.update(settings or {})

    def _as_owner(self, command):
        return ["/usr/sbin/runuser", "-u", self.owner, "--"] + command if self.owner else command

    def _run(self, command, check=True):
        result = subprocess.run(self._as_owner(command), cwd=str(self.drill.directory), capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stdout}{result.stderr}")
        return result

    def create_and_start(self):
        self.socket_dir.mkdir()
        if self.owner:
            subprocess.run(["chown", self.owner, str(self.drill.directory), str(self.socket_dir)], check=True)
        # Password authentication, as the service's own embedded cluster has it: a generated secret for initdb
        # and a libpq password file (0600) that conninfo() names.
        password = secrets.token_hex(32)
        pwfile = self.drill.directory / "pgpass-initdb"
        pwfile.write_text(password + "\n")
        self.passfile.write_text(f"*:*:*:ledger:{password}\n")
        for path in (pwfile, self.passfile):
            os.chmod(path, 0o600)
        if self.owner:
            subprocess.run(["chown", self.owner, str(pwfile)], check=True)
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "ledger", "--auth=scram-sha-256",
                   f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-instructions"])
        pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# written by the drill\n")
            for key, value in self.settings.items():
                conf.write(f"{key} = {value}\n")
        self.drill.on_exit(self.stop_immediately)
        self.start()
        self.psql("CREATE DATABASE ledger", database="postgres")

    def start(self):
        self._run([str(self.bin / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.logfile)])

    def stop(self, mode="fast"):
        self._run([str(self.bin / "pg_ctl"), "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data)])

    def stop_immediately(self):
        if self._run([str(self.bin / "pg_ctl"), "status", "-D", str(self.data)], check=False).returncode == 0:
            self._run([str(self.bin / "pg_ctl"), "stop", "-w", "-t", "30", "-m", "immediate", "-D", str(self.data)],
                      check=False)

    def conninfo(self, database="ledger"):
        return f"host={self.socket_dir} port=5432 user=ledger dbname={database} passfile={self.passfile}"

    def psql(self, sql, database="ledger"):
        """Runs SQL; returns rows as lists of text fields (NULL comes back as an empty string)."""
        result = subprocess.run([str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                                 "-d", self.conninfo(database), "-c", sql], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return [line.split("\x1f") for line in result.stdout.splitlines() if line != ""]


# The service ----------------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: a ledger child never outlives a killed drill


class Ledger:
    """One `ledger` process (serve or dispatch) on the drill's database."""

    def __init__(self, drill, cluster, name, command="serve", environment=None, port=None):
        self.drill, self.cluster, self.name, self.command = drill, cluster, name, command
        self.port = port or (free_port() if command == "serve" else None)
        self.environment = dict(os.environ)
        self.environment.update(base_environment(drill, cluster))
        if self.port:
            self.environment["LEDGER_LISTEN"] = f"127.0.0.1:{self.port}"
        self.environment.update(environment or {})
        self.logfile = drill.directory / f"{name}.log"
        self.process = None
        self.starts = 0
        drill.on_exit(self.stop_quietly)

    def start(self, wait=True):
        self.starts += 1
        with open(self.logfile, "ab") as output:
            output.write(f"--- start {self.starts} ---\n".encode())
            output.flush()
            self.process = subprocess.Popen([self.drill.binary, self.command], env=self.environment, cwd=str(REPO),
                                            stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                            preexec_fn=_die_with_parent)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, seconds=60):
        deadline = now() + seconds
        while now() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode} while starting; log: {self.tail()}")
            if self.command != "serve":
                if b"dispatching webhooks" in self.logfile.read_bytes().split(f"--- start {self.starts} ---".encode())[-1]:
                    return
            else:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                    connection.request("GET", "/readyz")
                    if connection.getresponse().status == 200:
                        connection.close()
                        return
                    connection.close()
                except OSError:
                    pass
            time.sleep(0.05)  # polling for readiness with a deadline
        raise RuntimeError(f"{self.name} was not ready within {seconds}s; log: {self.tail()}")

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def kill9(self):
        self.process.kill()
        self.process.wait()

    def terminate(self, seconds=30):
        """SIGTERM, then waits; returns (exit status, seconds it took) — SIGKILL if it outlives the wait."""
        started = now()
        self.process.terminate()
        try:
            status = self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
            log(f"{self.name} ignored SIGTERM for {seconds}s; killed")
        return status, now() - started

    def stop_quietly(self):
        if self.alive():
            self.terminate(seconds=15)

    def tail(self, lines=15):
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_count(self, text):
        try:
            return self.logfile.read_text(errors="replace").count(text)
        except OSError:
            return 0


def schema_directory(binary):
    """The migrations of the binary's own checkout (…/.build/release/ledger → …/Schema), else this one's."""
    if os.environ.get("LEDGER_SCHEMA_DIR"):
        return os.environ["LEDGER_SCHEMA_DIR"]
    beside = Path(binary).resolve().parents[2] / "Schema"
    return str(beside if beside.is_dir() else REPO / "Schema")


def base_environment(drill, cluster):
    return {
        "DATABASE_URL": cluster.conninfo(),
        "LEDGER_SCHEMA_DIR": schema_directory(drill.binary),
        "LEDGER_RATE_LIMIT": "0",
        "LEDGER_LOG_REQUESTS": "0",
        "LEDGER_WEBHOOK_ALLOW_PRIVATE": "1",
        # The drills' key-encryption key: one for every instance on the drill's cluster.
        "LEDGER_KEK": "dEvhUEy3SHsjZx3UsfUvTxEjes9Pf+psWE0k0dwZcqE=",
    }


def ledger_command(drill, cluster, *arguments):
    environment = dict(os.environ)
    environment.update(base_environment(drill, cluster))
    result = subprocess.run([drill.binary, *arguments], env=environment, cwd=str(REPO), capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"ledger {' '.join(arguments)} failed: {result.stderr.strip()[-500:]}")
    return result.stdout.strip()


def prepare_database(drill, settings=None):
    """A started cluster, migrated, with an organization and a key with every scope."""
    cluster = Cluster(drill, settings)
    cluster.create_and_start()
    ledger_command(drill, cluster, "migrate")
    organization = ledger_command(drill, cluster, "orgs", "create", "drill").splitlines()[-1]
    key = ledger_command(drill, cluster, "keys", "create", "--org", organization, "--scopes", "read,write,admin")
    return cluster, organization, key.splitlines()[-1]


# HTTP clients -----------------------------------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def header(self, name):
        return self.headers.get(name.lower())

    def error_code(self):
        document = self.json()
        if isinstance(document, dict) and isinstance(document.get("error"), dict):
            return document["error"].get("code")
        return None


class Client:
    """A keep-alive HTTP/1.1 client for one thread, reconnecting after any connection error."""

    def __init__(self, port, key, timeout=15):
        self.port, self.key, self.timeout = port, key, timeout
        self.connection = None

    def request(self, method, path, body=None, headers=None):
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        all_headers = {"Authorization": f"Bearer {self.key}"}
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        try:
            self.connection.request(method, path, body=payload, headers=all_headers)
            answer = self.connection.getresponse()
            data = answer.read()
            result = Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
            if answer.will_close:
                self.close()
            return result
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class Tally:
    """Thread-safe counters of what the clients saw."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.events = []  # (monotonic time, label) for drills that need a timeline

    def add(self, label, amount=1, timeline=False):
        with self.lock:
            self.counts[label] = self.counts.get(label, 0) + amount
            if timeline:
                self.events.append((now(), label))

    def get(self, label):
        with self.lock:
            return self.counts.get(label, 0)


class Acknowledged:
    """Commands the service acknowledged (a 2xx), by Idempotency-Key: what the log must then hold."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_key = {}  # idempotency key -> verification id

    def add(self, key, verification):
        with self.lock:
            self.by_key[key] = verification

    def count(self):
        with self.lock:
            return len(self.by_key)

    def items(self):
        with self.lock:
            return dict(self.by_key)


def send_command(client, method, path, body, tally, deadline, key=None, on_status=None):
    """Sends a command under one Idempotency-Key until the service gives a definite answer (2xx or a 4xx
    other than 409 idempotency_key_in_use / 429) or the deadline passes (then None). Connection errors,
    503 and 500 are retried under the same key, as a client that must not apply a command twice does."""
    key = key or f"drill-{uuid.uuid4()}"
    while now() < deadline:
        try:
            response = client.request(method, path, body, {"Idempotency-Key": key})
        except (OSError, http.client.HTTPException):
            tally.add("connection_error", timeline=True)
            time.sleep(0.05 + random.random() * 0.05)  # the service is away; a client backs off before retrying
            continue
        status = response.status
        if on_status:
            on_status(response)
        if 200 <= status < 300:
            tally.add("2xx", timeline=True)
            if response.header("Idempotent-Replayed") == "true":
                tally.add("replayed")
                if response.header("ETag") is None:
                    tally.add("replayed_without_etag")  # the client retrying after a crash loses the version
            return key, response
        if status == 503:
            tally.add("503", timeline=True)
            if response.header("Retry-After") is None:
                tally.add("503_without_retry_after")
            time.sleep(min(1.0, float(response.header("Retry-After") or 0.2)) * (0.5 + random.random() * 0.5))
            continue
        if status >= 500:
            tally.add(f"{status}", timeline=True)
            time.sleep(0.1)
            continue
        if status == 429 or (status == 409 and response.error_code() == "idempotency_key_in_use"):
            tally.add(f"{status}_{response.error_code()}")
            time.sleep(0.05)
            continue
        tally.add(f"{status}_{response.error_code()}", timeline=True)
        return key, response
    tally.add("unresolved_at_deadline")
    return key, None


LIFECYCLE_STEPS = 5


def lifecycle(client, tally, acknowledged, deadline, postback_url=None, entity="drill"):
    """One verification through create, attempt, two progress steps and an approved result, each command
    retried under its own Idempotency-Key. Returns the verification id (or None if creation never succeeded)."""
    invite = {"entity_id": entity, "checks": ["identity_verification"], "metadata": {"source": "drill"}}
    if postback_url:
        invite["postback_url"] = postback_url
    key, response = send_command(client, "POST", "/v1/verifications", invite, tally, deadline)
    if response is None or response.status != 201:
        return None
    verification = response.json()["id"]
    acknowledged.add(key, verification)
    key, response = send_command(client, "POST", f"/v1/verifications/{verification}/attempts", {}, tally, deadline)
    if response is None or response.status != 201:
        return verification
    acknowledged.add(key, verification)
    attempt = response.json()["id"]
    for step in ("capture_in_progress", "completed"):
        key, response = send_command(client, "POST", f"/v1/verifications/{verification}/attempts/{attempt}/progress",
                                     {"status": step}, tally, deadline)
        if response is None or response.status != 200:
            return verification
        acknowledged.add(key, verification)
    key, response = send_command(client, "POST", f"/v1/verifications/{verification}/results",
                                 {"check": "identity_verification", "status": "approved", "response_codes": [10000]},
                                 tally, deadline)
    if response is not None and response.status == 200:
        acknowledged.add(key, verification)
    return verification


def replay_probe(client, tally):
    """Sends a create and an attempt twice each under one key: the repeat must be a replay
    (Idempotent-Replayed: true) with the first answer's status, body and ETag. Returns the problems seen."""
    problems = []
    deadline = now() + 30
    invite = {"entity_id": "replay-probe", "checks": ["identity_verification"]}
    created_key, created = send_command(client, "POST", "/v1/verifications", invite, tally, deadline)
    if created is None or created.status != 201:
        return ["replay probe: could not create a verification"]
    verification = created.json()["id"]
    attempts = f"/v1/verifications/{verification}/attempts"
    attempt_key, attempt = send_command(client, "POST", attempts, {}, tally, deadline)
    for key, path, body, first in ((created_key, "/v1/verifications", invite, created),
                                   (attempt_key, attempts, {}, attempt)):
        if first is None or not 200 <= first.status < 300:
            problems.append(f"replay probe: {path} was not accepted the first time")
            continue
        _key, again = send_command(client, "POST", path, body, tally, deadline, key=key)
        if again is None or again.header("Idempotent-Replayed") != "true":
            problems.append(f"replay probe: {path} repeated was not a replay")
        elif again.status != first.status or again.body != first.body:
            problems.append(f"replay probe: {path} replayed another answer")
        elif again.header("ETag") != first.header("ETag"):
            problems.append(f"replay probe: {path} replayed ETag {again.header('ETag')}, first {first.header('ETag')}")
    return problems


def run_clients(count, body):
    """Starts `count` threads running body(index); returns them (join them yourself)."""
    threads = [threading.Thread(target=body, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    return threads


def join_all(threads, deadline):
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - now()))
    return sum(1 for thread in threads if thread.is_alive())


# Checks against the database --------------------------------------------------------------------------------

def check_log_and_views(cluster, acknowledged):
    """For each acknowledged command: an event carrying its Idempotency-Key in the log, and a read model
    (ledger.verifications) at least at that event's version and equal to the stream's head.
    Returns (missing_in_log, missing_in_views, views_behind_log)."""
    events = {}
    for stream, key, version in cluster.psql(
            "SELECT stream_id, metadata->>'idempotency_key', max(version) FROM ledger.events "
            "WHERE metadata ? 'idempotency_key' GROUP BY 1, 2"):
        events[key] = (stream, int(version))
    views = {row[0]: int(row[1]) for row in cluster.psql("SELECT id, version FROM ledger.verifications")}
    streams = {row[0]: int(row[1]) for row in cluster.psql("SELECT stream_id, version FROM ledger.streams")}
    missing_in_log = missing_in_views = 0
    for key, verification in acknowledged.items().items():
        found = events.get(key)
        if found is None or found[0] != verification:
            missing_in_log += 1
            continue
        if views.get(verification, 0) < found[1]:
            missing_in_views += 1
    behind = sum(1 for stream, version in streams.items() if stream in views and views[stream] != version)
    return missing_in_log, missing_in_views, behind


def outbox_messages(cluster, endpoint=None):
    """message_id -> (outbox id, verification id, destination, status) for an endpoint's messages (or all)."""
    if endpoint and not re.fullmatch(r"[A-Za-z0-9_]+", endpoint):
        raise ValueError(f"not an endpoint id: {endpoint!r}")
    where = f"WHERE endpoint_id = '{endpoint}'" if endpoint else ""
    rows = cluster.psql(f"SELECT message_id, id, verification_id, coalesce(endpoint_id, 'postback:' || url), status "
                        f"FROM ledger.outbox {where}")
    return {row[0]: (int(row[1]), row[2], row[3], row[4]) for row in rows}


# The webhook receiver ---------------------------------------------------------------------------------------

class Receiver:
    """A loopback HTTP receiver recording every webhook it gets: (time, webhook-id, path, status answered).
    `status_for()` decides the answer (200 by default); `delay` (seconds, or a function) slows answers.
    The last `keep_requests` requests are kept as sent (signed headers and body) for a same-run reference."""

    SIGNED_HEADERS = ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature")

    def __init__(self, drill, secret_check=False, keep_requests=1_000):
        self.lock = threading.Lock()
        self.records = []
        self.requests = collections.deque(maxlen=keep_requests)
        self.status_for = lambda: 200
        self.delay = 0.0
        self.secrets = []
        self.bad_signatures = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                delay = receiver.delay() if callable(receiver.delay) else receiver.delay
                if delay:
                    time.sleep(delay)  # a slow receiver, on purpose
                status = receiver.status_for()
                webhook_id = self.headers.get("webhook-id")
                if secret_check and receiver.secrets and status == 200 and not receiver._verify(self.headers, body):
                    with receiver.lock:
                        receiver.bad_signatures += 1
                signed = {name: value for name, value in self.headers.items() if name.lower() in Receiver.SIGNED_HEADERS}
                with receiver.lock:
                    receiver.records.append((now(), webhook_id, self.path, status))
                    receiver.requests.append((self.path, signed, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512

            def handle_error(self, request, client_address):
                if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    super().handle_error(request, client_address)  # a dispatcher killed mid-request is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()
        drill.on_exit(self.stop)

    def _verify(self, headers, body):
        from standardwebhooks.webhooks import Webhook
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, {k: v for k, v in headers.items()})
                return True
            except Exception:
                continue
        return False

    def url(self, path="/hooks"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def delivered_ids(self):
        """webhook-ids answered with a 2xx at least once."""
        return {record[1] for record in self.snapshot() if 200 <= record[3] < 300}

    def duplicates(self):
        """Extra 2xx receipts of a webhook-id already answered 2xx."""
        seen, extra = set(), 0
        for record in self.snapshot():
            if 200 <= record[3] < 300:
                if record[1] in seen:
                    extra += 1
                seen.add(record[1])
        return extra


def lua_string(data):
    """A Lua string literal of `data` (bytes): every byte outside printable ASCII, and quote and backslash, as a
    decimal escape."""
    return '"' + "".join(chr(byte) if 0x20 <= byte < 0x7f and byte not in b'"\\' else f"\\{byte:03d}"
                         for byte in data) + '"'


def reference_rate(drill, receiver, connections, seconds):
    """The same-run reference for a drain rate: wrk POSTing the requests the receiver kept (signed headers and
    body as the dispatcher sent them), round and round, to the same receiver over `connections` keep-alive
    connections for `seconds`. Returns requests/s answered; the receiver records these too, so read its
    figures first."""
    kept = list(receiver.requests)
    if not kept:
        raise RuntimeError("the receiver kept no request to measure the reference with")
    messages = ",\n".join(
        "{ path = %s, headers = { %s }, body = %s }" % (
            lua_string(path.encode()),
            ", ".join(f"[{lua_string(name.encode())}] = {lua_string(value.encode())}" for name, value in headers.items()),
            lua_string(body))
        for path, headers, body in kept)
    script = Path(drill.directory) / "reference.lua"
    script.write_text("local messages = {\n" + messages + "\n}\n" + """
local next_message = 0
request = function()
  next_message = next_message % #messages + 1
  local message = messages[next_message]
  return wrk.format("POST", message.path, message.headers, message.body)
end
done = function(summary, latency, requests)
  io.write(string.format('{"seconds":%.3f,"requests":%d,"non_2xx":%d}\\n', summary.duration / 1e6,
    summary.requests, summary.errors.status))
end
""")
    try:
        outcome = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
                                  receiver.url("/")], capture_output=True, text=True, timeout=seconds + 20)
    except FileNotFoundError:
        raise RuntimeError("wrk is needed for the reference (scripts/install-dependencies installs it)")
    lines = [line for line in outcome.stdout.splitlines() if line.startswith('{"seconds"')]
    if outcome.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed: {outcome.stdout[-500:]} {outcome.stderr[-500:]}")
    figures = json.loads(lines[-1])
    if figures["non_2xx"]:
        raise RuntimeError(f"the receiver refused {figures['non_2xx']} of the reference's requests")
    return figures["requests"] / figures["seconds"] if figures["seconds"] > 0 else 0.0


def create_endpoint(client, url, events=("*",)):
    response = client.request("POST", "/v1/webhook_endpoints", {"url": url, "events": list(events)})
    if response.status != 201:
        raise RuntimeError(f"could not create the webhook endpoint: {response.status} {response.body[:300]!r}")
    document = response.json()
    return document["id"], document.get("secret")


def wait_for_delivery(cluster, receiver, deadline, endpoint=None, settle=1.0):
    """Waits until every outbox message (of the endpoint, or all) was answered 2xx by the receiver and no new
    message appeared for `settle` seconds. Returns (expected ids, undelivered ids, seconds waited)."""
    started = now()
    last_count, stable_since = -1, now()
    expected = {}
    while now() < deadline:
        expected = outbox_messages(cluster, endpoint)
        missing = set(expected) - receiver.delivered_ids()
        if len(expected) != last_count:
            last_count, stable_since = len(expected), now()
        if not missing and now() - stable_since >= settle:
            return expected, missing, now() - started
        time.sleep(0.25)  # polling the receiver's record and the outbox with a deadline
    expected = outbox_messages(cluster, endpoint)
    return expected, set(expected) - receiver.delivered_ids(), now() - started


def order_violations(receiver, expected):
    """Per destination and verification, the first 2xx receipt of each message must come in outbox order."""
    first = {}
    for when, webhook_id, _path, status in receiver.snapshot():
        if 200 <= status < 300 and webhook_id in expected and webhook_id not in first:
            first[webhook_id] = when
    last_seen = {}
    violations = 0
    for webhook_id, _when in sorted(first.items(), key=lambda item: item[1]):
        outbox_id, verification, destination, _status = expected[webhook_id]
        group = (verification, destination)
        if group in last_seen and outbox_id < last_seen[group]:
            violations += 1
        last_seen[group] = max(outbox_id, last_seen.get(group, 0))
    return violations
