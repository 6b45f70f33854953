"""benchmarks/flow_cpu.py: one flow against the real server, its CPU per flow printed."""

from __future__ import annotations

import pytest

from benchmarks import flow_cpu


def test_the_flow_is_one_of_four_and_the_window_defaults_to_twenty_seconds() -> None:
    args = flow_cpu.arguments(["code"])
    assert (args.flow, args.seconds, args.database, args.py_spy) == ("code", 20.0, None, None)
    with pytest.raises(SystemExit):
        flow_cpu.arguments(["nonsense"])


def test_a_short_window_of_signed_in_code_flows_prints_the_bridges_cpu_per_flow(
    capsys: pytest.CaptureFixture[str],
) -> None:
    flow_cpu.main(["code", "--seconds", "2"])
    out = capsys.readouterr().out
    window = next(line for line in out.splitlines() if line.startswith("code "))
    assert "errors 0" in window
    per_flow = next(line for line in out.splitlines() if line.startswith("bridge CPU per flow: "))
    assert float(per_flow.split(": ")[1].removesuffix(" ms")) > 0
