"""The deployment files agree with the code: docker-compose.yml, Dockerfile, .env.example.

Docker is not needed: the files are parsed and compared with settings.py and the demo app.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "rxrevops" / "settings.py"
APP_SERVICES = ("web", "worker", "beat")

# env.str("NAME", ...), env.bool(\n "NAME"), env("NAME") ... as django-environ is called
SETTINGS_READ = re.compile(r'\benv(?:\.[a-z_]+)?\(\s*"([A-Z][A-Z0-9_]*)"')
# os.environ.get("NAME"), os.environ["NAME"], os.getenv("NAME")
OS_ENVIRON_READ = re.compile(
    r'\bos\.(?:environ\.get\(|environ\[|getenv\()\s*"([A-Z][A-Z0-9_]*)"',
)
# NAME=value, active or commented out
ENV_EXAMPLE_ASSIGNMENT = re.compile(r"^#?[ \t]*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def command_words(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command]


def command_text(service: dict[str, Any]) -> str:
    return " ".join(command_words(service))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            pairs.append((instruction.upper(), args.strip()))
    return pairs


def settings_literal(name: str) -> Any:
    """The literal value assigned to a module-level name in settings.py."""
    for node in ast.parse(SETTINGS.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned in settings.py")


def variables_read_by_settings() -> set[str]:
    names = set(SETTINGS_READ.findall(SETTINGS.read_text()))
    # guard against a regex that silently matches nothing
    assert {"RXREVOPS_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= names
    return names


def variables_read_by_demo() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "demo").rglob("*.py"):
        text = path.read_text()
        names |= set(OS_ENVIRON_READ.findall(text)) | set(SETTINGS_READ.findall(text))
    return names


def variables_documented() -> set[str]:
    return set(ENV_EXAMPLE_ASSIGNMENT.findall((ROOT / ".env.example").read_text()))


# --- docker-compose.yml -------------------------------------------------------------------


def test_compose_defines_postgres_redis_web_worker_and_beat(
    services: dict[str, dict[str, Any]],
) -> None:
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert str(services["postgres"]["image"]).startswith("postgres:15")
    assert str(services["redis"]["image"]).startswith("redis:7")


def test_compose_runs_web_worker_beat_from_one_image(
    services: dict[str, dict[str, Any]],
) -> None:
    builds = {json.dumps(services[name]["build"], sort_keys=True) for name in APP_SERVICES}
    images = {services[name]["image"] for name in APP_SERVICES}
    assert builds == {json.dumps(".")}
    assert images == {"rxrevops:latest"}


def test_compose_gives_every_app_service_the_same_environment(
    services: dict[str, dict[str, Any]],
) -> None:
    environments = [services[name]["environment"] for name in APP_SERVICES]
    assert all(env == environments[0] for env in environments)
    env = environments[0]
    assert env["RXREVOPS_ENV"] == "production"
    assert env["DATABASE_URL"] == "postgres://rxrevops:rxrevops@postgres:5432/rxrevops"
    assert env["REDIS_URL"] == "redis://redis:6379/0"


def test_compose_requires_a_secret_key_instead_of_shipping_one(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["web"]["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_compose_keeps_uploads_on_a_named_volume_shared_by_web_and_workers(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    media_root = services["web"]["environment"]["MEDIA_ROOT"]
    for name in ("web", "worker"):
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in services[name]["volumes"]}
        assert mounts[media_root] in compose["volumes"]


def test_worker_consumes_every_queue_the_settings_route_to(
    services: dict[str, dict[str, Any]],
) -> None:
    words = command_words(services["worker"])
    assert words[:4] == ["celery", "-A", "rxrevops", "worker"]
    queues = words[words.index("--queues") + 1].split(",")
    assert sorted(queues) == sorted(["ingest", "recon", "analytics", "default"])
    assert set(settings_literal("RXREVOPS_QUEUES")) == set(queues)
    routed = {route["queue"] for route in settings_literal("CELERY_TASK_ROUTES").values()}
    assert routed | {settings_literal("CELERY_TASK_DEFAULT_QUEUE")} <= set(queues)


def test_beat_runs_once_with_a_writable_schedule_file(
    services: dict[str, dict[str, Any]],
) -> None:
    words = command_words(services["beat"])
    assert words[:4] == ["celery", "-A", "rxrevops", "beat"]
    # the image's /app belongs to root; the non-root user can write to the temp directory
    assert Path(words[words.index("--schedule") + 1]).parent == Path("/", "tmp")
    assert "deploy" not in services["beat"]  # no replicas: a second beat doubles every task


def test_web_waits_for_healthy_postgres_and_redis(services: dict[str, dict[str, Any]]) -> None:
    depends_on = services["web"]["depends_on"]
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]


def test_web_migrates_before_starting_gunicorn_on_port_8000(
    services: dict[str, dict[str, Any]],
) -> None:
    command = command_text(services["web"])
    assert "python manage.py migrate --no-input &&" in command
    assert command.index("migrate") < command.index("gunicorn rxrevops.wsgi")
    assert "--bind 0.0.0.0:8000" in command
    assert "8000:8000" in services["web"]["ports"]


def test_web_healthcheck_probes_healthz(services: dict[str, dict[str, Any]]) -> None:
    probe = " ".join(services["web"]["healthcheck"]["test"])
    assert "urllib.request" in probe
    assert "http://localhost:8000/healthz" in probe


# --- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_builds_on_python_311_slim_and_installs_with_the_lock() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(args for name, args in instructions if name == "RUN")
    assert "pip install -c requirements.lock ." in runs
    assert "collectstatic --no-input" in runs


def test_dockerfile_uses_a_throwaway_secret_key_only_for_collectstatic() -> None:
    instructions = dockerfile_instructions()
    persisted = " ".join(args for name, args in instructions if name in {"ENV", "ARG"})
    assert "SECRET_KEY" not in persisted
    collect = next(args for name, args in instructions if "collectstatic" in args)
    assert "RXREVOPS_ENV=production" in collect
    assert "SECRET_KEY=" in collect


def test_dockerfile_runs_as_a_non_root_user_and_exposes_8000() -> None:
    instructions = dockerfile_instructions()
    users = [args for name, args in instructions if name == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert ("EXPOSE", "8000") in instructions


def test_dockerfile_cmd_runs_gunicorn_rxrevops_wsgi() -> None:
    cmds = [args for name, args in dockerfile_instructions() if name == "CMD"]
    assert len(cmds) == 1
    command = json.loads(cmds[0])
    assert command[:2] == ["gunicorn", "rxrevops.wsgi"]
    assert "0.0.0.0:8000" in command


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "var", "test-artifacts"} <= ignored


# --- .env.example -------------------------------------------------------------------------


def test_env_example_documents_every_variable_the_settings_read() -> None:
    missing = variables_read_by_settings() - variables_documented()
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_documents_the_demo_password() -> None:
    assert "DEMO_PASSWORD" in variables_read_by_demo()
    assert "DEMO_PASSWORD" in variables_documented()


def test_env_example_lists_only_variables_the_code_reads() -> None:
    unread = variables_documented() - variables_read_by_settings() - variables_read_by_demo()
    assert not unread, f"not read by settings.py or demo/: {sorted(unread)}"


def test_env_example_states_default_and_production_need_for_each_variable() -> None:
    text = (ROOT / ".env.example").read_text()
    blocks = re.split(r"\n\s*\n", text)
    for name in variables_documented():
        block = next(b for b in blocks if re.search(rf"^#?[ \t]*{name}=", b, re.MULTILINE))
        assert "Default:" in block, name
        assert "Production:" in block, name
