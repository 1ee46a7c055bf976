#!/usr/bin/python3
"""A local HTTP/2 receiver standing in for FCM (HTTP v1 messages:send) and APNs (/3/device/TOKEN).

Started by tests/support/push_receiver.h. TLS with ALPN h2 (certificate from the test), one
thread per connection, h2 (python3-h2) for the protocol. Every request is appended to --log as
one JSON line: path, headers, body, the status and reason answered, and the problems found when
checking the request against the service's documented shape (a request with problems is answered
400 "BadShape", so a wrong request can never pass as delivered).

Answers depend on the device token's prefix, as the services answer:
  unregistered*  FCM 404 UNREGISTERED        APNs 410 Unregistered
  invalid*       FCM 400 INVALID_ARGUMENT    APNs 400 BadDeviceToken
  toolarge*      FCM 400 INVALID_ARGUMENT    APNs 413 PayloadTooLarge
  throttled*     FCM 429 QUOTA_EXCEEDED      APNs 429 TooManyRequests  (the first time per token;
                 with Retry-After: 1)
  unavailable*   FCM 503 UNAVAILABLE         APNs 503 ServiceUnavailable (the first time per token)
  expired*       APNs 403 ExpiredProviderToken while the JWT is the first one this receiver saw
anything else 200. FCM requests need "authorization: Bearer <--fcm-token>" (else 401); APNs
requests need a JWT signed by --apns-public-key's key with kid/iss as given (else 403
InvalidProviderToken).
"""
import argparse
import base64
import json
import re
import socket
import ssl
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PUSH_TYPES = {"alert", "background", "voip", "complication", "fileprovider", "mdm", "location",
              "liveactivity", "pushtotalk", "widgets"}

