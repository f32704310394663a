"""`paperfeed serve`: the web app and the JSON API, optionally with the daily jobs."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from paperfeed.cli.common import State, fail
from paperfeed.cli.jobs import configured_jobs
from paperfeed.config import Config
from paperfeed.errors import PaperfeedError
from paperfeed.library import Library
from paperfeed.schedule import Scheduler

app = typer.Typer()

@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    schedule: Annotated[
        bool, typer.Option("--schedule", help="Also run the daily jobs (harvests, email digests).")
    ] = False,
) -> None:
    """Serve the web app and the JSON API."""
    import uvicorn

    from paperfeed.web.app import UVICORN_OPTIONS, create_app, settled, start_background

    try:
        config = ctx.ensure_object(State).config()
        _say_if_no_admin(config)
        if schedule:  # one scheduler thread in this (parent) process, whatever the worker count
            Scheduler(configured_jobs(config)).start()
    except PaperfeedError as exc:
        raise fail(str(exc)) from None
    if workers == 1:
        uvicorn.run(
            settled(start_background(create_app(config))), host=host, port=port, log_level="info",
            **UVICORN_OPTIONS,
        )
        return
    # Worker processes build their app from the environment: give them this whole configuration
    # (flags included), every setting rendered back as its variable.
    os.environ.update(config.to_env())
    uvicorn.run(
        "paperfeed.web.app:app_from_env", factory=True, host=host, port=port, workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS, **UVICORN_OPTIONS,
    )


# uvicorn's supervisor kills and restarts a worker that does not answer its health ping within
# this time (uvicorn's default: 5 s). A worker loading a large vector index, or one on a machine
# busy with an import, can hold the interpreter that long; a restarted worker starts cold (its
# index and search cache reloaded), so on a busy machine the default turns into a restart loop.
WORKER_HEALTHCHECK_SECONDS = 120


def _say_if_no_admin(config: Config) -> None:
    """Web sign-ups are never admins: tell the operator how to make the first one."""
    with Library(config) as lib:
        if not lib.accounts.has_admin():
            typer.echo(
                "No admin yet: make one with `paperfeed users add EMAIL --admin` "
                "(or `users set-admin EMAIL`).",
                err=True,
            )
