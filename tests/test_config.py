from __future__ import annotations

from pathlib import Path

import pytest

from core.config import BUNDLED_CONFIG, ConfigError, find_config_path, load_config

SKETCH = """
data_dir: ./data
timezone: Asia/Shanghai
brands:
  - name: Acme
    keywords: ["Acme", "艾克米"]
    exclude: ["Acme Corp stock"]
    aspects:
      food_safety: {keywords: ["食物中毒", "拉肚子", "food poisoning"], critical: true}
      price: {keywords: ["太贵", "expensive", "price"]}
kols:
  - {name: "美食家小王", followers: 1200000}
sources:
  - {name: sample, type: rss, path: examples/feeds/sample.xml, every: 1m}
  - {name: news, type: rss, url: "http://127.0.0.1:8765/feed.xml", every: 5m}
destinations:
  console: {type: console}
routes:
  - match: {flags: [negative, question, kol, critical]}
    to: [console]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "buzzwatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_issue_sketch_loads_as_it_is(tmp_path: Path) -> None:
    config, path = load_config(write(tmp_path, SKETCH))
    assert path == tmp_path / "buzzwatch.yaml"
    assert config.sources[0].every.total_seconds() == 60
    assert config.sources[1].every.total_seconds() == 300
    assert config.brands[0].aspects["food_safety"].critical is True
    assert config.routes[0].to == ["console"]


@pytest.mark.parametrize(
    "example", sorted(BUNDLED_CONFIG.parent.glob("*.yaml")), ids=lambda p: p.name
)
def test_every_bundled_example_loads_and_finds_its_feeds(example: Path) -> None:
    config, _ = load_config(example)
    assert config.sources and config.destinations and config.routes
    assert all(Path(s.path).is_file() for s in config.sources if getattr(s, "path", None))


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (SKETCH.replace("every: 5m", "every: often"), "sources[1].every: not a duration"),
        (
            SKETCH.replace('url: "http://127.0.0.1:8765/feed.xml"', 'url: "file:///etc/passwd"'),
            "sources[1]: url must start with http",
        ),
        (SKETCH.replace("to: [console]", "to: [slack]"), "unknown destination 'slack'"),
        (SKETCH.replace("Asia/Shanghai", "Mars/Olympus"), "timezone: unknown timezone"),
        (
            SKETCH.replace("critical: true", "critical: maybe"),
            "brands[0].aspects.food_safety.critical",
        ),
        (SKETCH.replace("type: rss, path", "type: gopher, path"), "sources[0]"),
        (SKETCH + "\nsurprise: 1\n", "surprise: unknown key"),
        (
            SKETCH.replace("data_dir:", "data_dri:"),
            "data_dri: unknown key, did you mean 'data_dir'?",
        ),
        # Misspelt keys inside lists, mappings and typed sources get the hint too.
        (
            SKETCH.replace('    keywords: ["Acme"', '    keyword: ["Acme"'),
            "brands[0].keyword: unknown key, did you mean 'keywords'?",
        ),
        (
            SKETCH.replace("price: {keywords:", "price: {keyword:"),
            "brands[0].aspects.price.keyword: unknown key, did you mean 'keywords'?",
        ),
        (
            SKETCH.replace("every: 1m}", "evry: 1m}"),
            "sources[0].evry: unknown key, did you mean 'every'?",
        ),
        (
            SKETCH.replace("match: {flags:", "match: {flag:"),
            "routes[0].match.flag: unknown key, did you mean 'flags'?",
        ),
        (SKETCH.replace("{name: news,", "{name: sample,"), "source names must be unique"),
    ],
)
def test_errors_name_the_file_the_key_and_the_problem(
    tmp_path: Path, bad: str, expected: str
) -> None:
    path = write(tmp_path, bad)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert expected in message


def test_broken_yaml_says_where(tmp_path: Path) -> None:
    path = write(tmp_path, "brands: [\n  - name: x\n")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line \d+, column \d+\)"):
        load_config(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config_path(None) == BUNDLED_CONFIG
    (tmp_path / "buzzwatch.yaml").write_text(SKETCH, encoding="utf-8")
    assert find_config_path(None) == Path("buzzwatch.yaml")
    monkeypatch.setenv("BUZZWATCH_CONFIG", "/elsewhere.yaml")
    assert find_config_path(None) == Path("/elsewhere.yaml")
    assert find_config_path("cli.yaml") == Path("cli.yaml")


def test_check_config_warns_only_about_variables_that_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.config import config_warnings
    from tests.conftest import make_config

    for var in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DINGTALK_WEBHOOK"):
        monkeypatch.delenv(var, raising=False)
    socket = make_config(
        tmp_path,
        slack={"mode": "socket"},
        dingtalk={},
        destinations={
            "team": {"type": "slack", "channel": "C0123456789"},
            "group": {"type": "dingtalk", "webhook_env": "DINGTALK_WEBHOOK"},
            "console": {"type": "console"},
        },
    )
    text = "\n".join(config_warnings(socket))
    for used in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DINGTALK_WEBHOOK"):
        assert used in text
    for unused in ("SLACK_SIGNING_SECRET", "DINGTALK_APP_KEY", "DINGTALK_APP_SECRET"):
        assert unused not in text
    http = make_config(tmp_path, slack={"mode": "http"}, dingtalk={"stream": {"enabled": True}})
    text = "\n".join(config_warnings(http))
    assert "SLACK_SIGNING_SECRET" in text and "SLACK_APP_TOKEN" not in text
    assert "DINGTALK_APP_KEY" in text and "DINGTALK_APP_SECRET" in text


def test_the_database_variable_is_asked_for_only_with_the_postgres_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.config import config_warnings
    from tests.conftest import make_config

    monkeypatch.delenv("BUZZWATCH_DATABASE_URL", raising=False)
    embedded = make_config(tmp_path)
    assert not any("BUZZWATCH_DATABASE_URL" in w for w in config_warnings(embedded))
    shared = make_config(tmp_path, storage={"backend": "postgres"})
    assert any("BUZZWATCH_DATABASE_URL" in w for w in config_warnings(shared))


@pytest.mark.parametrize(
    ("where", "typed", "said"),
    [
        (
            "digest",
            "time: 9:30",
            'digest.time: YAML read 9:30 as the number 570: put the time in quotes, "09:30"',
        ),
        (
            "quiet",
            "start: 22:00",
            'quiet_hours.start: YAML read 22:00 as the number 1320: put the time in quotes, "22:00"',
        ),
        (
            "quiet",
            "end: 9",
            'quiet_hours.end: use a 24-hour local time in quotes, like "09:00", not 9',
        ),
        (
            "quiet",
            'start: "10pm"',
            "quiet_hours.start: use a 24-hour local time like \"22:00\", not '10pm'",
        ),
    ],
)
def test_a_time_of_day_that_is_no_quoted_hh_mm_says_what_to_write(
    tmp_path: Path, where: str, typed: str, said: str
) -> None:
    """Unquoted, YAML reads 22:00 as 1320 (base 60): "Input should be a valid string" and a
    regular expression for "10pm" told a new user nothing."""
    quiet = {"start": '"22:00"', "end": '"09:00"'}
    digest = 'time: "09:00"'
    if where == "digest":
        digest = typed
    else:
        key = typed.split(":")[0]
        quiet[key] = typed.split(": ", 1)[1]
    text = f"""
brands: [{{name: Acme, keywords: [Acme]}}]
destinations:
  team:
    type: console
    quiet_hours:
      start: {quiet["start"]}
      end: {quiet["end"]}
routes: [{{to: [team]}}]
digest:
  {digest}
"""
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert said in str(caught.value)


@pytest.mark.parametrize(
    ("section", "said"),
    [
        (
            "sources: [{name: news, type: RSS, url: 'https://example.com/f.xml'}]",
            "sources[0]: type 'RSS' is not one of rss, google_news,",
        ),
        (
            "destinations: {team: {type: Slack}}",
            "destinations.team: type 'Slack' is not one of console, webhook, slack, dingtalk; did you mean 'slack'?",
        ),
    ],
)
def test_an_unknown_type_is_said_plainly_with_the_likely_one(
    tmp_path: Path, section: str, said: str
) -> None:
    """It was pydantic's "Input tag 'RSS' found using 'type' does not match any of the
    expected tags: ..."."""
    path = tmp_path / "c.yaml"
    path.write_text(f"brands: [{{name: Acme, keywords: [Acme]}}]\n{section}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert said in str(caught.value) and "Input tag" not in str(caught.value)
    if "RSS" in section:
        assert str(caught.value).endswith("did you mean 'rss'?")
