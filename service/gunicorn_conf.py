"""gunicorn settings for `conversa serve`. No preload: each worker opens its own store connections."""

preload_app = False
worker_class = "sync"
timeout = 30
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
# Hide the server version banner.
proc_name = "conversa"
