"""Bad configuration is one line naming the key, exit code 2, for every command: malformed Redis
URLs (found before anything connects) and queue weights out of range."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from henchman.cli.main import main
from henchman.urls import check_url

COMMANDS = [
    ["stats"], ["queues"], ["run"], ["worker"], ["doctor"], ["web"], ["enqueue", "X"],
    ["retry", "list"], ["dead", "list"], ["quiet", "all"], ["stop", "all"],
    ["iteration", "list"],
]  # fmt: skip
BAD_URLS = {
    "redis://:pw@127.0.0.1:notaport/0": "the port must be a number",
    "redis://127.0.0.1:6379/0?socket_timeout=abc": "option 'socket_timeout' has an invalid value",
}


def _invoke(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, env={"HENCHMAN_HOME": str(tmp_path), **env})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, result.output


@pytest.mark.parametrize("command", COMMANDS, ids="-".join)
@pytest.mark.parametrize("url", list(BAD_URLS), ids=["port", "query"])
def test_a_malformed_redis_url_is_one_line_naming_the_variable(
    command: list[str], url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no config file in the working directory
    code, output = _invoke(command, {"REDIS_URL": url}, tmp_path)
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "REDIS_URL" in lines[0]
    assert BAD_URLS[url] in lines[0]
    assert "pw" not in lines[0]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://h:99999/0", "port"),
        ("redis://h/abc", "database number"),
        ("redis://h/0?nosuch=1", "unknown option 'nosuch'"),
        ("redis://h/0?socket_timeout=-1", "socket_timeout"),
        ("redis://h/0?socket_timeout=nan", "socket_timeout"),
        ("unix:///tmp/s.sock?db=x", "'db'"),
    ],
)
def test_check_url_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:secret@h:6379/2?socket_timeout=1.5&health_check_interval=10",
        "rediss://u:p@h/0?ssl_cert_reqs=none&ssl_check_hostname=false",
        "unix:///tmp/s.sock?db=3&client_name=web",
        "redis://h",
    ],
)
def test_check_url_accepts_what_redis_py_accepts(url: str) -> None:
    check_url(url)


def test_a_huge_queue_weight_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = _invoke(["run", "-q", "x,99999999999999999999"], {}, tmp_path)
    assert code == 2
    assert output.strip().splitlines() == [
        "error: invalid queue weight '99999999999999999999' for queue 'x' in --queue "
        "(must be an integer from 1 to 1000)"
    ]