args = None
public_key = None
lock = threading.Lock()
log_file = None
seen_tokens = set()
first_jwt = [None]
jwt_verdicts = {}


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_problem(jwt):
    """None when the APNs provider token is valid, else why not."""
    with lock:
        if first_jwt[0] is None:
            first_jwt[0] = jwt
        if jwt in jwt_verdicts:
            return jwt_verdicts[jwt]
    problem = None
    try:
        head, claims, sig = jwt.split(".")
        header = json.loads(b64url(head))
        body = json.loads(b64url(claims))
        raw = b64url(sig)
        if header.get("alg") != "ES256" or header.get("kid") != args.apns_key_id:
            problem = "JWT header %r" % header
        elif body.get("iss") != args.apns_team_id or abs(time.time() - body.get("iat", 0)) > 3600:
            problem = "JWT claims %r" % body
        elif len(raw) != 64:
            problem = "JWT signature is %d bytes, not 64" % len(raw)
        else:
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            public_key.verify(der, (head + "." + claims).encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        problem = "JWT signature does not verify"
    except Exception as e:  # Malformed base64 or JSON.
        problem = "malformed JWT: %s" % e
    with lock:
        jwt_verdicts[jwt] = problem
    return problem


def first_time(service, token):
    with lock:
        if (service, token) in seen_tokens:
            return False
        seen_tokens.add((service, token))
        return True


def fcm(path, headers, body):
    """(status, reason, extra headers, problems) for an FCM v1 request."""
    problems = []
    if not re.match(r"^/v1/projects/[a-z0-9-]+/messages:send$", path):
        problems.append("path " + path)
    if headers.get("authorization") != "Bearer " + args.fcm_token:
        return 401, "UNAUTHENTICATED", {}, problems
    token = ""
    try:
        message = json.loads(body)["message"]
        token = message["token"]
        if not isinstance(token, str) or not token:
            problems.append("message.token")
        for name, value in message.get("data", {}).items():
            if not isinstance(value, str):
                problems.append("data.%s is not a string" % name)
        if "syncline_id" not in message.get("data", {}):
            problems.append("no data.syncline_id")
        notification = message.get("notification", {})
        if set(notification) - {"title", "body"}:
            problems.append("notification fields %r" % sorted(notification))
        if set(message) - {"token", "notification", "data"}:
            problems.append("message fields %r" % sorted(message))
    except Exception as e:
        problems.append("body: %s" % e)
    if headers.get("content-type") != "application/json":
        problems.append("content-type")
    if problems:
        return 400, "BadShape", {}, problems
    if token.startswith("unregistered"):
        return 404, "UNREGISTERED", {}, problems
    if token.startswith("invalid") or token.startswith("toolarge"):
        return 400, "INVALID_ARGUMENT", {}, problems
    if token.startswith("throttled") and first_time("fcm", token):
        return 429, "QUOTA_EXCEEDED", {"retry-after": "1"}, problems
    if token.startswith("unavailable") and first_time("fcm", token):
        return 503, "UNAVAILABLE", {}, problems
    return 200, "", {}, problems


def apns(path, headers, body):
    problems = []
    token = path[len("/3/device/"):]
    if not token:
        problems.append("no device token in the path")
    if not UUID.match(headers.get("apns-id", "")):
        problems.append("apns-id %r is not a lowercase UUID" % headers.get("apns-id"))
    if not headers.get("apns-topic"):
        problems.append("no apns-topic")
    push_type = headers.get("apns-push-type")
    if push_type not in PUSH_TYPES:
        problems.append("apns-push-type %r" % push_type)
    if headers.get("apns-priority") not in ("10", "5", "1"):
        problems.append("apns-priority %r" % headers.get("apns-priority"))
    if len(headers.get("apns-collapse-id", "").encode()) > 64:
        problems.append("apns-collapse-id longer than 64 bytes")
    try:
        payload = json.loads(body)
        aps = payload["aps"]
        if push_type == "background" and aps.get("content-available") != 1:
            problems.append("background push without content-available")
        if push_type == "alert" and not isinstance(aps.get("alert"), dict):
            problems.append("alert push without aps.alert")
    except Exception as e:
        problems.append("payload: %s" % e)
    auth = headers.get("authorization", "")
    if problems:
        return 400, "BadShape", {}, problems
    if not auth.startswith("bearer "):
        return 403, "MissingProviderToken", {}, problems
    jwt = auth[len("bearer "):]
    why = jwt_problem(jwt)
    if why:
        return 403, "InvalidProviderToken", {}, [why]
    if token.startswith("expired") and jwt == first_jwt[0]:
        return 403, "ExpiredProviderToken", {}, problems
    if token.startswith("unregistered"):
        return 410, "Unregistered", {}, problems
    if token.startswith("invalid"):
        return 400, "BadDeviceToken", {}, problems
    if token.startswith("toolarge"):
        return 413, "PayloadTooLarge", {}, problems
    if token.startswith("throttled") and first_time("apns", token):
        return 429, "TooManyRequests", {}, problems
    if token.startswith("unavailable") and first_time("apns", token):
        return 503, "ServiceUnavailable", {}, problems
    return 200, "", {"apns-id": headers.get("apns-id", "")}, problems


def reply_body(service, path, status, reason):
    if status == 200:
        return json.dumps({"name": path + "/0"}) if service == "fcm" else ""
    if service == "fcm":
        codes = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                 503: "UNAVAILABLE"}
        return json.dumps({"error": {"code": status, "message": "test receiver: " + reason,
                                     "status": codes.get(status, "UNKNOWN"),
                                     "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                                  "errorCode": reason}]}})
    answer = {"reason": reason}
    if status == 410:
        answer["timestamp"] = int(time.time() * 1000)
    return json.dumps(answer)


def respond(conn, stream_id, request, connection_number):
    headers = request["headers"]
    path = headers.get(":path", "")
    body = bytes(request["body"]).decode("utf-8", "replace")
    if headers.get(":method") != "POST":
        status, reason, extra, problems, service = 405, "MethodNotAllowed", {}, ["method"], "?"
    elif path.startswith("/3/device/"):
        service = "apns"
        status, reason, extra, problems = apns(path, headers, body)
    else:
        service = "fcm"
        status, reason, extra, problems = fcm(path, headers, body)
    answer = reply_body(service, path, status, reason).encode()
    entry = {"service": service, "path": path, "headers": {k: v for k, v in headers.items() if not k.startswith(":")},
             "body": body, "status": status, "reason": reason, "problems": problems, "connection": connection_number}
    with lock:
        log_file.write(json.dumps(entry) + "\n")
        log_file.flush()
    response = [(":status", str(status)), ("content-type", "application/json"), ("content-length", str(len(answer)))]
    response += list(extra.items())
    conn.send_headers(stream_id, response, end_stream=not answer)
    if answer:
        conn.send_data(stream_id, answer, end_stream=True)


def serve(raw, context, connection_number):
    try:
        sock = context.wrap_socket(raw, server_side=True)
        if sock.selected_alpn_protocol() != "h2":
            sock.close()
            return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        requests = {}
        while True:
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    requests[event.stream_id] = {"headers": dict(event.headers), "body": bytearray()}
                elif isinstance(event, h2.events.DataReceived):
                    requests[event.stream_id]["body"] += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    respond(conn, event.stream_id, requests.pop(event.stream_id), connection_number)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    break
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        sock.close()
    except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
        pass  # The client went away (a killed worker): its streams are simply lost.


def main():
    global args, public_key, log_file
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--fcm-token", required=True)
    parser.add_argument("--apns-public-key", required=True)
    parser.add_argument("--apns-key-id", required=True)
    parser.add_argument("--apns-team-id", required=True)
    args = parser.parse_args()
    with open(args.apns_public_key, "rb") as f:
        public_key = serialization.load_pem_public_key(f.read())
    log_file = open(args.log, "a", encoding="utf-8")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    context.set_alpn_protocols(["h2"])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)
    print("listening on 127.0.0.1:%d" % args.port, flush=True)
    connections = 0
    while True:
        raw, _ = listener.accept()
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connections += 1
        threading.Thread(target=serve, args=(raw, context, connections), daemon=True).start()


if __name__ == "__main__":
    main()
