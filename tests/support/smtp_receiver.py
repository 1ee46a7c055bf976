#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd from Debian): stores every message it accepts as
DIR/mail/NNNNNNNN.eml (the DATA bytes) with DIR/mail/NNNNNNNN.rcpt (the client's port, then the
envelope: MAIL FROM, each RCPT TO; one a line), written to a temporary name and renamed, so readers never see
half a file. Controlled through files in DIR that it rereads on every command:
  DIR/reject     addresses (one a line) answered "550 5.1.1 <addr>: no such mailbox" at RCPT TO
  DIR/delay_ms     a number: every DATA waits this long first (a slow mail server)
  DIR/defer_until  a Unix time (float): until then every DATA is answered "451 4.3.0 try later"
With --user U --password-file F it requires AUTH PLAIN/LOGIN with those credentials (in plain
text: loopback only). With --tls starttls|implicit and --cert/--key (PEM) it requires STARTTLS
before MAIL, or speaks TLS from the first byte (SMTPS). Writes DIR/ready once listening; exits on
SIGTERM/SIGINT.
Usage: smtp_receiver.py DIR PORT [--user U --password-file F] [--tls MODE --cert C --key K]"""
import argparse
import asyncio
import os
import signal
import ssl
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, directory):
        self.directory = directory
        self.mail = os.path.join(directory, "mail")
        os.makedirs(self.mail, exist_ok=True)
        self.count = len([n for n in os.listdir(self.mail) if n.endswith(".eml")])
        self.lock = threading.Lock()

    def control(self, name):
        try:
            with open(os.path.join(self.directory, name)) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rejected = {line.strip() for line in self.control("reject").splitlines() if line.strip()}
        if address in rejected:
            return "550 5.1.1 <%s>: no such mailbox" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        delay = self.control("delay_ms").strip()
        if delay:
            await asyncio.sleep(float(delay) / 1000.0)
        until = self.control("defer_until").strip()
        if until and time.time() < float(until):
            return "451 4.3.0 try later"
        with self.lock:
            self.count += 1
            base = os.path.join(self.mail, "%08d" % self.count)
        with open(base + ".rcpt.tmp", "w") as f:
            f.write("\n".join([str(session.peer[1]), envelope.mail_from] + envelope.rcpt_tos) + "\n")
        os.rename(base + ".rcpt.tmp", base + ".rcpt")
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 2.0.0 stored %08d" % self.count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("port", type=int)
    parser.add_argument("--user")
    parser.add_argument("--password-file")
    parser.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()

    kwargs = {}
    if args.user:
        with open(args.password_file) as f:
            password = f.read().strip()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok)

        kwargs = dict(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    controller = Controller(Store(args.dir), hostname="127.0.0.1", port=args.port, decode_data=False,
                            data_size_limit=10 * 1024 * 1024, **kwargs)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open(os.path.join(args.dir, "ready"), "w") as f:
        f.write(str(os.getpid()))
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
