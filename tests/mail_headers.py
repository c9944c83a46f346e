"""The address and subject headers of messages as Python's `email` package reads them with
`policy.default` (the parser many tools and some mail clients build on).

  mail_headers.py FILE...
      prints one JSON line per message FILE: {"file", "subject", "from", "to", "reply_to"},
      each address header a list of [display name, address].
"""
import email
import email.policy
import json
import sys


def mailboxes(message, name):
    header = message[name]
    if header is None:
        return []
    return [[a.display_name, a.addr_spec] for a in header.addresses]


for path in sys.argv[1:]:
    with open(path, "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.default)
    print(json.dumps({
        "file": path,
        "subject": str(message["Subject"]),
        "from": mailboxes(message, "From"),
        "to": mailboxes(message, "To"),
        "reply_to": mailboxes(message, "Reply-To"),
    }, ensure_ascii=False))
