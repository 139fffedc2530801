"""Paths read from env vars land where Kubernetes `env:` / compose `environment:` put them (AD301,
AD302), on real trees scanned through `scan_paths`."""

from pathlib import Path

from autogen_doctor.scan.deploy.envpaths import EPHEMERAL, PERSISTENT, place
from autogen_doctor.scan.deploy.facts import MOUNT_EMPTYDIR, MOUNT_PERSISTENT, Mount, Position
from autogen_doctor.scan.engine import scan_paths


def service(path_expression: str, imports: str = "") -> str:
    return f'''import json
import os
from pathlib import Path
{imports}
from fastapi import FastAPI

app = FastAPI()
HISTORY_DIR = {path_expression}


@app.post("/chat")
async def chat(body: dict):
    path = Path(HISTORY_DIR) / f"{{body['session_id']}}.json"
    path.write_text(json.dumps(body))
    return {{}}
'''


def manifest(env_name="HISTORY_DIR", env_value="/app/history", mount_path="/app/history",
             volume="emptyDir: {}", replicas=1, kind="Deployment", extra_spec="") -> str:
    mounts = (f"          volumeMounts:\n            - name: history\n              mountPath: {mount_path}\n"
              if mount_path else "")
    volumes = f"      volumes:\n        - name: history\n          {volume}\n" if volume else ""
    return (f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: chat\nspec:\n  replicas: {replicas}\n"
            f"{extra_spec}  template:\n    spec:\n      containers:\n        - name: api\n          image: chat:1\n"
            f"          env:\n            - name: {env_name}\n              value: {env_value}\n"
            f"{mounts}{volumes}")


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def findings(root: Path, code: str):
    result = scan_paths([root], use_cache=False)
    assert result.errors == []
    return [finding for finding in result.findings if finding.code == code]


def line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def test_getenv_without_default_on_an_emptydir_is_reported_with_the_variable_manifest_line_and_mount(tmp_path):
    text = manifest()
    write(tmp_path, {"app.py": service('os.getenv("HISTORY_DIR")'), "deploy/chat.yaml": text})
    [finding] = findings(tmp_path, "AD301")
    assert "`$HISTORY_DIR`" in finding.message and "/app/history" in finding.message
    assert f"deploy/chat.yaml:{line_of(text, 'name: HISTORY_DIR')}" in finding.message
    assert "emptyDir volume 'history'" in finding.message
    manifest_steps = [step for step in finding.trace if step.path.endswith("chat.yaml")]
    expected = [line_of(text, "name: HISTORY_DIR"), line_of(text, "- name: history")]
    assert [step.line for step in manifest_steps] == expected
    assert finding.severity.value == "warning"  # one replica: nothing scales


def test_environ_get_default_is_replaced_by_the_manifest_value_and_escalates_when_scaled(tmp_path):
    write(tmp_path, {"app.py": service('os.environ.get("HISTORY_DIR", "./history")'),
                     "deploy/chat.yaml": manifest(replicas=3)})
    [finding] = findings(tmp_path, "AD301")
    assert "`$HISTORY_DIR`" in finding.message and "./history" not in finding.message
    assert finding.severity.value == "error" and "replicas: 3" in finding.message


def test_environ_subscript_through_path_on_compose_tmpfs(tmp_path):
    compose = ("services:\n  web:\n    build: .\n    environment:\n      STATE_DIR: /state\n"
               "    tmpfs:\n      - /state\n")
    write(tmp_path, {"app.py": service('Path(os.environ["STATE_DIR"]) / "chats"'), "compose.yaml": compose})
    [finding] = findings(tmp_path, "AD301")
    assert "`$STATE_DIR`" in finding.message and "tmpfs mounted at /state" in finding.message
    assert any(step.path.endswith("compose.yaml") and step.line == 5 for step in finding.trace)


def test_env_pointing_at_tmp_or_at_no_volume_is_ephemeral(tmp_path):
    write(tmp_path, {"app.py": service('os.getenv("HISTORY_DIR")'),
                     "deploy/chat.yaml": manifest(env_value="/data/history", mount_path="", volume="")})
    [finding] = findings(tmp_path, "AD301")
    assert "no volume is mounted" in finding.message
    write(tmp_path, {"deploy/chat.yaml": manifest(env_value="/tmp/history", mount_path="", volume="")})
    [finding] = findings(tmp_path, "AD301")
    assert "temporary storage" in finding.message


