#!/usr/bin/env bash
# A second PostgreSQL cluster for the TLS and database-credential tests
# (crates/lamlog/tests/postgres_tls.rs, postgres_secret.rs): ssl=on with a
# server certificate made here by a CA made here, password authentication
# (scram-sha-256) and TLS-only (`hostssl`) connections, on localhost.
#
# It writes into $LAMLOG_TLS_TEST_DIR (default /tmp/lamlog-tls), where the
# tests read them:
#   ca.pem         the CA that signed the server's certificate
#   other-ca.pem   a CA that signed nothing the server holds
#   server.pem     the server's certificate: DNS name `localhost` only, so
#                  that connecting to 127.0.0.1 is a wrong host name
#   port           the cluster's port ($LAMLOG_TLS_TEST_PORT, default 5433)
#   password       the password of `lamlog_tls`, the cluster's superuser role
#                  (a throwaway for a loopback-only test cluster)
#
# Safe to run again: what exists is kept (certificates, cluster, role,
# database), the configuration is rewritten and reloaded, and a stopped
# cluster is started. Runs as root (pg_createcluster, files owned by
# postgres); needs the PostgreSQL server packages and openssl. `.ci/run`
# calls it before the tests.
set -euo pipefail

dir="${LAMLOG_TLS_TEST_DIR:-/tmp/lamlog-tls}"
port="${LAMLOG_TLS_TEST_PORT:-5433}"
version="$(ls /etc/postgresql | sort -V | tail -n 1)"
cluster=tls
conf="/etc/postgresql/$version/$cluster"

# An EC P-256 CA, self-signed, valid for ten years.
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=lamlog test $1" -keyout "$dir/$1.key" -out "$dir/$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

mkdir -p "$dir"
if [ ! -s "$dir/ca.pem" ] || [ ! -s "$dir/other-ca.pem" ] || [ ! -s "$dir/server.pem" ]; then
  make_ca ca
  make_ca other-ca
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=DNS:localhost" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 3650 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
  rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
fi
chmod 0600 "$dir"/*.key
if [ ! -s "$dir/password" ]; then
  openssl rand -hex 16 >"$dir/password"
fi
echo "$port" >"$dir/port"
chmod 0644 "$dir/password" "$dir/port" "$dir"/*.pem

if [ ! -d "$conf" ]; then
  pg_createcluster "$version" "$cluster" -p "$port" -- \
    --auth-local=peer --auth-host=scram-sha-256 >/dev/null
fi
install -o postgres -g postgres -m 0644 "$dir/server.pem" "$conf/server.pem"
install -o postgres -g postgres -m 0600 "$dir/server.key" "$conf/server.key"
pg_conftool "$version" "$cluster" set port "$port"
pg_conftool "$version" "$cluster" set listen_addresses localhost
pg_conftool "$version" "$cluster" set ssl on
pg_conftool "$version" "$cluster" set ssl_cert_file "$conf/server.pem"
pg_conftool "$version" "$cluster" set ssl_key_file "$conf/server.key"
pg_conftool "$version" "$cluster" set password_encryption scram-sha-256
# TLS only, passwords only (the superuser `postgres` keeps its local socket).
cat >"$conf/pg_hba.conf" <<'HBA'
local   all  postgres                 peer
hostssl all  all       127.0.0.1/32   scram-sha-256
hostssl all  all       ::1/128        scram-sha-256
HBA
chown postgres:postgres "$conf/pg_hba.conf"

if pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" status >/dev/null 2>&1; then
  # A port change needs a restart; everything else here is reloadable.
  if pg_isready -q -h 127.0.0.1 -p "$port"; then
    pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" reload
  else
    pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" restart
  fi
else
  pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p "$port"

(cd / && runuser -u postgres -- psql -p "$port" -X -q -v ON_ERROR_STOP=1 \
  -v password="$(cat "$dir/password")" postgres) <<'SQL'
SELECT 'CREATE ROLE lamlog_tls' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lamlog_tls') \gexec
ALTER ROLE lamlog_tls LOGIN SUPERUSER PASSWORD :'password';
SELECT 'CREATE DATABASE lamlog_tls OWNER lamlog_tls' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'lamlog_tls') \gexec
SQL
echo "TLS cluster $version/$cluster on localhost:$port, certificates in $dir"
