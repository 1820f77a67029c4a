"""Settings loading: sources, precedence, environment sections, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from henchman.config import QueueSpec, Settings
from henchman.config_loader import load_settings, parse_queue
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


# -- parse_queue ----------------------------------------------------------------------------------


def test_parse_queue_reads_name_and_weight() -> None:
    assert parse_queue("critical,3", "--queue") == QueueSpec("critical", 3)


def test_parse_queue_without_weight_is_unweighted() -> None:
    assert parse_queue("default", "--queue") == QueueSpec("default", 0)


def test_parse_queue_strips_spaces_around_parts() -> None:
    assert parse_queue(" low , 2 ", "--queue") == QueueSpec("low", 2)


@pytest.mark.parametrize("weight", ["x", "0", "-1", "1.5", ""])
def test_parse_queue_rejects_bad_weight(weight: str) -> None:
    with pytest.raises(ConfigError, match=r"invalid queue weight .* for queue 'critical' in --q"):
        parse_queue(f"critical,{weight}", "--queue")


def test_parse_queue_error_names_value_and_source() -> None:
    with pytest.raises(ConfigError) as info:
        parse_queue("critical,x", "--queue")
    assert str(info.value).startswith("invalid queue weight 'x' for queue 'critical' in --queue")


@pytest.mark.parametrize("text", ["", ",3", "my queue", "a,1,2"])
def test_parse_queue_rejects_bad_names_and_shapes(text: str) -> None:
    with pytest.raises(ConfigError, match="in --queue"):
        parse_queue(text, "--queue")


# -- sources --------------------------------------------------------------------------------------


def test_no_sources_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(cwd=tmp_path) == Settings()


def test_yaml_file_under_config_is_found(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "concurrency: 5\ntimeout: 8\n")
    settings = load_settings(cwd=tmp_path)
    assert (settings.concurrency, settings.timeout) == (5, 8.0)


def test_pyproject_tool_henchman_is_read(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.henchman]\nconcurrency = 4\nqueues = ["a,2", "b"]\n')
    settings = load_settings(cwd=tmp_path)
    assert settings.concurrency == 4
    assert settings.queues == (QueueSpec("a", 2), QueueSpec("b"))


def test_pyproject_without_table_is_ignored(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "app"\n')
    assert load_settings(cwd=tmp_path) == Settings()


def test_yaml_wins_over_pyproject_when_both_exist(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.henchman]\nconcurrency = 4\n")
    write(tmp_path, "config/henchman.yml", "concurrency: 6\n")
    assert load_settings(cwd=tmp_path).concurrency == 6


def test_given_config_file_replaces_discovery(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "concurrency: 6\n")
    write(tmp_path, "other.yaml", "concurrency: 7\n")
    assert load_settings(config_file=Path("other.yaml"), cwd=tmp_path).concurrency == 7


def test_given_toml_file_reads_tool_henchman(tmp_path: Path) -> None:
    path = write(tmp_path, "henchman.toml", "[tool.henchman]\ntag = 'app'\n")
    assert load_settings(config_file=path, cwd=tmp_path).tag == "app"


def test_given_toml_file_without_table_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "henchman.toml", "x = 1\n")
    message = config_error(tmp_path, config_file=Path("henchman.toml"))
    assert message == "no [tool.henchman] table in henchman.toml"


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, config_file=Path("nope.yml"))
    assert "'nope.yml' not found" in message


def test_unparsable_yaml_is_a_one_line_error(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "concurrency: [1,\n")
    assert config_error(tmp_path).startswith("cannot parse config/henchman.yml:")


def test_yaml_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "- 1\n- 2\n")
    assert "must hold a mapping" in config_error(tmp_path)


def test_env_vars_set_scalars(tmp_path: Path) -> None:
    env = {
        "HENCHMAN_CONCURRENCY": "3",
        "HENCHMAN_TIMEOUT": "1.5",
        "HENCHMAN_TAG": "web",
        "HENCHMAN_LOG_LEVEL": "debug",
        "HENCHMAN_HOME": "/var/henchman",
        "HENCHMAN_JSON_LOGS": "yes",
    }
    settings = load_settings(env=env, cwd=tmp_path)
    assert settings.concurrency == 3
    assert settings.timeout == 1.5
    assert settings.tag == "web"
    assert settings.log_level == "DEBUG"
    assert settings.home == Path("/var/henchman")
    assert settings.json_logs is True


def test_env_queues_use_colon_weights(tmp_path: Path) -> None:
    settings = load_settings(env={"HENCHMAN_QUEUES": "critical:3, default"}, cwd=tmp_path)
    assert settings.queues == (QueueSpec("critical", 3), QueueSpec("default"))


def test_env_queues_written_with_comma_weight_get_a_hint(tmp_path: Path) -> None:
    message = config_error(tmp_path, env={"HENCHMAN_QUEUES": "critical,3"})
    assert message == "invalid queue '3' in HENCHMAN_QUEUES (write weights as critical:3)"


@pytest.mark.parametrize(("text", "expected"), [("2.5", 2.5), ("25", 25.0)])
def test_float_settings_accept_numeric_strings(tmp_path: Path, text: str, expected: float) -> None:
    assert load_settings(env={"HENCHMAN_TIMEOUT": text}, cwd=tmp_path).timeout == expected


@pytest.mark.parametrize("text", ["soon", "nan", "inf"])
def test_float_settings_reject_non_numbers(tmp_path: Path, text: str) -> None:
    message = config_error(tmp_path, env={"HENCHMAN_TIMEOUT": text})
    assert message == f"setting 'timeout' in HENCHMAN_TIMEOUT must be a number, got {text!r}"


def test_env_lists_are_comma_separated(tmp_path: Path) -> None:
    settings = load_settings(
        env={"HENCHMAN_LABELS": "a, b", "HENCHMAN_REQUIRE": "app"}, cwd=tmp_path
    )
    assert (settings.labels, settings.require) == (("a", "b"), ("app",))


def test_empty_env_var_counts_as_unset(tmp_path: Path) -> None:
    assert load_settings(env={"HENCHMAN_CONCURRENCY": ""}, cwd=tmp_path).concurrency == 10


def test_redis_url_env_is_read(tmp_path: Path) -> None:
    settings = load_settings(env={"REDIS_URL": "redis://a:6379/0"}, cwd=tmp_path)
    assert settings.redis_url == "redis://a:6379/0"


def test_henchman_redis_url_wins_over_redis_url(tmp_path: Path) -> None:
    env = {"REDIS_URL": "redis://a:6379/0", "HENCHMAN_REDIS_URL": "redis://b:6379/1"}
    assert load_settings(env=env, cwd=tmp_path).redis_url == "redis://b:6379/1"


def test_flags_set_values_and_none_means_not_given(tmp_path: Path) -> None:
    flags = {"concurrency": 2, "tag": None, "queues": ("high,2", "low")}
    settings = load_settings(flags=flags, cwd=tmp_path)
    assert settings.concurrency == 2
    assert settings.tag is None
    assert settings.queues == (QueueSpec("high", 2), QueueSpec("low"))


def test_empty_list_flag_means_not_given(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "queues: [mail]\n")
    assert load_settings(flags={"queues": ()}, cwd=tmp_path).queues == (QueueSpec("mail"),)


# -- precedence -----------------------------------------------------------------------------------


def test_precedence_is_defaults_file_env_flags(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "concurrency: 5\ntimeout: 9\ntag: file\n")
    env = {"HENCHMAN_CONCURRENCY": "6", "HENCHMAN_TIMEOUT": "7"}
    settings = load_settings(env=env, flags={"concurrency": 8}, cwd=tmp_path)
    assert settings.tag == "file"
    assert settings.timeout == 7.0
    assert settings.concurrency == 8
    assert settings.max_retries == 25


def test_env_overrides_environment_section(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "production:\n  concurrency: 20\n")
    env = {"HENCHMAN_ENV": "production", "HENCHMAN_CONCURRENCY": "3"}
    assert load_settings(env=env, cwd=tmp_path).concurrency == 3


# -- per-environment sections ---------------------------------------------------------------------

SECTIONED = """\
concurrency: 5
tag: base
production:
  concurrency: 25
