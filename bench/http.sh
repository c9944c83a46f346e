#!/usr/bin/env bash
# Benchmark of `gazette run` serving a generated store of 100,000 article files (the store of
# bench/build.sh): requests per second with wrk over loopback for a feed (full, 304, gzip), a
# front page and an article page; the daemon's memory after the first build and after the load;
# and how long a new article takes to reach the served feed (store watcher + rebuild).
# nginx then serves the same feed files (the folder gazette built, with a gzip copy beside each
# for gzip_static) for the same three feed cases in the same run, and the ratios are printed.
# The load generator and the server share the machine's cores. Usage: bench/http.sh [PAIRS]
set -euo pipefail
cd "$(dirname "$0")/.."

pairs=${1:-50000}
duration=${DURATION:-10}
port=${PORT:-18080}
ops_port=${OPS_PORT:-19464}
data=bench-data

nginx_port=${NGINX_PORT:-18081}
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
  }
done
PATH=$PATH:/usr/sbin
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
declare -A rate
load() { # name, then wrk arguments
  local name=$1 out; shift
  out=$(wrk -t2 -c64 -d"${duration}s" --latency "$@" 2>&1 | awk -v name="$name" '
    /Requests\/sec/ { rps = $2 } / 50%/ { p50 = $2 } / 99%/ { p99 = $2 } /Non-2xx/ { non = $NF }
    END { printf "%-34s %9.0f req/s   p50 %8s   p99 %8s%s\n", name, rps, p50, p99, (non ? "   non-2xx " non : "") }')
  echo "$out"
  rate[$name]=$(echo "$out" | awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "req/s") print $i }')
}
feed_cases() { # server name, base URL, the feed's ETag there
  load "$1 feed (200, 50 entries)" "$2/feeds/en/atom.xml"
  load "$1 feed (304, If-None-Match)" -H "If-None-Match: $3" "$2/feeds/en/atom.xml"
  load "$1 feed (200, gzip)" -H "Accept-Encoding: gzip" "$2/feeds/en/atom.xml"
}
feed_cases gazette "$base" "$etag"
load "front page /en/" "$base/en/"
load "article page" "$base$slug"
load "archive page (200, a sealed month)" "$base/feeds/en/archive/2020-06/atom.xml"
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
trap - EXIT

# nginx on the same files, configured as a static feed host would be: the workers one per
# core, no access log, sendfile, open files cached, precompressed copies for gzip clients.
web=$data/http/nginx
rm -rf "$web" && mkdir -p "$web/tmp"
find "$data/http/feeds" -name '*.xml' -exec gzip -k -f -6 {} +
cat > "$web/nginx.conf" <<NGINX
worker_processes auto;
pid $PWD/$web/nginx.pid;
error_log $PWD/$web/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=1000 inactive=60s;
  types { application/atom+xml xml; }
  client_body_temp_path $PWD/$web/tmp/body;
  proxy_temp_path $PWD/$web/tmp/proxy;
  fastcgi_temp_path $PWD/$web/tmp/fastcgi;
  uwsgi_temp_path $PWD/$web/tmp/uwsgi;
  scgi_temp_path $PWD/$web/tmp/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location /feeds/ {
      alias $PWD/$data/http/feeds/;
      gzip_static on;
      add_header Cache-Control "public, max-age=60";
    }
  }
}
NGINX
nginx -c "$PWD/$web/nginx.conf" -e "$PWD/$web/error.log"
trap 'kill "$(cat "$web/nginx.pid")" 2>/dev/null || true' EXIT
nbase="http://127.0.0.1:$nginx_port"
until curl -sf -o /dev/null "$nbase/feeds/en/atom.xml"; do sleep 0.05; done
netag=$(curl -sI "$nbase/feeds/en/atom.xml" | awk -F': ' 'tolower($1) == "etag" { print $2 }' | tr -d '\r')
feed_cases nginx "$nbase" "$netag"
for case in "feed (200, 50 entries)" "feed (304, If-None-Match)" "feed (200, gzip)"; do
  awk -v c="$case" -v g="${rate[gazette $case]}" -v n="${rate[nginx $case]}" \
    'BEGIN { printf "gazette / nginx, %-26s %.2f\n", c, g / n }'
done
