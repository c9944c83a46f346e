#!/usr/bin/env python3
"""Walks an RFC 5005 archived feed with Python feedparser, as a reader rebuilding a feed's
history would: from the subscription document, follow `prev-archive` until there is none.
Prints, as JSON, one object per document: its URL, whether it says `fh:archive`, its
`current` / `prev-archive` / `next-archive` links and its entry ids.

Used by gazette's integration tests (tests/it/archives.rs). URLs under BASE are read from the
files under ROOT, or fetched over HTTP from ROOT when it is an `http://` URL (a running
`gazette run` whose public address is BASE).
Usage: archive_walk.py ROOT BASE START_URL
"""

import json
import sys
import urllib.request

import feedparser

HISTORY = b"http://purl.org/syndication/history/1.0"


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: archive_walk.py ROOT BASE START_URL")
    root, base, url = sys.argv[1:]
    pages, seen = [], set()
    while url:
        if url in seen:
            sys.exit(f"the chain loops back to {url}")
        seen.add(url)
        if not url.startswith(base):
            sys.exit(f"{url} is not under {base}")
        if root.startswith("http://"):
            with urllib.request.urlopen(root + url[len(base):], timeout=30) as response:
                data = response.read()
        else:
            with open(root + "/" + url[len(base):], "rb") as f:
                data = f.read()
        parsed = feedparser.parse(data)
        if parsed.bozo:
            sys.exit(f"{url}: feedparser: {parsed.get('bozo_exception')!r}")
        links = {}
        for link in parsed.feed.get("links", []):
            if link.get("rel") in ("current", "prev-archive", "next-archive", "self"):
                links.setdefault(link["rel"], []).append(link.get("href"))
        # feedparser keeps no fh:archive: look for the element in its namespace.
        is_archive = HISTORY in data and (b"<fh:archive" in data)
        pages.append({
            "url": url,
            "is_archive": is_archive,
            "links": links,
            "ids": [e.get("id") for e in parsed.entries],
            "version": parsed.get("version"),
        })
        url = (links.get("prev-archive") or [None])[0]
    json.dump(pages, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