staging:
  concurrency: 15
"""


def test_default_environment_is_development(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", SECTIONED)
    settings = load_settings(cwd=tmp_path)
    assert (settings.environment, settings.concurrency) == ("development", 5)


def test_environment_section_overrides_top_level(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", SECTIONED)
    settings = load_settings(environment="production", cwd=tmp_path)
    assert (settings.environment, settings.concurrency, settings.tag) == ("production", 25, "base")


def test_henchman_env_selects_the_section(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", SECTIONED)
    assert load_settings(env={"HENCHMAN_ENV": "staging"}, cwd=tmp_path).concurrency == 15


def test_environment_argument_wins_over_henchman_env(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", SECTIONED)
    settings = load_settings(
        environment="production", env={"HENCHMAN_ENV": "staging"}, cwd=tmp_path
    )
    assert settings.concurrency == 25


def test_custom_environment_name_has_a_section(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "concurrency: 5\nqa:\n  concurrency: 2\n")
    assert load_settings(environment="qa", cwd=tmp_path).concurrency == 2


def test_pyproject_environment_subtable(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        "[tool.henchman]\nconcurrency = 4\n[tool.henchman.production]\nconcurrency = 40\n",
    )
    assert load_settings(environment="production", cwd=tmp_path).concurrency == 40


def test_unselected_sections_are_still_validated(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "production:\n  concurency: 5\n")
    message = config_error(tmp_path)
    assert message.startswith("unknown setting 'concurency' in config/henchman.yml (production)")


def test_section_inside_a_section_is_an_unknown_setting(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "production:\n  staging:\n    concurrency: 5\n")
    message = config_error(tmp_path, environment="production")
    assert message.startswith("unknown setting 'staging' in config/henchman.yml (production)")


def test_environment_cannot_be_set_in_the_file(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "environment: production\n")
    assert "setting 'environment' cannot be set in config/henchman.yml" in config_error(tmp_path)


# -- Sidekiq-style YAML ---------------------------------------------------------------------------


def test_sidekiq_style_yaml(tmp_path: Path) -> None:
    write(
        tmp_path,
        "config/henchman.yml",
        """\
