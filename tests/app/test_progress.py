"""CLI progress: a bar on a terminal, plain lines in files, pipes and CI."""
import io

from app.progress import Progress, progress_style, run_with_progress


def _job(n=50):
    for i in range(n + 1):
        yield Progress("explore", i, n, message=f"{i} places")
    for i in range(3):
        yield Progress("save", i + 1, 3)
    return "result"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_without_a_terminal_report_each_stage_and_its_end(monkeypatch):
    monkeypatch.delenv("LAB_PROGRESS", raising=False)
    out = io.StringIO()
    assert run_with_progress(_job(), desc="explore", stream=out, every_s=1e9) == "result"
    lines = out.getvalue().splitlines()
    assert lines[0] == "explore 0/50 (0%) - 0 places"
    assert "explore 50/50 (100%) - 50 places" in lines
    assert lines[-1] == "explore: save 3/3 (100%)"
    assert 10 <= len(lines) <= 14  # every 10 %, not every step


def test_ci_gets_plain_lines_even_on_a_terminal(monkeypatch):
    monkeypatch.delenv("LAB_PROGRESS", raising=False)
    monkeypatch.setenv("CI", "true")
    assert progress_style(_Tty()) == "lines"
    monkeypatch.delenv("CI")
    assert progress_style(_Tty()) == "bar"
    assert progress_style(io.StringIO()) == "lines"
    monkeypatch.setenv("LAB_PROGRESS", "off")
    assert progress_style(_Tty()) == "off"


def test_the_bar_runs_to_the_result_and_silence_prints_nothing(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("LAB_PROGRESS", raising=False)
    tty = _Tty()
    assert run_with_progress(_job(), desc="explore", stream=tty) == "result"
    assert "50/50" in tty.getvalue()
    quiet = io.StringIO()
    assert run_with_progress(_job(), show=False, stream=quiet) == "result"
    assert quiet.getvalue() == ""
