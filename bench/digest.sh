#!/usr/bin/env bash
# Benchmark of `gazette digest send` to SUBSCRIBERS confirmed subscribers (default 100,000)
# over loopback into Postfix's smtp-sink, and, against the same sink, Postfix's own load
# generator smtp-source sending as many messages of the same size over as many connections:
# the ceiling. Subscribers are imported with `gazette subscribers import` (timed too), half
# zh and half en, a third of them per sector choice, all confirmed a year ago so each digest
# holds the example store's articles. Prints wall time, messages per second and peak memory.
# Usage: bench/digest.sh [SUBSCRIBERS]
#   env: POOL=4 connections, PORT=2526, DKIM=rsa|ed25519 to sign every message (a fresh key)
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

start=$(date +%s%N)
stats=$(/usr/bin/time -f '%M %U %S' ./target/release/gazette --config "$data/config.toml" digest send daily 2>&1 >"$data/send.out" | tail -n 1)
end=$(date +%s%N)
cat "$data/send.out"
ms=$(( (end - start) / 1000000 ))
read -r rss user sys <<<"$stats"
sent=$(grep -o '[0-9]* sent' "$data/send.out" | head -n 1 | cut -d' ' -f1)
echo "gazette: $sent messages in $ms ms = $(( sent * 1000 / ms )) msg/s, peak RSS $(( rss / 1024 )) MB, CPU user ${user}s sys ${sys}s"

# The ceiling: the same number of messages of the same size over the same number of connections.
size=$(gazette digest preview daily --to reader1@example.org --out "$data/preview" >/dev/null && stat -c %s "$data/preview/reader1@example.org.eml")
start=$(date +%s%N)
smtp-source -s "$pool" -m "$sent" -l "$size" -f news@fao.example.gov.cn -t reader@example.org "127.0.0.1:$port"
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
echo "smtp-source: $sent messages of $size bytes in $ms ms = $(( sent * 1000 / ms )) msg/s"