:concurrency: 5
:queues:
  - [critical, 3]
  - [default, 2]
  - low
  - "mail,1"
production:
  :concurrency: 12
""",
    )
    settings = load_settings(environment="production", cwd=tmp_path)
    assert settings.concurrency == 12
    assert settings.queues == (
        QueueSpec("critical", 3),
        QueueSpec("default", 2),
        QueueSpec("low"),
        QueueSpec("mail", 1),
    )


def test_yaml_queue_pair_with_bad_weight(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", ":queues:\n  - [critical, 0]\n")
    assert config_error(tmp_path).startswith(
        "invalid queue weight 0 for queue 'critical' in config/henchman.yml"
    )


def test_duplicate_queue_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "queues: [a, a]\n")
    assert config_error(tmp_path) == "setting 'queues' in config/henchman.yml lists a queue twice"


def test_empty_queue_list_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "queues: []\n")
    assert "must be a non-empty list of queues" in config_error(tmp_path)


def test_key_given_with_and_without_colon_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", ":concurrency: 5\nconcurrency: 6\n")
    assert "'concurrency' is given twice" in config_error(tmp_path)


def test_extra_mapping_is_kept_for_plugins(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "extra:\n  scheduler: {enabled: true}\n")
    assert load_settings(cwd=tmp_path).extra == {"scheduler": {"enabled": True}}


# -- errors ---------------------------------------------------------------------------------------


def test_unknown_key_suggests_the_closest_setting(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "concurency: 5\n")
    assert config_error(tmp_path) == (
        "unknown setting 'concurency' in config/henchman.yml (did you mean 'concurrency'?)"
    )


def test_unknown_key_in_pyproject_names_the_table(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.henchman]\nzzz = 1\n")
    assert config_error(tmp_path) == "unknown setting 'zzz' in pyproject.toml [tool.henchman]"


def test_unknown_flag_is_an_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, flags={"concurency": 3})
    assert message.startswith("unknown setting 'concurency' in --concurency")


def test_bad_integer_names_key_and_env_var(tmp_path: Path) -> None:
    message = config_error(tmp_path, env={"HENCHMAN_CONCURRENCY": "ten"})
    assert message == "setting 'concurrency' in HENCHMAN_CONCURRENCY must be an integer, got 'ten'"


@pytest.mark.parametrize("value", ["0", "-2"])
def test_concurrency_below_one_is_an_error(tmp_path: Path, value: str) -> None:
    message = config_error(tmp_path, env={"HENCHMAN_CONCURRENCY": value})
    expected = f"setting 'concurrency' in HENCHMAN_CONCURRENCY must be at least 1, got {value}"
    assert message == expected


def test_negative_concurrency_in_file(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "concurrency: -1\n")
    assert config_error(tmp_path) == (
        "setting 'concurrency' in config/henchman.yml must be at least 1, got -1"
    )


def test_negative_timeout_flag_is_an_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, flags={"timeout": -1})
    assert message == "setting 'timeout' in --timeout must not be negative, got -1.0"


def test_zero_processes_is_an_error(tmp_path: Path) -> None:
    assert "setting 'processes' in --processes must be at least 1" in config_error(
        tmp_path, flags={"processes": 0}
    )


def test_bad_bool_is_an_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, env={"HENCHMAN_JSON_LOGS": "maybe"})
    assert message == "setting 'json_logs' in HENCHMAN_JSON_LOGS must be true or false, got 'maybe'"


@pytest.mark.parametrize(
    ("text", "expected"), [("true", True), ("1", True), ("no", False), ("OFF", False)]
)
def test_bool_strings(tmp_path: Path, text: str, expected: bool) -> None:
    settings = load_settings(env={"HENCHMAN_RELIABLE_PUSH": text}, cwd=tmp_path)
    assert settings.reliable_push is expected


def test_unknown_log_level_is_an_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, flags={"log_level": "chatty"})
    assert message.startswith("setting 'log_level' in --log-level must be one of")


def test_bad_queue_weight_in_env(tmp_path: Path) -> None:
    message = config_error(tmp_path, env={"HENCHMAN_QUEUES": "critical:x"})
    assert message.startswith("invalid queue weight 'x' for queue 'critical' in HENCHMAN_QUEUES")


def test_wrong_type_in_yaml_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "concurrency: [1]\n")
    assert config_error(tmp_path) == (
        "setting 'concurrency' in config/henchman.yml must be an integer, got [1]"
    )


def test_bad_redis_url_does_not_echo_the_password(tmp_path: Path) -> None:
    message = config_error(tmp_path, env={"REDIS_URL": "http://:hunter2@host"})
    assert message.startswith("setting 'redis_url' in REDIS_URL must start with")
    assert "hunter2" not in message


def test_non_mapping_section_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "production: 3\n")
    assert "section 'production' in config/henchman.yml must be a mapping" in config_error(tmp_path)


def test_bad_queue_weight_flag_names_the_cli_option(tmp_path: Path) -> None:
    message = config_error(tmp_path, flags={"queues": ("critical,x",)})
    assert message == (
        "invalid queue weight 'x' for queue 'critical' in --queue "
        "(must be an integer from 1 to 1000)"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("concurrency", 0, "setting 'concurrency' in Settings(concurrency=...) must be at least 1"),
        ("timeout", -3, "setting 'timeout' in Settings(timeout=...) must not be negative"),
        ("redis_url", "http://x", "setting 'redis_url' in Settings(redis_url=...) must start with"),
        ("log_level", "loud", "setting 'log_level' in Settings(log_level=...) must be one of"),
        ("fetch_timeout", 0, "setting 'fetch_timeout' in Settings(fetch_timeout=...) must be"),
    ],
)
def test_settings_built_directly_are_checked_like_loaded_ones(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings(**{field: value})  # type: ignore[arg-type]


def test_settings_built_directly_are_normalised_like_loaded_ones() -> None:
    settings = Settings(log_level="info", queues=("critical,3", "default"))  # type: ignore[arg-type]
    assert settings.log_level == "INFO"
    assert settings.queues == (QueueSpec("critical", 3), QueueSpec("default"))
    assert settings.replace(concurrency=3).queues == settings.queues


# -- processes ------------------------------------------------------------------------------------


def test_processes_default_to_auto_one_per_cpu(tmp_path: Path) -> None:
    assert load_settings(cwd=tmp_path).processes is None  # None: one per usable CPU


def test_processes_auto_is_accepted_from_file_env_and_flags(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "processes: auto\n")
    assert load_settings(cwd=tmp_path).processes is None
    assert load_settings(cwd=tmp_path, env={"HENCHMAN_PROCESSES": "AUTO"}).processes is None
    assert load_settings(cwd=tmp_path, env={"HENCHMAN_PROCESSES": "3"}).processes == 3


def test_processes_auto_flag_overrides_a_number_from_the_file(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "processes: 4\n")
    assert load_settings(cwd=tmp_path).processes == 4
    assert load_settings(cwd=tmp_path, flags={"processes": "auto"}).processes is None


@pytest.mark.parametrize("text", ["lots", "0", "-1", "2.5"])
def test_processes_refuse_anything_but_a_positive_count_or_auto(tmp_path: Path, text: str) -> None:
    message = config_error(tmp_path, env={"HENCHMAN_PROCESSES": text})
    assert message.startswith("setting 'processes' in HENCHMAN_PROCESSES must be ")
    assert text in message
