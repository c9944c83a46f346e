#!/usr/bin/env bash
# Benchmark of `gazette run` serving a generated store of 100,000 article files (the store of
# bench/build.sh): requests per second with wrk over loopback for a feed (full, 304, gzip), a
# front page and an article page; the daemon's memory after the first build and after the load;
# and how long a new article takes to reach the served feed (store watcher + rebuild).
# The load generator and the server share the machine's cores. Usage: bench/http.sh [PAIRS]
set -euo pipefail
cd "$(dirname "$0")/.."

pairs=${1:-50000}
duration=${DURATION:-10}
port=${PORT:-18080}
ops_port=${OPS_PORT:-19464}
data=bench-data

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
source bench/store.sh
generated_store "$pairs"
rm -rf "$data/http" "$data/store/added"
mkdir -p "$data/http" "$data/store/added"
cp -r templates "$data/http/templates"
{ cat bench/site.toml; cat <<TOML
[store]
dir = "../store"
index = "cache/store-index"
[feeds]
dir = "feeds"
[http]
listen = "127.0.0.1:$port"
ops_listen = "127.0.0.1:$ops_port"
[mail]
url = "file://outbox"
from = "News <news@example.gov.cn>"
[[digests]]
id = "daily"
schedule = "0 8 * * *"
TOML
} > "$data/http/config.toml"

./target/release/gazette --config "$data/http/config.toml" run 2> "$data/http/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until grep -q "feeds built" "$data/http/log"; do sleep 0.1; done
rss() { awk '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 } END { printf "RSS %.1f MB (peak %.1f MB)", r / 1024, h / 1024 }' "/proc/$pid/status"; }
echo "after the first build of $((pairs * 2)) files: $(rss)"

base="http://127.0.0.1:$port"
etag=$(curl -sI "$base/feeds/en/atom.xml" | awk -F': ' 'tolower($1) == "etag" { print $2 }' | tr -d '\r')
slug=$(curl -s "$base/en/" | grep -o '/en/articles/[^"]*' | head -n 1)
load() { # name, then wrk arguments
  local name=$1; shift
  wrk -t2 -c64 -d"${duration}s" --latency "$@" 2>&1 | awk -v name="$name" '
    /Requests\/sec/ { rps = $2 } / 50%/ { p50 = $2 } / 99%/ { p99 = $2 } /Non-2xx/ { non = $NF }
    END { printf "%-26s %9.0f req/s   p50 %8s   p99 %8s%s\n", name, rps, p50, p99, (non ? "   non-2xx " non : "") }'
}
load "feed (200, 50 entries)" "$base/feeds/en/atom.xml"
load "feed (304, If-None-Match)" -H "If-None-Match: $etag" "$base/feeds/en/atom.xml"
load "feed (200, gzip)" -H "Accept-Encoding: gzip" "$base/feeds/en/atom.xml"
load "front page /en/" "$base/en/"
load "article page" "$base$slug"
echo "after the load: $(rss)"

start=$(date +%s%N)
cat > "$data/store/added/bench-new.en.md" <<'MD'
+++
title = "Benchmark Arrival"
date = 2026-11-01T10:00:00+08:00
+++
A new article.
MD
until [[ "$(curl -s "$base/feeds/en/atom.xml")" == *"Benchmark Arrival"* ]]; do sleep 0.02; done
echo "a new article in the served feed after $(( ($(date +%s%N) - start) / 1000000 )) ms"
kill -TERM $pid
wait $pid
echo "exit after SIGTERM: $?"