def test_sqlite_path_from_env_on_an_emptydir_is_ad302(tmp_path):
    code = ('import os\nimport sqlite3\n\nconnection = sqlite3.connect(os.getenv("DB_PATH"))\n'
            'connection.execute("CREATE TABLE IF NOT EXISTS chats (sid TEXT, body TEXT)")\n')
    write(tmp_path, {"store.py": code,
                     "deploy/chat.yaml": manifest(env_name="DB_PATH", env_value="/app/history/chat.db")})
    [finding] = findings(tmp_path, "AD302")
    assert "`$DB_PATH`" in finding.message and "emptyDir" in finding.message


# ---------- clean twins ----------

def test_env_on_a_persistent_volume_claim_is_silent_even_with_a_tmp_default(tmp_path):
    write(tmp_path, {"app.py": service('os.environ.get("HISTORY_DIR", "/tmp/history")'),
                     "deploy/chat.yaml": manifest(volume="persistentVolumeClaim: {claimName: history}", replicas=3)})
    assert findings(tmp_path, "AD301") == []


def test_statefulset_claim_template_is_persistent(tmp_path):
    claims = ("  volumeClaimTemplates:\n    - metadata: {name: history}\n"
              "      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n")
    write(tmp_path, {"app.py": service('os.getenv("HISTORY_DIR", "./history")'),
                     "deploy/chat.yaml": manifest(kind="StatefulSet", volume="", extra_spec=claims)})
    assert findings(tmp_path, "AD301") == []


def test_compose_named_and_bind_volumes_are_persistent(tmp_path):
    for volume in ("history:/state", "./data:/state"):
        compose = (f"services:\n  web:\n    build: .\n    environment:\n      - STATE_DIR=/state/chats\n"
                   f"    volumes:\n      - {volume}\nvolumes:\n  history: {{}}\n")
        write(tmp_path, {"app.py": service('os.environ.get("STATE_DIR", "./chats")'), "compose.yaml": compose})
        assert findings(tmp_path, "AD301") == [], volume


def test_sqlite_on_a_pvc_from_env_is_silent(tmp_path):
    code = ('import os\nimport sqlite3\n\nconnection = sqlite3.connect(os.getenv("DB_PATH", "chat.db"))\n'
            'connection.execute("CREATE TABLE IF NOT EXISTS chats (sid TEXT, body TEXT)")\n')
    write(tmp_path, {"store.py": code,
                     "deploy/chat.yaml": manifest(env_name="DB_PATH", env_value="/app/history/chat.db",
                                                  volume="persistentVolumeClaim: {claimName: db}")})
    assert findings(tmp_path, "AD302") == []


def test_env_var_no_manifest_sets_leaves_the_code_default_in_charge(tmp_path):
    write(tmp_path, {"app.py": service('os.getenv("HISTORY_DIR")'),
                     "deploy/chat.yaml": manifest(env_name="LOG_LEVEL", env_value="/app/history")})
    assert findings(tmp_path, "AD301") == []  # no default, not set: nothing known
    write(tmp_path, {"app.py": service('os.getenv("HISTORY_DIR", "./history")')})
    [finding] = findings(tmp_path, "AD301")
    assert "the default of `$HISTORY_DIR" in finding.message and "which Deployment" not in finding.message


def test_place_picks_the_deepest_mount_and_ignores_urls():
    where = Position(1, 1, "")
    mounts = [Mount("/app", MOUNT_PERSISTENT, "app", where), Mount("/app/scratch", MOUNT_EMPTYDIR, "s", where)]
    assert place("/app/scratch/chats", mounts)[0] == EPHEMERAL
    assert place("/app/chats", mounts)[0] == PERSISTENT
    assert place("/application", mounts)[0] == EPHEMERAL  # not under /app: no volume
    assert place("redis://cache:6379/0", mounts) is None and place("${HOME}/x", mounts) is None


