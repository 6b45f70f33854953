"""What `./dev demo` seeds: a registration request waiting for the director, its letter in the
demo mailbox once the bridge runs, and a banner that says where to see it and as whom."""

from __future__ import annotations

import re
import time
from pathlib import Path

from mail_sink.smtp import free_ports, smtp_controller
from starlette.testclient import TestClient

from bridge_demo.stack import prepare_demo
from tests.support.mail import MailReader

DIRECTOR_MAIL = "a.morozov@sosh12-podolsk.ru"


def test_the_demo_shows_a_pending_request_its_letter_and_where_to_decide_it(tmp_path: Path) -> None:
    bridge_port, smtp_port = free_ports(2)
    stack = prepare_demo(tmp_path, bridge_port=bridge_port, smtp_port=smtp_port)
    banner = stack.banner()
    assert "Заявка на подключение ждёт решения директора" in banner
    assert f"«Заявки»: {stack.bridge_url}/admin/requests" in banner
    assert f"логин {stack.director.login}" in banner and stack.applicant.email in banner
    assert stack.applicant.full_name == "Попова Ольга Сергеевна"

    sink = smtp_controller(stack.mailbox, "127.0.0.1", smtp_port)
    sink.start()
    try:
        # The bridge's lifespan runs the outbox dispatcher: the letter queued at seeding goes out.
        with TestClient(stack.bridge, base_url=stack.bridge_url):
            reader = MailReader(TestClient(stack.mail_sink))
            deadline = time.monotonic() + 10
            while not reader.to(DIRECTOR_MAIL) and time.monotonic() < deadline:
                time.sleep(0.05)
            [letter] = reader.to(DIRECTOR_MAIL)
    finally:
        sink.stop()
    assert letter.subject == "Новая заявка на подключение: МОУ «СОШ № 12» г. Подольска"
    assert "Здравствуйте, Алексей Юрьевич!" in letter.text
    assert f"{stack.bridge_url}/admin/requests" in letter.text
    # The applicant's name and address stay on the page behind the sign-in.
    assert "Попова" not in letter.text and not re.search(r"popova", letter.text)


def test_the_demo_shows_the_operator_footer_and_how_the_cli_reaches_its_database(tmp_path: Path) -> None:
    bridge_port, smtp_port = free_ports(2)
    stack = prepare_demo(tmp_path, bridge_port=bridge_port, smtp_port=smtp_port)
    banner = stack.banner()
    assert f"BRIDGE_DATABASE_URL=sqlite:///{tmp_path / 'demo.db'}" in banner
    with TestClient(stack.bridge, base_url=stack.bridge_url) as client:
        page = client.get("/login")
        assert "Демонстрационный оператор моста" in page.text and "support@bridge.demo" in page.text
        assert "все люди и организации в нём вымышлены" in client.get("/privacy").text
