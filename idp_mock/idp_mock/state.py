"""Everything a running mock holds, built in ``create_app`` and reached through ``app.state.mock``."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from .config import MockConfig
from .faults import Behaviour, FaultQueue
from .persons import PersonDirectory, read_persons_text
from .signing import SigningKeys
from .store import ProviderStore

TEMPLATES_DIR = Path(__file__).parent / "templates"


class MockState:
    def __init__(self, config: MockConfig) -> None:
        self.config = config
        self.templates = Jinja2Templates(directory=TEMPLATES_DIR)
        self.keys = SigningKeys(config)
        self.faults = FaultQueue()
        self.behaviour = Behaviour(esia_echo_nonce=config.esia_echo_nonce)
        self.persons = PersonDirectory.from_text(read_persons_text(config.persons_path))
        self.esia = ProviderStore()
        self.rsaa = ProviderStore()
        self._queue_startup_faults()

    def _queue_startup_faults(self) -> None:
        for spec in self.config.faults:
            self.faults.add_spec(spec)

    def reset(self) -> None:
        """Back to the state right after start-up: persons, keys, faults, behaviour, sessions, codes, tokens."""
        self.keys.reset()
        self.faults.clear()
        self.behaviour = Behaviour(esia_echo_nonce=self.config.esia_echo_nonce)
        self.persons = PersonDirectory.from_text(read_persons_text(self.config.persons_path))
        self.esia = ProviderStore()
        self.rsaa = ProviderStore()
        self._queue_startup_faults()


def mock_state(request: Request) -> MockState:
    state: MockState = request.app.state.mock
    return state