def test_compose_interpolation_default_is_the_value_and_a_bare_variable_is_unknown(tmp_path):
    compose = ("services:\n  web:\n    build: .\n    environment:\n      HISTORY_DIR: ${HISTORY_DIR:-/state}\n"
               "    tmpfs: /state\n")
    write(tmp_path, {"app.py": service('os.getenv("HISTORY_DIR")'), "compose.yaml": compose})
    [finding] = findings(tmp_path, "AD301")
    assert "sets to `/state`" in finding.message
    write(tmp_path, {"compose.yaml": compose.replace("${HISTORY_DIR:-/state}", "${HISTORY_DIR}")})
    assert findings(tmp_path, "AD301") == []


def configmap_manifest(env_block: str, volume: str = "emptyDir: {}") -> str:
    """A Deployment whose container takes HISTORY_DIR from a ConfigMap (`env_block`)."""
    return ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: chat\nspec:\n  replicas: 2\n"
            "  template:\n    spec:\n      containers:\n        - name: api\n          image: chat:1\n"
            f"{env_block}"
            "          volumeMounts:\n            - name: history\n              mountPath: /app/history\n"
            f"      volumes:\n        - name: history\n          {volume}\n")


CONFIG_MAP = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chat-config\ndata:\n"
              "  LOG_LEVEL: info\n  HISTORY_DIR: /app/history\n")
KEY_REF = ("          env:\n            - name: HISTORY_DIR\n              valueFrom:\n"
           "                configMapKeyRef:\n                  name: chat-config\n                  key: HISTORY_DIR\n")
ENV_FROM = "          envFrom:\n            - configMapRef:\n                name: chat-config\n"


def test_a_path_set_through_a_configmap_in_another_file_lands_on_the_emptydir(tmp_path):
    for env_block in (KEY_REF, ENV_FROM):
        write(tmp_path, {"app.py": service('os.environ["HISTORY_DIR"]'),
                         "deploy/chat.yaml": configmap_manifest(env_block), "deploy/config.yaml": CONFIG_MAP})
        [finding] = findings(tmp_path, "AD301")
        assert "`$HISTORY_DIR`, which Deployment 'chat' (container 'api') takes from ConfigMap 'chat-config' as" \
            in finding.message and "emptyDir volume 'history'" in finding.message
        # the value's line is in the ConfigMap's file, the mount's in the Deployment's
        steps = [(step.path.rsplit("/", 1)[-1], step.line) for step in finding.trace if step.path.endswith(".yaml")]
        assert steps == [("config.yaml", line_of(CONFIG_MAP, "HISTORY_DIR:")),
                         ("chat.yaml", line_of(configmap_manifest(env_block), "- name: history"))]
        assert finding.severity.value == "error"  # two replicas


def test_a_configmap_path_on_a_claim_is_silent_and_an_unknown_configmap_keeps_the_code_default(tmp_path):
    claim = "persistentVolumeClaim:\n            claimName: history"
    write(tmp_path, {"app.py": service('os.environ.get("HISTORY_DIR", "./history")'),
                     "deploy/chat.yaml": configmap_manifest(KEY_REF, volume=claim), "deploy/config.yaml": CONFIG_MAP})
    assert findings(tmp_path, "AD301") == []
    # a ConfigMap made outside the tree: its value is unknown, the code's default speaks
    (tmp_path / "deploy/config.yaml").unlink()
    [finding] = findings(tmp_path, "AD301")
    assert "`./history`, the default of `$HISTORY_DIR`" in finding.message


def test_envfrom_prefix_renames_the_configmap_keys(tmp_path):
    prefixed = ENV_FROM.replace("          envFrom:\n            - configMapRef:",
                                "          envFrom:\n            - prefix: APP_\n              configMapRef:")
    write(tmp_path, {"app.py": service('os.environ["APP_HISTORY_DIR"]'),
                     "deploy/chat.yaml": configmap_manifest(prefixed), "deploy/config.yaml": CONFIG_MAP})
    [finding] = findings(tmp_path, "AD301")
    assert "`$APP_HISTORY_DIR`" in finding.message
    write(tmp_path, {"app.py": service('os.environ["HISTORY_DIR"]')})
    assert all("`$HISTORY_DIR`, which" not in finding.message for finding in findings(tmp_path, "AD301"))
