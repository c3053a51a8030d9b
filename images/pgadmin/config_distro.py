# pgAdmin 4 settings of this image, read by pgAdmin's config.py from its
# package directory. Anything here can be overridden by the operator or a
# user in /etc/pgadmin/config_system.py.

# Nothing in a cluster may call out to pgadmin.org.
UPGRADE_CHECK_ENABLED = False

# Log to the console (stderr, so `kubectl logs` shows it), not to a file that
# a read-only root file system could not take.
LOG_FILE = '/dev/null'

# Debian's CA bundle, not one inside the virtual environment.
CA_FILE = '/etc/ssl/certs/ca-certificates.crt'

# pg_dump, pg_restore and psql for the Backup, Restore and PSQL tools.
DEFAULT_BINARY_PATHS = {
    'pg': '/usr/lib/postgresql/17/bin',
    'pg-17': '/usr/lib/postgresql/17/bin',
}
