"""moto's server as a WSGI application, for gunicorn (see install.sh).

moto_server runs the same application in werkzeug's development server,
which answers every request with "Connection: close"; pgBackRest's PUT
requests to it failed over TLS. gunicorn keeps connections alive, as S3 does.
"""

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
