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
    """Embedded set-up: the projector runs beside the web workers, started and stopped with them."""
    if Settings.from_env().embedded_projector:
        server.conversa_projector = subprocess.Popen([sys.executable, "-m", "service.cli", "project"])


def on_exit(server):  # type: ignore[no-untyped-def]
    projector = getattr(server, "conversa_projector", None)
    if projector is not None:
        projector.terminate()
        projector.wait(timeout=15)
