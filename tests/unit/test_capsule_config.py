"""Capsules in every configuration source, and the settings refused because they would weaken a
guarantee (one line each, naming what is wrong)."""

from __future__ import annotations

from pathlib import Path

import pytest

from henchman.composition import check_settings
from henchman.config import CapsuleSpec, QueueSpec, Settings
from henchman.config_loader import load_settings
from henchman.errors import ConfigError


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=tmp_path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


UNSAFE = CapsuleSpec("unsafe", (QueueSpec("unsafe"),), 1)


def test_toml_capsule_tables_become_capsules(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", """
[tool.henchman.capsules.unsafe]
queues = ["unsafe"]
concurrency = 1

[tool.henchman.capsules.bulk]
queues = [["imports", 3], "exports"]
concurrency = 4
async_concurrency = 20
""")  # fmt: skip
    settings = load_settings(cwd=tmp_path)
    assert settings.capsules == (
        UNSAFE,
        CapsuleSpec("bulk", (QueueSpec("imports", 3), QueueSpec("exports")), 4, 20),
    )


def test_yaml_capsules_accept_sidekiq_style_keys(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", """
:capsules:
  :unsafe:
    :queues: [unsafe]
    :concurrency: 1
""")  # fmt: skip
    assert load_settings(cwd=tmp_path).capsules == (UNSAFE,)


def test_capsule_flags_and_environment(tmp_path: Path) -> None:
    flags = {"capsules": ("unsafe:unsafe:1", "bulk:a,b:3")}
    settings = load_settings(cwd=tmp_path, flags=flags)
    assert settings.capsules[1] == CapsuleSpec("bulk", (QueueSpec("a"), QueueSpec("b")), 3)
    env = {"HENCHMAN_CAPSULES": "unsafe:unsafe:1;bulk:a,b:3"}
    assert load_settings(cwd=tmp_path, env=env).capsules == settings.capsules


def test_flags_replace_the_files_capsules(tmp_path: Path) -> None:
    yml = "capsules:\n  old:\n    queues: [x]\n    concurrency: 2\n"
    write(tmp_path, "config/henchman.yml", yml)
    settings = load_settings(cwd=tmp_path, flags={"capsules": ("unsafe:unsafe:1",)})
    assert settings.capsules == (UNSAFE,)


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("unsafe:unsafe:0", "concurrency of capsule 'unsafe' in --capsule must be an integer of"),
        ("unsafe:unsafe", "invalid capsule 'unsafe:unsafe' in --capsule (expected NAME:QUEUE"),
        ("un safe:q:1", "invalid capsule name 'un safe' in --capsule"),
        ("default:q:1", "capsule name 'default' in --capsule is reserved"),
        ("a:q:1", None),
    ],
)
def test_bad_capsule_flags_are_refused_with_one_line(
    tmp_path: Path, flag: str, message: str | None
) -> None:
    if message is None:
        assert load_settings(cwd=tmp_path, flags={"capsules": (flag,)}).capsules
        return
    assert message in config_error(tmp_path, flags={"capsules": (flag,)})


def test_an_unknown_key_in_a_capsule_table_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "capsules:\n  a:\n    queues: [x]\n    threads: 2\n")
    message = config_error(tmp_path)
    assert message.startswith("unknown key 'threads' in capsule 'a' in config/henchman.yml")


def test_a_capsule_without_concurrency_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "capsules:\n  a:\n    queues: [x]\n")
    assert "needs both queues and concurrency" in config_error(tmp_path)


def test_a_queue_in_two_capsules_is_refused(tmp_path: Path) -> None:
    message = config_error(tmp_path, flags={"capsules": ("a:mail:1", "b:mail:1")})
    assert message.startswith("queue 'mail' is served by capsules 'a' and 'b'")


def test_a_capsule_serving_a_default_capsule_queue_is_refused(tmp_path: Path) -> None:
    message = config_error(tmp_path, flags={"capsules": ("a:default:1",)})
    assert message.startswith("queue 'default' is served by capsules 'default' and 'a'")


def test_a_heartbeat_slower_than_half_the_process_ttl_is_refused() -> None:
    with pytest.raises(ConfigError, match="would be recovered and run twice"):
        check_settings(Settings(heartbeat_interval=40, process_ttl=60))
    check_settings(Settings(heartbeat_interval=30, process_ttl=60))
