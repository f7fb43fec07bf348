#!/usr/bin/env bash
# Bench: one poll of a large RSS feed (default 10,000 items) served on 127.0.0.1, end to end
# through the release binary: fetch → parse → keys → store → match 3 topics → outbox.
# Usage: benches/large-feed.sh [ITEMS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
cargo build --release --quiet
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

python3 - "$n" "$work/feed.xml" <<'PY'
import sys, html
n, out = int(sys.argv[1]), sys.argv[2]
words = ("Beijing Moscow Lavrov ministers talks trade sanctions markets Ukraine energy summit "
         "partnership security council resolution envoy cooperation").split()
with open(out, "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>bench</title>')
    for i in range(n):
        body = " ".join(words[(i + k) % len(words)] for k in range(120))
        f.write(f"<item><title>Story {i} {words[i % len(words)]} and {words[(i*7) % len(words)]}</title>"
                f"<link>https://bench.example/{i}?utm_source=rss</link><guid>bench-{i}</guid>"
                f"<pubDate>Tue, 01 Apr 2025 09:30:00 GMT</pubDate>"
                f"<description>{html.escape('<p>' + body + '</p>')}</description></item>")
    f.write("</channel></rss>")
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/feed.xml" -o /dev/null && break; sleep 0.1; done

cat > "$work/fw.toml" <<TOML
[daemon]
database = "fw.db"
max_body = "256MiB"
[[feed]]
name = "big"
url = "http://127.0.0.1:$port/feed.xml"
[[topic]]
name = "china-russia"
query = '(China OR Beijing) AND (Russia OR Moscow OR Lavrov)'
notify = ["log"]
[[topic]]
name = "sanctions"
query = 'sanction* AND (Iran OR Russia)'
[[topic]]
name = "unsc"
query = '"Security Council" (resolution OR veto)'
[[notifier]]
name = "log"
kind = "log"
TOML
size=$(stat -c %s "$work/feed.xml")
start=$(date +%s.%N)
RUST_LOG=warn /usr/bin/time -f "%M" -o "$work/rss" target/release/feedwatch -c "$work/fw.toml" poll --json > "$work/out.json"
end=$(date +%s.%N)
python3 - "$start" "$end" "$n" "$size" "$(cat "$work/rss")" "$work/out.json" <<'PY'
import sys, json
start, end, n, size, rss, out = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
s = json.load(open(out))
assert s["new_items"] == n, s
secs = end - start
print(f"{n} items ({size/1e6:.1f} MB) in {secs:.2f} s: {n/secs:,.0f} items/s end to end; peak RSS {rss/1024:.0f} MiB")
PY
