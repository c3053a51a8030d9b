# gunicorn settings of the S3 test server (moto). One worker process: moto
# keeps buckets and objects in that process's memory. Threads serve
# pgBackRest's parallel requests. TLS: --certfile and --keyfile (PEM) on
# the command line.
wsgi_app = "moto_s3:app"
pythonpath = "/usr/local/lib/moto-s3"
bind = ["0.0.0.0:9000"]
workers = 1
worker_class = "gthread"
threads = 8
timeout = 300
keepalive = 30
accesslog = "-"
errorlog = "-"
# No control socket, no temporary files outside /tmp.
worker_tmp_dir = "/tmp"
