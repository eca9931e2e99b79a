"""gunicorn settings for `conversa serve`. No preload: each worker opens its own store connections."""

import subprocess
import sys

from service.settings import Settings

preload_app = False
worker_class = "sync"
timeout = 30
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
proc_name = "conversa"


def when_ready(server):  # type: ignore[no-untyped-def]
    """Embedded set-up: the projector and the webhook delivery worker run beside the web workers,
    started and stopped with them."""
    settings = Settings.from_env()
    server.conversa_helpers = []
    if settings.embedded_projector:
        server.conversa_helpers.append(subprocess.Popen([sys.executable, "-m", "service.cli", "project"]))
    if settings.embedded_delivery:
        server.conversa_helpers.append(subprocess.Popen([sys.executable, "-m", "service.cli", "deliver"]))


def on_exit(server):  # type: ignore[no-untyped-def]
    helpers = getattr(server, "conversa_helpers", [])
    for helper in helpers:
        helper.terminate()
    for helper in helpers:
        helper.wait(timeout=15)
