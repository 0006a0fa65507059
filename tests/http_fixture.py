#!/usr/bin/python3
"""http_fixture.py — a local HTTP server for the S3 and credentials tests.

Binds 127.0.0.1 on a free port and prints the port on the first line of
stdout. Routes:
  /echo/...            any method: 200 with a JSON description of the request
                       (method, raw path, headers, SHA-256 of the body), so a
                       test can check the signature libcurl computed.
  /status/CODE/S3CODE  answers HTTP CODE with an S3 error document.
  /creds/valid         an ECS credentials document valid for an hour.
  /creds/expiring      one that expires in 60 seconds (inside the refresh margin).
  /creds/malformed     a broken JSON document.
  /creds/auth          the valid document only with "Authorization: test-auth-token".
  /list/BUCKET?...      ListObjectsV2 in two pages: the first truncated with a
                       continuation token that needs encoding, the second
                       only when that token comes back intact.
  /count/NAME          how many requests /creds/NAME, /status/... or /list has seen.
"""
import datetime
import hashlib
import http.server
import json
import sys
import threading
import urllib.parse

COUNTS = {}
LOCK = threading.Lock()


def bump(name):
    with LOCK:
        COUNTS[name] = COUNTS.get(name, 0) + 1
        return COUNTS[name]


def creds_doc(seconds, n):
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return {
        "AccessKeyId": "ASIAFIXTURE%04d" % n,
        "SecretAccessKey": "fixture-secret-%d" % n,
        "Token": "fixture-token-%d" % n,
        "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "RoleArn": "arn:aws:iam::123456789012:role/fixture",
    }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, body, ctype="application/json"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        parts = self.path.split("?")[0].split("/")
        route = parts[1] if len(parts) > 1 else ""
        if route == "echo":
            self.send(200, json.dumps({
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_sha256": hashlib.sha256(body).hexdigest(),
            }))
        elif route == "status" and len(parts) > 3:
            bump("status")
            xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                   '<Message>fixture says %s</Message><RequestId>1</RequestId></Error>' % (parts[3], parts[3]))
            self.send(int(parts[2]), xml, "application/xml")
        elif route == "list":
            bump("list")
            query = urllib.parse.parse_qs(self.path.partition("?")[2])
            item = ("<Contents><Key>%s</Key><LastModified>2024-03-01T12:00:00.000Z</LastModified>"
                    "<Size>%d</Size></Contents>")
            if query.get("list-type") != ["2"]:
                self.send(400, "<Error><Code>InvalidArgument</Code></Error>", "application/xml")
            elif "continuation-token" not in query:
                self.send(200, "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>"
                          "tok/en+=&amp;1</NextContinuationToken>" + item % (query["prefix"][0] + "a", 1)
                          + "</ListBucketResult>", "application/xml")
            elif query["continuation-token"] == ["tok/en+=&1"]:
                self.send(200, "<ListBucketResult><IsTruncated>false</IsTruncated>"
                          + item % (query["prefix"][0] + "b", 2) + "</ListBucketResult>", "application/xml")
            else:
                self.send(400, "<Error><Code>InvalidArgument</Code></Error>", "application/xml")
        elif route == "creds" and len(parts) > 2:
            name = parts[2]
            n = bump(name)
            if name == "valid":
                self.send(200, json.dumps(creds_doc(3600, n)))
            elif name == "expiring":
                self.send(200, json.dumps(creds_doc(60, n)))
            elif name == "malformed":
                self.send(200, '{"AccessKeyId": "ASIA", "SecretAccessKey": ')
            elif name == "auth":
                if self.headers.get("Authorization") == "test-auth-token":
                    self.send(200, json.dumps(creds_doc(3600, n)))
                else:
                    self.send(401, '{"message":"no"}')
            else:
                self.send(404, "{}")
        elif route == "count" and len(parts) > 2:
            with LOCK:
                self.send(200, str(COUNTS.get(parts[2], 0)), "text/plain")
        else:
            self.send(404, "{}")

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = handle_any

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
