#!/usr/bin/env python3
"""Build the seed corpora of the fuzz targets from our own fixtures (fuzz/README.md).

Writes fuzz/corpus/<target>/ (ignored by git; libFuzzer adds what it finds there). Each seed
is in the input format its target reads: see the doc comment at the top of each target.
Existing files are kept, so a corpus grown by earlier campaigns is not lost.

    fuzz/seed.py            # all targets
    fuzz/seed.py feed cron  # some
"""

import hashlib
import pathlib
import re
import sys

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
FIXTURES = ROOT / "tests" / "fixtures"
CONTENT_TYPES = 16  # fuzz/src/lib.rs CONTENT_TYPES
FEEDS = 4  # feeds in fuzz/src/lib.rs CONFIG


def feed_documents():
    """Every feed fixture and every committed fuzz regression input, as bytes."""
    for d in [FIXTURES / "feeds", FIXTURES / "fuzz"]:
        for p in sorted(d.rglob("*")):
            if p.is_file() and p.suffix not in (".py", ".toml", ".md"):
                yield p.read_bytes()


def stories():
    """(directory, [(title, body)]) for each story fixture: every outlet's variant."""
    for p in sorted((FIXTURES / "stories").rglob("*.txt")):
        variants = []
        for block in p.read_text(encoding="utf-8").split("=====\n"):
            head, _, body = block.partition("\n\n")
            title = re.search(r"^title: (.*)$", head, re.M)
            if title:
                variants.append((title.group(1), body.strip()))
        if variants:
            yield p.parent.name, variants


def topic_queries():
    queries = []
    for p in [ROOT / "config" / "feedwatch.toml", FIXTURES / "design-example.toml"]:
        for m in re.finditer(r"^query\s*=\s*(['\"])(.*)\1\s*$", p.read_text(encoding="utf-8"), re.M):
            queries.append(m.group(2))
    return queries + [
        "China Russia",
        "China OR Beijing",
        "NOT sponsored",
        "-sponsored China",
        '"strategic partnership"',
        "sanction*",
        "(China OR Beijing) AND (Russia OR Moscow)",
        "title:China summary:Lavrov content:\"Wang Yi\"",
        "author:reuters category:world feed:agency-wire url:example.org",
        r"/Wang\s+Yi/",
        r"/\b\d{4}-\d{2}-\d{2}\b/ -(opinion OR analysis)",
        "Kremlin’s “red lines”",
        "Straße café naïve",
        "北京 莫斯科",
        "NOT NOT (a OR -b) c*",
    ]


def seeds(target):
    if target == "feed":
        for i, doc in enumerate(feed_documents()):
            # Each document as served without a Content-Type, and once more with another
            # header and feed (so dedup policy) picked in turn.
            yield bytes([0]) + doc
            yield bytes([(i % CONTENT_TYPES) | ((i // CONTENT_TYPES) % FEEDS) << 4]) + doc
        for _, variants in stories():
            title, body = variants[0]
            esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;")
            paras = "".join(f"&lt;p&gt;{esc(p)}&lt;/p&gt;" for p in body.split("\n"))
            yield bytes([1]) + (
                '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title><item>'
                f"<title>{esc(title)}</title><link>https://wire.example/a?utm_source=x</link>"
                f"<description>{paras}</description></item></channel></rss>"
            ).encode()
    elif target == "text":
        for doc in feed_documents():
            yield doc
        for _, variants in stories():
            for title, body in variants:
                yield ("<p>" + "</p><p>".join(body.split("\n")) + "</p>").encode()
    elif target == "query":
        queries = topic_queries()
        for n, (_, variants) in enumerate(stories()):
            title, body = variants[0]
            lines, rest = body.split("\n", 1) if "\n" in body else (body, "")
            q = "\n".join(queries[n % len(queries) : n % len(queries) + 3])
            fields = [q, title, lines, rest, "Agency Staff", "World|Politics", "agency-wire",
                      "https://wire.example/2025/story.html"]
            yield "\0".join(fields).encode()
        for q in queries:
            yield (q + "\0China and Russia\0Lavrov met Wang Yi in Beijing").encode()
    elif target == "config":
        for p in [ROOT / "config" / "feedwatch.toml", FIXTURES / "design-example.toml"]:
            yield p.read_bytes()
        for p in sorted((ROOT / "tests").glob("*.rs")) + sorted((ROOT / "src" / "config").glob("*.rs")):
            # The configs the tests write as raw string literals, mistakes included.
            for m in re.finditer(r'r#"(.*?)"#', p.read_text(encoding="utf-8"), re.S):
                if re.search(r"^\s*\[\[?(daemon|http|feed|topic|notifier)\]", m.group(1), re.M):
                    yield m.group(1).encode()
    elif target == "url":
        links = set()
        for doc in feed_documents():
            links.update(re.findall(rb"https?://[^\s\"'<>]{1,200}", doc))
        yield from sorted(links)[:400]
        yield from [b"HTTPS://News.Example.ORG:443/a/../b?utm_source=x&id=7#top",
                    b"http://example.org:80/?fbclid=1&a=&a=2", b"http://[::1]:8080/%7Efeed",
                    b"https://xn--caf-dma.example/\xc3\xa9t\xc3\xa9?q=\xe2\x80\x8b"]
    elif target == "cron":
        exprs = ["*/15 * * * *", "0 8 * * *", "*/5 * * * *", "0 9 * * 1-5", "0 0 9 * * 1",
                 "30 2 * * 0", "0 0 29 2 *", "0 30 1 * * 5-7/2", "@hourly", "@daily",
                 "0 0 1 1 *", "* * * * * *", "0 0 12 ? * MON-FRI *", "0 0 0 31 * * 2030"]
        for i, e in enumerate(exprs):
            yield e.encode() + b"\0" + bytes([i * 37 % 256, i, 200, 90, 1, 0, 0, 0])
    elif target == "stories":
        groups = {}
        for name, variants in stories():
            groups.setdefault(name, []).extend(variants)
            yield "\0".join(x for v in variants for x in v).encode()
        for name, variants in groups.items():
            yield "\0".join(x for v in variants[:12] for x in v).encode()
    elif target == "opml":
        for p in sorted((FIXTURES / "opml").glob("*.opml")):
            yield p.read_bytes()
        yield (b'<?xml version="1.0"?><opml version="1.0"><head/><body>'
               b'<outline text="A"><outline text="B"><outline text="Caf\xc3\xa9 &amp; co" '
               b'xmlUrl="HTTPS://News.Example.org:443/feed?utm_source=x" category="/World,Politics"/>'
               b'</outline></outline><outline text="dup" xmlUrl="https://wire.example/world.xml"/>'
               b'<outline text="ftp" xmlUrl="ftp://example.org/x"/></body></opml>')
    else:
        raise SystemExit(f"unknown target {target}")


TARGETS = ["feed", "text", "query", "config", "url", "cron", "stories", "opml"]


def main():
    for target in sys.argv[1:] or TARGETS:
        out = FUZZ / "corpus" / target
        out.mkdir(parents=True, exist_ok=True)
        n = 0
        for s in seeds(target):
            (out / hashlib.sha1(s).hexdigest()).write_bytes(s)
            n += 1
        print(f"{target}: {n} seeds in {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
