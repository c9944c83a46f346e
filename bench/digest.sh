#!/usr/bin/env bash
# Benchmark of `gazette digest send` to SUBSCRIBERS confirmed subscribers (default 100,000)
# over loopback into Postfix's smtp-sink, and, against the same sink, Postfix's own load
# generator smtp-source sending as many messages of the same size over as many connections:
# the ceiling. Subscribers are imported with `gazette subscribers import` (timed too), half
# zh and half en, a third of them per sector choice, all confirmed a year ago so each digest
# holds the example store's articles. Prints wall time, messages per second and peak memory.
# With DB=postgres the same subscribers, copied with `gazette state copy` into a PostgreSQL
# server of the benchmark's own (a new cluster on a loopback port), are sent again by one
# instance and then by two at once (one run, claimed between them), after the SQLite run:
# the ratios to it, the statements each message costs (pg_stat_statements) and each
# instance's peak memory.
# Usage: bench/digest.sh [SUBSCRIBERS]
#   env: POOL=4 connections, PORT=2526, DKIM=rsa|ed25519 to sign every message (a fresh key),
#        DB=sqlite|postgres, PGPORT=55432
set -euo pipefail
cd "$(dirname "$0")/.."

subscribers=${1:-100000}
pool=${POOL:-4}
port=${PORT:-2526}
data=bench-data/digest

need() { command -v "$1" >/dev/null || command -v "/usr/sbin/$1" >/dev/null; }
if ! need smtp-sink || [ ! -x /usr/bin/time ]; then
  apt-get update -qq
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix time >/dev/null
fi
if [ "${DB:-sqlite}" = postgres ] && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/gazette.conf
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
export PATH="$PATH:/usr/sbin"
cargo build --release --quiet --bin gazette

rm -rf "$data" && mkdir -p "$data/secrets"
{ cat bench/site.toml; cat <<TOML
[store]
dir = "$PWD/articles"
index = "cache/store-index"
[feeds]
dir = "feeds"
[[digests]]
id = "daily"
schedule = "0 8 * * *"
[templates]
dir = "$PWD/templates"
[mail]
url = "smtp://127.0.0.1:$port?tls=none"
from = "Foreign Affairs Office <news@fao.example.gov.cn>"
pool_size = $pool
rate = 1000000
TOML
} > "$data/config.toml"
case "${DKIM:-}" in
  rsa) openssl genrsa -traditional -out "$data/secrets/dkim.key" 2048 2>/dev/null ;;
  ed25519) head -c 32 /dev/urandom | base64 -w0 > "$data/secrets/dkim.key" ;;
esac
if [ -n "${DKIM:-}" ]; then
  printf '[mail.dkim]\nselector = "bench"\nkey_file = "secrets/dkim.key"\nalgorithm = "%s"\n' "$DKIM" >> "$data/config.toml"
fi
gazette() { ./target/release/gazette --config "$data/config.toml" "$@"; }

python3 - "$subscribers" > "$data/subscribers.csv" <<'PY'
import sys
n = int(sys.argv[1])
print("email,name,language,sectors,digest")
sectors = ["", "trade", "foreign-affairs"]
for i in range(n):
    lang = "zh" if i % 2 == 0 else "en"
    name = f"读者 {i}" if lang == "zh" else f"Reader {i}"
    print(f'reader{i}@example.org,{name},{lang},"{sectors[i % 3]}",daily')
PY
start=$(date +%s%N)
gazette subscribers import --confirmed "$data/subscribers.csv" | tail -n 1
end=$(date +%s%N)
echo "import: $(( (end - start) / 1000000 )) ms for $subscribers rows"
# Confirmed a year ago: every digest holds the store's recent articles.
python3 - "$data/gazette.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE subscribers SET confirmed_at = strftime('%s', 'now') - 365 * 86400")
db.commit()
PY

smtp-sink -u nobody "127.0.0.1:$port" 1024 &
sink=$!
trap 'kill $sink 2>/dev/null' EXIT
sleep 0.5

