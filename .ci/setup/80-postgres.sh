# PostgreSQL store (Storage/Postgres/): Debian's `postgresql` (15) server for the PostgreSQL store contract suite and for
# the hub suites run on PostgreSQL. Sourced by .ci/run as root on a clean Debian machine (no systemd): installs the server
# when missing, creates the cluster when apt did not, starts it with pg_ctlcluster (which runs postgres as the postgres
# user), and creates a login role and database for the tests. Idempotent: every step checks first.
# Exports KAI_TEST_POSTGRES (an Npgsql connection string). The tests read it; each test class makes its own schema in that
# database and drops it afterwards. Override the port with KAI_PG_PORT (default 5432).
_kai_postgres_setup() {
  local port="${KAI_PG_PORT:-5432}" version cluster=main
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "installing postgresql (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; } >/dev/null 2>&1 ||
      { echo "warning: could not install postgresql; the PostgreSQL store tests will fail" >&2; return 1; }
  fi
  version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$version $cluster"; then
    echo "creating PostgreSQL $version cluster $cluster on port $port"
    pg_createcluster "$version" "$cluster" --port "$port" >/dev/null ||
      { echo "warning: pg_createcluster failed" >&2; return 1; }
  fi
  port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $3}')
  if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $4}' | grep -q online; then
    echo "starting PostgreSQL $version/$cluster on port $port"
    pg_ctlcluster "$version" "$cluster" start ||
      { echo "warning: could not start PostgreSQL; see /var/log/postgresql/" >&2; return 1; }
  fi
  local i
  for i in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 1
  done
  # The tests' role: may create schemas in its own database (one per test class); the store needs nothing more.
  su postgres -c "psql -q -p $port -v ON_ERROR_STOP=1" >/dev/null <<'SQL' || { echo "warning: could not create the kai_test role/database" >&2; return 1; }
SELECT 'CREATE ROLE kai_test LOGIN PASSWORD ''kai_test'' CREATEDB' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kai_test')\gexec
SELECT 'CREATE DATABASE kai_test OWNER kai_test' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'kai_test')\gexec
SQL
  export KAI_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=kai_test;Password=kai_test;Database=kai_test;SSL Mode=Disable"
}
_kai_postgres_setup || true
unset -f _kai_postgres_setup
