#!/usr/bin/env python3
"""Prints, as one JSON object, what Python feedparser reads from one Atom or RSS file.

Used by gazette's integration tests (tests/it/validators.rs), which compare it with what gazette
wrote. Dates are printed from feedparser's `*_parsed` values, which it normalises to UTC, so a
zone name it misreads (`CST` as US Central time) shows up as a wrong instant.
Usage: feedparser_dump.py FILE
"""

import json
import sys
import time

import feedparser


def utc_iso(parsed):
    return None if parsed is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed)


def links(node):
    return [
        {
            "rel": link.get("rel"),
            "type": link.get("type"),
            "hreflang": link.get("hreflang"),
            "href": link.get("href"),
            "title": link.get("title"),
        }
        for link in node.get("links", [])
    ]


def entry(e):
    return {
        "id": e.get("id"),
        "title": e.get("title"),
        "title_type": e.get("title_detail", {}).get("type"),
        "link": e.get("link"),
        "links": links(e),
        "published": utc_iso(e.get("published_parsed")),
        "published_raw": e.get("published"),
        "updated": utc_iso(e.get("updated_parsed")),
        "updated_raw": e.get("updated"),
        "author": e.get("author"),
        "tags": [{"term": t.get("term"), "label": t.get("label"), "scheme": t.get("scheme")} for t in e.get("tags", [])],
        "summary": e.get("summary"),
        "content": [c.get("value") for c in e.get("content", [])],
        "enclosures": [
            {"href": x.get("href"), "length": x.get("length"), "type": x.get("type")} for x in e.get("enclosures", [])
        ],
    }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: feedparser_dump.py FILE")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    parsed = feedparser.parse(data)
    feed = parsed.feed
    out = {
        "feedparser_version": feedparser.__version__,
        "bozo": bool(parsed.bozo),
        "bozo_exception": repr(parsed.get("bozo_exception")) if parsed.bozo else None,
        "version": parsed.get("version"),
        "encoding": parsed.get("encoding"),
        "feed": {
            "title": feed.get("title"),
            "language": feed.get("language"),
            "link": feed.get("link"),
            "links": links(feed),
            "id": feed.get("id"),
            "updated": utc_iso(feed.get("updated_parsed")),
            "published": utc_iso(feed.get("published_parsed")),
        },
        "entries": [entry(e) for e in parsed.entries],
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
