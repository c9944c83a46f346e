#!/usr/bin/env bash
# Benchmark of returned mail: MESSAGES returned messages (default 100,000) for the digest run of
# 2,000 subscribers, a mix of the formats in tests/fixtures/returns/ (Postfix DSNs failed and
# delayed, an RFC 3464 report of several recipients, qmail and Exchange bounces, ARF
# complaints, auto-replies), each with its own Message-ID and to its subscriber's signed return
# path: through `gazette returns process` on one mbox, and through the LMTP listener of
# `gazette run` fed by Postfix's own load generator `smtp-source -L` (one DSN sent MESSAGES
# times over SESSIONS connections: after the first it is a message handed over again, which is
# parsed, attributed and logged once more, but counts nothing). Prints messages per second
# and peak memory. Usage: bench/returns.sh [MESSAGES]   env: SESSIONS=4
set -euo pipefail
cd "$(dirname "$0")/.."

messages=${1:-100000}
sessions=${SESSIONS:-4}
subscribers=2000
sink_port=${SINK_PORT:-2527}
lmtp_port=${LMTP_PORT:-18024}
http_port=${HTTP_PORT:-18081}
ops_port=${OPS_PORT:-19465}
data=bench-data/returns

need() { command -v "$1" >/dev/null || command -v "/usr/sbin/$1" >/dev/null; }
if ! need smtp-sink || [ ! -x /usr/bin/time ]; then
  apt-get update -qq
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix time >/dev/null
fi
export PATH="$PATH:/usr/sbin"
cargo build --release --quiet --bin gazette

rm -rf "$data" && mkdir -p "$data/sink" && chmod 777 "$data/sink"
{ cat bench/site.toml; cat <<TOML
[store]
dir = "$PWD/articles"
index = "cache/store-index"
[feeds]
dir = "feeds"
[[digests]]
id = "daily"
schedule = "0 8 1 1 *"
[templates]
dir = "$PWD/templates"
[http]
listen = "127.0.0.1:$http_port"
ops_listen = "127.0.0.1:$ops_port"
[mail]
url = "smtp://127.0.0.1:$sink_port?tls=none"
from = "Foreign Affairs Office <news@fao.example.gov.cn>"
rate = 1000000
bounce_limit = 1000000
[mail.returns]
address = "bounces@news.example.gov.cn"
listen = "127.0.0.1:$lmtp_port"
TOML
} > "$data/config.toml"
gazette() { ./target/release/gazette --config "$data/config.toml" "$@"; }

python3 - "$subscribers" > "$data/subscribers.csv" <<'PY'
import sys
print("email,language,digest")
for i in range(int(sys.argv[1])):
    print(f"reader{i}@example.org,en,daily")
PY
gazette subscribers import --confirmed "$data/subscribers.csv" | tail -n 1
python3 - "$data/gazette.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE subscribers SET confirmed_at = strftime('%s', 'now') - 365 * 86400")
db.commit()
PY
# The digest goes to smtp-sink, which keeps each message's envelope: the return paths.
smtp-sink -u nobody -d "$PWD/$data/sink/m." "127.0.0.1:$sink_port" 256 &
sink=$!
trap 'kill $sink 2>/dev/null || true; [ -n "${daemon:-}" ] && kill $daemon 2>/dev/null || true' EXIT
sleep 0.5
gazette digest send daily | tail -n 1
kill $sink; sink=

python3 - "$data/sink" "$messages" "$data/returns.mbox" tests/fixtures/returns <<'PY'
import os, re, sys
sink, count, out, fixtures = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
paths = []
for name in os.listdir(sink):
    head = open(os.path.join(sink, name), "rb").read(4096).decode("utf-8", "replace")
    m = re.search(r"^X-Mail-Args: <([^>]+)>", head, re.M)
    if m:
        paths.append(m.group(1))
kinds = ["postfix-failed.eml", "postfix-delayed.eml", "rfc3464-several.eml", "qmail.eml", "exchange-ndr.eml",
         "out-of-office.eml", "rfc5965-abuse.eml"]
samples = [open(os.path.join(fixtures, k), encoding="utf-8").read().replace("\r\n", "\n") for k in kinds]
with open(out, "w", encoding="utf-8") as f:
    for i in range(count):
        text = samples[i % len(samples)]
        path = paths[i % len(paths)]
        text = re.sub(r"^To: .*$", f"To: {path}", text, count=1, flags=re.M)
        text = text.replace("bounces+d-12-345-0123456789abcdef0123@news.example.gov.cn", path)
        text = f"Message-ID: <bench.{i}@relay.example.gov.cn>\n" + text
        text = re.sub(r"^From ", ">From ", text, flags=re.M)
        f.write(f"From MAILER-DAEMON Wed Dec  2 08:00:00 2026\n{text}\n")
print(f"{count} returned messages for {len(paths)} return paths in {out} ({os.path.getsize(out) // 1048576} MB)")
PY

start=$(date +%s%N)
stats=$(/usr/bin/time -f '%M %U %S' ./target/release/gazette --config "$data/config.toml" returns process "$data/returns.mbox" 2>&1 >"$data/process.out" | tail -n 1)
end=$(date +%s%N)
cat "$data/process.out"
ms=$(( (end - start) / 1000000 ))
read -r rss user sys <<<"$stats"
echo "returns process: $messages messages in $ms ms = $(( messages * 1000 / ms )) msg/s, peak RSS $(( rss / 1024 )) MB, CPU user ${user}s sys ${sys}s"

# The LMTP listener, fed by smtp-source.
GAZETTE_LOG=warn ./target/release/gazette --config "$data/config.toml" run 2> "$data/daemon.log" &
daemon=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$lmtp_port") 2>/dev/null && break
  sleep 0.1
done
path=$(awk '/^To: / {print $2; exit}' "$data/returns.mbox")
grep -v '^Message-ID:' tests/fixtures/returns/postfix-failed.eml | sed "s/^To: .*/To: $path\r/" > "$data/one.eml"
start=$(date +%s%N)
smtp-source -L -d -s "$sessions" -m "$messages" -F "$data/one.eml" -f '' -t "$path" "127.0.0.1:$lmtp_port"
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$daemon/status")
echo "LMTP (smtp-source -L, $sessions sessions): $messages messages in $ms ms = $(( messages * 1000 / ms )) msg/s, daemon peak RSS ${hwm} MB"
kill -TERM $daemon; wait $daemon || true; daemon=
grep -c "returned message" "$data/daemon.log" >/dev/null || true