# Sends the run with INSTANCES `digest send` processes at once on config $1, named $2; sets
# `sent` and `rate` (messages per second, all together).
send() {
  local config=$1 name=$2 instances=${3:-1} start end i pids=()
  start=$(date +%s%N)
  for i in $(seq "$instances"); do
    /usr/bin/time -f '%M %U %S' -o "$data/$name.$i.time" \
      ./target/release/gazette --config "$config" digest send daily >"$data/$name.$i.out" 2>"$data/$name.$i.err" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do
    wait "$i" || { cat "$data/$name".*.err; exit 1; }
  done
  end=$(date +%s%N)
  local ms=$(( (end - start) / 1000000 ))
  sent=0
  for i in $(seq "$instances"); do
    local n rss user sys
    n=$(grep -o '[0-9]* sent' "$data/$name.$i.out" | head -n 1 | cut -d' ' -f1)
    read -r rss user sys < "$data/$name.$i.time"
    echo "  $name instance $i: ${n:-0} sent, peak RSS $(( rss / 1024 )) MB, CPU user ${user}s sys ${sys}s"
    sent=$(( sent + ${n:-0} ))
  done
  rate=$(( sent * 1000 / ms ))
  echo "gazette ($name): $sent messages in $ms ms = $rate msg/s"
}

if [ "${DB:-sqlite}" = postgres ]; then
  # A pristine copy to move into PostgreSQL for each of its runs.
  python3 -c 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
    "$data/gazette.db" "$data/pristine.db"
  sed 's|^\[store\]|[state]\nurl = "sqlite://pristine.db"\n\n[store]|' "$data/config.toml" > "$data/config-pristine.toml"
fi
send "$data/config.toml" sqlite
sqlite_rate=$rate sqlite_sent=$sent

if [ "${DB:-sqlite}" = postgres ]; then
  pgport=${PGPORT:-55432}
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  pg=$(mktemp -d /tmp/gazette-bench-pg.XXXXXX)
  chown nobody "$pg"
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
  as_pg "$bin/initdb" -D "$pg/data" -U gazette -A trust >/dev/null
  as_pg "$bin/pg_ctl" -D "$pg/data" -l "$pg/log" -w start -o \
    "-p $pgport -k $pg -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements" >/dev/null
  trap 'kill $sink 2>/dev/null; as_pg "$bin/pg_ctl" -D "$pg/data" -m fast stop >/dev/null; rm -rf "$pg"' EXIT
  psql() { "$bin/psql" -h 127.0.0.1 -p "$pgport" -U gazette -qtAX "$@"; }
  psql -d postgres -c "CREATE EXTENSION pg_stat_statements"
  for instances in 1 2; do
    db="gazette$instances"
    url="postgres://gazette@127.0.0.1:$pgport/$db"
    psql -d postgres -c "CREATE DATABASE $db"
    ./target/release/gazette --config "$data/config-pristine.toml" state copy --to "$url" | tail -n 1
    sed "s|sqlite://pristine.db|$url|" "$data/config-pristine.toml" > "$data/config-$db.toml"
    psql -d postgres -c "SELECT pg_stat_statements_reset()" >/dev/null
    send "$data/config-$db.toml" "postgresql-$instances" "$instances"
    statements=$(psql -d postgres -c "SELECT SUM(calls) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$db'")
    echo "  $statements statements = $(python3 -c "print(round($statements / $sent, 2))") per message"
    if [ "$instances" = 1 ]; then pg_rate=$rate; fi
  done
  python3 -c "print(f'ratios: PostgreSQL/SQLite {$pg_rate / $sqlite_rate:.2f}, two instances/one {$rate / $pg_rate:.2f}')"
fi

# The ceiling: the same number of messages of the same size over the same number of connections.
size=$(gazette digest preview daily --to reader1@example.org --out "$data/preview" >/dev/null && stat -c %s "$data/preview/reader1@example.org.eml")
start=$(date +%s%N)
smtp-source -s "$pool" -m "$sqlite_sent" -l "$size" -f news@fao.example.gov.cn -t reader@example.org "127.0.0.1:$port"
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
echo "smtp-source: $sqlite_sent messages of $size bytes in $ms ms = $(( sqlite_sent * 1000 / ms )) msg/s"
