# Sourced by .ci/run: a throw-away PostgreSQL cluster for the tests, in a temporary
# folder, on a free loopback port, with a random password, speaking TLS with a throw-away
# CA; stopped and removed on exit. Exports QQBIND_TEST_POSTGRES (a superuser URL; each
# test makes its own database) and QQBIND_TEST_POSTGRES_CA (the CA that signed the
# server's certificate, for the sslmode=verify-full tests).

postgres_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bin" ] && command -v pg_ctl >/dev/null 2>&1; then
    bin=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
  fi
  echo "$bin"
}

stop_postgres() {
  if [ -n "${QQBIND_PG_DIR:-}" ] && [ -d "$QQBIND_PG_DIR" ]; then
    "${QQBIND_PG_AS[@]}" "$QQBIND_PG_BIN/pg_ctl" -D "$QQBIND_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$QQBIND_PG_DIR"
  fi
}

start_postgres() {
  QQBIND_PG_BIN=$(postgres_bin)
  if [ ! -x "$QQBIND_PG_BIN/initdb" ]; then
    echo "PostgreSQL's initdb not found (Debian: apt-get install postgresql)" >&2
    return 1
  fi
  QQBIND_PG_DIR=$(mktemp -d /tmp/qqbind-pg.XXXXXX)
  trap stop_postgres EXIT
  # PostgreSQL refuses to run as root: then the cluster belongs to `postgres`.
  QQBIND_PG_AS=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$QQBIND_PG_DIR"
    QQBIND_PG_AS=(runuser -u postgres --)
  fi
  local password
  password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$password" >"$QQBIND_PG_DIR/pwfile"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$QQBIND_PG_DIR/pwfile"
  "${QQBIND_PG_AS[@]}" "$QQBIND_PG_BIN/initdb" -D "$QQBIND_PG_DIR/data" -U qqbind \
    --pwfile="$QQBIND_PG_DIR/pwfile" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$QQBIND_PG_DIR/pwfile"
  # TLS: a CA of this run's own, and a certificate for 127.0.0.1 it signed.
  local tls="$QQBIND_PG_DIR/tls"
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/ca.key" -out "$tls/ca.pem" \
    -days 2 -subj "/CN=qqbind CI PostgreSQL CA" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -keyout "$tls/server.key" -out "$tls/server.csr" \
    -subj "/CN=localhost" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tls/ext.cnf"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -CAcreateserial -out "$tls/server.pem" -days 2 -extfile "$tls/ext.cnf" >/dev/null 2>&1
  cp "$tls/server.pem" "$QQBIND_PG_DIR/data/server.crt"
  cp "$tls/server.key" "$QQBIND_PG_DIR/data/server.key"
  chmod 600 "$QQBIND_PG_DIR/data/server.key"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$QQBIND_PG_DIR/data/server.crt" "$QQBIND_PG_DIR/data/server.key"
  chmod 755 "$tls" && chmod 644 "$tls/ca.pem"
  export QQBIND_TEST_POSTGRES_CA="$tls/ca.pem"
  local port try
  for try in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    # A throw-away cluster: durability off, room for every test's pool.
    if "${QQBIND_PG_AS[@]}" "$QQBIND_PG_BIN/pg_ctl" -D "$QQBIND_PG_DIR/data" \
      -l "$QQBIND_PG_DIR/log" -w -t 60 start -o "-p $port -c listen_addresses=127.0.0.1 \
      -c unix_socket_directories=$QQBIND_PG_DIR -c max_connections=300 -c fsync=off \
      -c synchronous_commit=off -c full_page_writes=off -c ssl=on" >/dev/null; then
      export QQBIND_TEST_POSTGRES="postgres://qqbind:$password@127.0.0.1:$port/postgres"
      echo "PostgreSQL $("$QQBIND_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (throw-away, $QQBIND_PG_DIR)"
      return 0
    fi
    echo "PostgreSQL did not start on port $port (try $try):" >&2
    tail -n 3 "$QQBIND_PG_DIR/log" >&2 || true
  done
  return 1
}
