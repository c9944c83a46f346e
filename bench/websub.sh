#!/usr/bin/env bash
# Benchmark of WebSub latency on the 100,000-file store of bench/build.sh: from an article
# file landing in the store to a subscriber's callback receiving the changed feed. Starts the
# release `gazette run` as its own hub, a subscriber on loopback (Python's http.server, which
# echoes the challenge and notes when each delivery arrives and whether it holds the new
# title), subscribes it to en/atom.xml, then adds RUNS articles one at a time.
# Usage: bench/websub.sh [PAIRS]; RUNS (default 9).
set -euo pipefail
cd "$(dirname "$0")/.."

pairs=${1:-50000}
runs=${RUNS:-9}
port=${PORT:-18081}
ops_port=${OPS_PORT:-19465}
sub_port=${SUB_PORT:-18082}
data=bench-data
target=${CARGO_TARGET_DIR:-target}

source bench/store.sh
generated_store "$pairs"
rm -rf "$data/websub" "$data/store/websub"
mkdir -p "$data/websub" "$data/store/websub"
cp -r templates "$data/websub/templates"
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
[websub]
allow_private_callbacks = true
TOML
} > "$data/websub/config.toml"
# bench/site.toml's base_url is not this port: topics must be the served URLs.
sed -i "s|^base_url = .*|base_url = \"http://127.0.0.1:$port\"|" "$data/websub/config.toml"

arrivals="$data/websub/arrivals"
: > "$arrivals"
python3 - "$sub_port" "$arrivals" <<'PY' &
import sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, out = int(sys.argv[1]), sys.argv[2]
class Callback(BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        challenge = query.get("hub.challenge", [""])[0].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(challenge))); self.end_headers()
        self.wfile.write(challenge)
        with open(out, "a") as f: f.write("verified\n")
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        at = time.time_ns()
        self.send_response(204); self.end_headers()
        titles = [t for t in body.decode().split("<title>")[1:3]]
        with open(out, "a") as f: f.write("received %d %s\n" % (at, titles[1].split("<")[0] if len(titles) > 1 else ""))
    def log_message(self, *args): pass
ThreadingHTTPServer(("127.0.0.1", port), Callback).serve_forever()
PY
sub=$!
"$target/release/gazette" --config "$data/websub/config.toml" run 2> "$data/websub/log" &
pid=$!
trap 'kill $pid $sub 2>/dev/null || true' EXIT
until grep -q "feeds built" "$data/websub/log"; do sleep 0.1; done

base="http://127.0.0.1:$port"
curl -s -o /dev/null -w '%{http_code}\n' -d hub.mode=subscribe -d "hub.topic=$base/feeds/en/atom.xml" \
  -d "hub.callback=http://127.0.0.1:$sub_port/cb" -d hub.secret=bench "$base/websub"
until grep -q verified "$arrivals"; do sleep 0.05; done
sleep 1

figures=()
for i in $(seq 1 "$runs"); do
  title="WebSub Arrival $i"
  start=$(date +%s%N)
  cat > "$data/store/websub/arrival-$i.en.md" <<MD
+++
title = "$title"
date = 2026-11-01T10:0$((i % 10)):00+08:00
+++
A new article.
MD
  until grep -q "received [0-9]* $title\$" "$arrivals"; do sleep 0.005; done
  at=$(grep "received [0-9]* $title\$" "$arrivals" | head -n 1 | cut -d' ' -f2)
  ms=$(( (at - start) / 1000000 ))
  figures+=("$ms")
  echo "article $i: delivered to the callback after $ms ms"
  sleep 1.5
done
sorted=$(printf '%s\n' "${figures[@]}" | sort -n)
echo "median $(echo "$sorted" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }') ms, worst $(echo "$sorted" | tail -n 1) ms over $runs articles"
grep -E "changed files read|feeds built" "$data/websub/log" | tail -n 4
kill -TERM $pid
wait $pid
echo "exit after SIGTERM: $?"
