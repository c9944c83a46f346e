"""DKIM for the tests, with dkimpy (the reference Python implementation, as receiving servers
use it) and PyNaCl.

  dkim_check.py keygen DIR
      writes DIR/rsa.pem (PKCS#1, by openssl), DIR/ed25519.key (base64 of the 32-byte seed) and
      DIR/records.json: the DNS TXT record publishing each public key, by algorithm.
  dkim_check.py verify NAME RECORD FILE...
      verifies each message FILE as a receiver would, with RECORD served as the TXT record of
      NAME (selector._domainkey.domain) and nothing else; prints one JSON line per file:
      {"file", "ok", "signed"} where signed lists the header names the signature covers.
"""
import base64
import json
import subprocess
import sys

import dkim
import nacl.signing


def keygen(folder):
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", f"{folder}/rsa.pem", "2048"],
                   check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", f"{folder}/rsa.pem", "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    key = nacl.signing.SigningKey.generate()
    with open(f"{folder}/ed25519.key", "w") as f:
        f.write(base64.b64encode(bytes(key)).decode())
    records = {
        "rsa": "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode(),
        "ed25519": "v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(key.verify_key)).decode(),
    }
    with open(f"{folder}/records.json", "w") as f:
        json.dump(records, f)


def verify(name, record, files):
    def dnsfunc(asked, timeout=5):
        asked = asked.decode() if isinstance(asked, bytes) else asked
        return record.encode() if asked.rstrip(".") == name else None

    for path in files:
        with open(path, "rb") as f:
            message = f.read()
        ok = dkim.verify(message, dnsfunc=dnsfunc)
        signed = []
        header = dkim.rfc822_parse(message)[0]
        for key, value in header:
            if key.lower() == b"dkim-signature":
                tags = dkim.util.parse_tag_value(value.replace(b"\r\n", b"").replace(b"\n", b""))
                signed = [h.strip().decode().lower() for h in tags[b"h"].split(b":")]
        print(json.dumps({"file": path, "ok": bool(ok), "signed": signed}))


if __name__ == "__main__":
    if sys.argv[1] == "keygen":
        keygen(sys.argv[2])
    elif sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
