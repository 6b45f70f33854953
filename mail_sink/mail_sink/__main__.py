"""`python -m mail_sink`: the SMTP sink and its inbox page, until Ctrl+C."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from mail_sink.smtp import smtp_controller
from mail_sink.store import Mailbox
from mail_sink.web import build_sink_app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mail-sink", description="Почтовый ящик для тестирования моста")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    args = parser.parse_args(argv)
    mailbox = Mailbox()
    controller = smtp_controller(mailbox, args.host, args.smtp_port)
    try:
        controller.start()
    except (OSError, RuntimeError) as error:
        print(f"Не удалось открыть SMTP-порт {args.host}:{args.smtp_port}: {error}", file=sys.stderr)
        return 1
    print(f"SMTP: {args.host}:{args.smtp_port}  письма: http://{args.host}:{args.http_port}/", flush=True)
    try:
        uvicorn.run(build_sink_app(mailbox), host=args.host, port=args.http_port, log_level="warning")
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
