"""The deployment files cannot run here (no Docker engine, no cluster), so they are kept honest by
reading them. deploy/docker-compose.yml: official images, every service wired with the variables the
launcher gives it, and every secret a service refuses to start without. deploy/k8s: rendered,
validated against the Kubernetes 1.31 schemas offline, and read for probes, replicas, security,
migrations, secret references and Ingress routes (below)."""

from __future__ import annotations

import copy
import importlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopcommon.devstack.launcher import service_urls_env
from shopcommon.devstack.stack import StackUrls
from shopcommon.services import ServiceSpec, discover_services

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
SPECS = discover_services()


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (service.get("environment") or {}).items()}


def settings_class(spec: ServiceSpec) -> Any:
    package = spec.app_factory.split(".")[0]
    return importlib.import_module(f"{package}.config").Settings


def test_infrastructure_uses_the_official_images() -> None:
    images = {name: svc.get("image", "") for name, svc in COMPOSE["services"].items()}
    assert images["postgres"].startswith("postgres:")
    assert images["redis"].startswith("redis:")
    assert "redpandadata/redpanda" in images["redpanda"]
    assert images["mailpit"].startswith("axllent/mailpit")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_service_is_built_from_the_dockerfile_on_its_port(spec: ServiceSpec) -> None:
    svc = COMPOSE["services"][spec.name]
    assert svc["build"]["args"]["SERVICE"] == spec.name
    assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
    # Published to the host (checkout, bookings) or reachable inside the compose network only.
    assert f"{spec.port}:{spec.port}" in svc.get("ports", []) or str(spec.port) in map(str, svc.get("expose", []))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_service_gets_the_launchers_variables(spec: ServiceSpec) -> None:
    env = env_of(COMPOSE["services"][spec.name])
    stack_vars = set(StackUrls("", "", "", "", "").as_env())
    expected = stack_vars | set(service_urls_env(SPECS))
    assert expected <= set(env), expected - set(env)
    assert env["APP_ENV"].startswith("${APP_ENV:-prod}")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_secret_a_service_requires_is_provided(spec: ServiceSpec) -> None:
    env = env_of(COMPOSE["services"][spec.name])
    settings = settings_class(spec)
    prefix = settings.model_config.get("env_prefix", "")
    for field in settings.secret_fields:
        assert f"{prefix}{field}".upper() in env, f"{spec.name} needs {prefix}{field}".upper()


def test_the_dockerfile_builds_any_service_and_migrates_before_serving() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "ARG SERVICE" in dockerfile
    assert "shopcommon.prestart" in dockerfile
    assert "USER shop" in dockerfile


# ---------------------------------------------------------------------------------------------------
# Kubernetes (deploy/k8s): rendered here as `kubectl kustomize` renders it, for the features the
# kustomizations use (resources, namespace, images, labels, JSON 6902 patches with a target), then
# every object validated against the Kubernetes 1.31 schemas bundled with kubernetes-validate
# (offline) and read for what the cluster relies on.

K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.31.0"
KUSTOMIZATIONS = [K8S / "base", K8S / "overlays" / "dev"]
#: Cluster-wide kinds: `namespace:` leaves them alone.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "IngressClass", "PriorityClass"}
#: The HTTP services with no state of their own in the process (everything lives in PostgreSQL,
#: Redis or the broker): scaled by an HPA. Notifications' consumer group is bound to the
#: partitions of its topics and its SSE streams are long-lived: scaled by hand.
AUTOSCALED = {"checkout", "loms", "product-stub", "bookings"}


class KustomizeError(Exception):
    pass


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"not a JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _step(node: Any, key: str) -> Any:
    if isinstance(node, list):
        return node[int(key)]
    if key not in node:
        raise KeyError(key)
    return node[key]


def apply_json6902(doc: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    """RFC 6902 add/replace/remove, failing (as kustomize does) on a path that is not there."""
    for op in ops:
        *parents, last = _pointer(op["path"])
        try:
            node: Any = doc
            for key in parents:
                node = _step(node, key)
            if op["op"] == "add":
                if isinstance(node, list):
                    node.insert(len(node) if last == "-" else int(last), op["value"])
                else:
                    node[last] = op["value"]
            elif op["op"] == "replace":
                _step(node, last)
                node[int(last) if isinstance(node, list) else last] = op["value"]
            elif op["op"] == "remove":
                _step(node, last)
                del node[int(last) if isinstance(node, list) else last]
            else:
                raise KustomizeError(f"unsupported op {op['op']!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise KustomizeError(f"{op['op']} {op['path']}: no such path in {kind_name(doc)}") from exc


def kind_name(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def _matches(doc: dict[str, Any], target: dict[str, Any]) -> bool:
    group, _, version = doc["apiVersion"].rpartition("/")
    return (
        target.get("kind", doc["kind"]) == doc["kind"]
        and target.get("name", doc["metadata"]["name"]) == doc["metadata"]["name"]
        and target.get("group", group) == group
        and target.get("version", version) == version
    )


def _pod_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
    pod = template.get("spec")
    if not pod:
        return []
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def image_name(image: str) -> str:
    """`registry/repo:tag@digest` without its tag and digest."""
    image = image.split("@", maxsplit=1)[0]
    head, _, last = image.rpartition("/")
    return f"{head}/{last.split(':')[0]}" if head else last.split(":")[0]


SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "labels", "patches"}


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects a kustomization directory renders to."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    if unsupported:
        raise KustomizeError(f"{directory}: this renderer does not do {sorted(unsupported)}")
    docs: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            docs += render(path)
        else:
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in kustomization.get("patches", []):
        targets = [d for d in docs if _matches(d, patch["target"])]
        if not targets:
            raise KustomizeError(f"{directory}: patch target {patch['target']} matches nothing")
        for doc in targets:
            apply_json6902(doc, yaml.safe_load(patch["patch"]))
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        used = False
        for doc in docs:
            for container in _pod_containers(doc):
                name = image_name(container["image"])
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
                    used = True
        if not used:
            raise KustomizeError(f"{directory}: image {image['name']} is used by no container")
    for label in kustomization.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise KustomizeError("labels into selectors or templates are not rendered here")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(label["pairs"])
    return docs


RENDERED = {d.name if d.name != "dev" else "overlays/dev": render(d) for d in KUSTOMIZATIONS}


def objects(kind: str, rendered: str = "base") -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in RENDERED[rendered] if d["kind"] == kind}


def pod_spec(spec: ServiceSpec) -> dict[str, Any]:
    spec_: dict[str, Any] = objects("Deployment")[spec.name]["spec"]["template"]["spec"]
    return spec_


def server(spec: ServiceSpec) -> dict[str, Any]:
    containers = pod_spec(spec)["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def env_names(container: dict[str, Any]) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        names |= set(objects("ConfigMap")[source["configMapRef"]["name"]]["data"])
    return names


@pytest.mark.parametrize("rendered", sorted(RENDERED))
def test_every_manifest_is_valid_kubernetes_1_31(rendered: str) -> None:
    import kubernetes_validate

    docs = RENDERED[rendered]
    assert {d["kind"] for d in docs} >= {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Ingress",
    }
    for doc in docs:
        # strict: an unknown field (a typo) fails as well as a wrong type.
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_works_offline_and_catches_a_mistake() -> None:
    import kubernetes_validate

    deployment = copy.deepcopy(objects("Deployment")["loms"])
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    deployment = copy.deepcopy(objects("Deployment")["loms"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with its kustomize) is not installed")
@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda d: d.name)
def test_the_renderer_here_agrees_with_kubectl_kustomize(directory: Path) -> None:
    out = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True).stdout
    theirs = sorted((d for d in yaml.safe_load_all(out) if d), key=kind_name)
    ours = sorted(render(directory), key=kind_name)
    assert [kind_name(d) for d in ours] == [kind_name(d) for d in theirs]
    assert ours == theirs


def test_the_dev_overlay_patches_what_the_base_has() -> None:
    dev = {kind_name(d): d for d in RENDERED["overlays/dev"]}
    base = {kind_name(d): d for d in RENDERED["base"]}
    assert dev.keys() == base.keys()
    assert all(d["metadata"]["namespace"] == "shop-dev" for d in dev.values())
    assert dev["ConfigMap/shop-config"]["data"]["APP_ENV"] == "dev"
    assert base["ConfigMap/shop-config"]["data"]["APP_ENV"] == "prod"
    assert "tls" not in dev["Ingress/shop"]["spec"]
    images = {c["image"] for d in dev.values() for c in _pod_containers(d)}
    assert images == {f"shop/{spec.name}:dev" for spec in SPECS}


def test_a_patch_of_something_the_base_lacks_fails_the_render(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [str(K8S / "base")],
                "patches": [
                    {
                        "target": {"kind": "Deployment", "name": "loms"},
                        "patch": "- {op: replace, path: /spec/template/spec/containers/0/nosuchfield, value: 1}",
                    }
                ],
            }
        )
    )
    with pytest.raises(KustomizeError, match="no such path"):
        render(tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": [str(K8S / "base")], "patches": [{"target": {"name": "lomz"}, "patch": "[]"}]})
    )
    with pytest.raises(KustomizeError, match="matches nothing"):
        render(tmp_path)


def test_every_service_has_its_deployment_service_and_disruption_budget() -> None:
    assert set(objects("Deployment")) == {s.name for s in SPECS}
    assert set(objects("Service")) == {s.name for s in SPECS}
    assert set(objects("PodDisruptionBudget")) == {s.name for s in SPECS}
    assert set(objects("HorizontalPodAutoscaler")) == AUTOSCALED & {s.name for s in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_a_deployment_is_replicated_probed_bounded_and_locked_down(spec: ServiceSpec) -> None:
    deployment = objects("Deployment")[spec.name]
    assert deployment["spec"]["replicas"] >= 2
    pod = pod_spec(spec)
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert labels.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's `shop` user
    assert pod["automountServiceAccountToken"] is False
    c = server(spec)
    assert c["ports"] == [{"name": "http", "containerPort": spec.port}]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for container in [*pod["initContainers"], c]:
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        sec = container["securityContext"]
        assert sec["readOnlyRootFilesystem"] is True and sec["runAsNonRoot"] is True
        assert sec["allowPrivilegeEscalation"] is False and sec["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        # The only writable places: /tmp and SHOP_DATA_DIR (the image's /app/.data).
        for path in ("/tmp", "/app/.data"):  # noqa: S108 - the container's /tmp, an emptyDir
            assert "emptyDir" in volumes[mounts[path]], path
    assert c["command"][:4] == ["python", "-m", "shopcommon.prestart", spec.name]
    assert "--serve" in c["command"] and c["command"][c["command"].index("--port") + 1] == str(spec.port)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.database], ids=lambda s: s.name)
def test_migrations_run_in_an_init_container_before_the_server(spec: ServiceSpec) -> None:
    (migrate,) = pod_spec(spec)["initContainers"]
    assert migrate["image"] == server(spec)["image"]
    assert migrate["command"][:4] == ["python", "-m", "shopcommon.prestart", spec.name]
    assert "--serve" not in migrate["command"]
    db = next(e for e in migrate["env"] if e["name"] == spec.database_env)
    assert db["valueFrom"]["secretKeyRef"] == {"name": f"{spec.name}-database", "key": "url"}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_a_service_and_a_budget_select_the_pods(spec: ServiceSpec) -> None:
    labels = objects("Deployment")[spec.name]["spec"]["template"]["metadata"]["labels"]
    service = objects("Service")[spec.name]["spec"]
    assert service["selector"].items() <= labels.items()
    assert service["ports"] == [{"name": "http", "port": spec.port, "targetPort": "http"}]
    pdb = objects("PodDisruptionBudget")[spec.name]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    # With two replicas, one may be drained at a time.
    assert pdb["minAvailable"] == 1


@pytest.mark.parametrize("name", sorted(AUTOSCALED))
def test_the_stateless_http_services_autoscale_from_two(name: str) -> None:
    hpa = objects("HorizontalPodAutoscaler")[name]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] > hpa["minReplicas"]
    assert hpa["minReplicas"] == objects("Deployment")[name]["spec"]["replicas"]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_service_gets_the_launchers_variables_on_kubernetes(spec: ServiceSpec) -> None:
    names = env_names(server(spec))
    # Each service has its own database URL (from its Secret) instead of the server-wide one, and
    # the SMTP URL (credentials) only where something sends mail.
    not_here = {"DATABASE_URL"} | ({"SMTP_URL"} if "smtp_url" not in settings_class(spec).model_fields else set())
    stack_vars = set(StackUrls("", "", "", "", "").as_env()) - not_here
    expected = stack_vars | set(service_urls_env(SPECS)) | {spec.database_env}
    assert expected <= names, expected - names
    # ... and everything else Docker Compose gives it.
    compose = set(env_of(COMPOSE["services"][spec.name])) - not_here
    assert compose <= names, compose - names


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_secret_is_a_reference_to_a_secret(spec: ServiceSpec) -> None:
    settings = settings_class(spec)
    prefix = settings.model_config.get("env_prefix", "")
    env = {e["name"]: e for e in server(spec).get("env", [])}
    secret_vars = {f"{prefix}{f}".upper() for f in settings.secret_fields} | {spec.database_env}
    if spec.name in ("checkout", "notifications"):
        secret_vars.add("SMTP_URL")  # may carry SMTP credentials
    for var in secret_vars:
        assert "secretKeyRef" in env[var]["valueFrom"], var
    for var, entry in env.items():
        # A literal value only where it names no secret or is composed from referenced ones.
        if "value" in entry:
            assert not re.search(r"SECRET|TOKEN|PASSWORD|PRIVATE", var) or re.fullmatch(
                r"[a-z-]+:\$\([A-Z_]+\)(,[a-z-]+:\$\([A-Z_]+\))*", entry["value"]
            ), var


def test_no_secret_values_are_committed() -> None:
    assert not [d for docs in RENDERED.values() for d in docs if d["kind"] == "Secret"]
    data = objects("ConfigMap")["shop-config"]["data"]
    assert not [k for k in data if re.search(r"SECRET|TOKEN|PASSWORD|PRIVATE|DATABASE_URL|SMTP_URL", k)]
    assert not [v for v in data.values() if re.search(r"://[^/@\s]+:[^/@\s]+@", v)], "credentials in a URL"


def test_the_secrets_the_manifests_expect_are_documented() -> None:
    readme = (K8S / "README.md").read_text()
    refs = set()
    for doc in RENDERED["base"]:
        for container in _pod_containers(doc):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.add((ref["name"], ref["key"]))
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        refs |= {(v["secret"]["secretName"], "") for v in pod.get("volumes", []) if "secret" in v}
    for name, key in sorted(refs):
        assert f"`{name}`" in readme, name
        assert not key or f"`{key}`" in readme, (name, key)


def route(path: str) -> str:
    """The Service the Ingress sends a path to: the longest matching Prefix wins."""
    (rule,) = objects("Ingress")["shop"]["spec"]["rules"]
    best = max(
        (p for p in rule["http"]["paths"] if path == p["path"] or path.startswith(p["path"].rstrip("/") + "/")),
        key=lambda p: len(p["path"]),
    )
    backend = best["backend"]["service"]
    assert backend["name"] in objects("Service") and backend["port"] == {"name": "http"}
    name: str = backend["name"]
    return name


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/", "checkout"),
        ("/shop", "checkout"),
        ("/api/v1/products", "checkout"),
        ("/api/v1/orders/7", "checkout"),
        ("/purchase", "checkout"),
        ("/bookings/cancel/abc", "checkout"),  # the guest's cancel page is checkout's
        ("/tables", "checkout"),
        ("/api/v1/tables", "bookings"),
        ("/api/v1/tables/3/prices", "bookings"),
        ("/api/v1/bookings", "bookings"),
        ("/api/v1/bookings/9/confirm", "bookings"),
        ("/api/v1/bookingsx", "checkout"),
    ],
)
def test_the_ingress_routes_the_public_paths(path: str, service: str) -> None:
    assert route(path) == service


def test_every_path_of_the_public_documents_reaches_its_service() -> None:
    for name in ("checkout", "bookings"):
        document = yaml.safe_load((ROOT / "openapi" / f"{name}.yaml").read_text())
        for path in document["paths"]:
            if name == "bookings" and not path.startswith(("/api/v1/tables", "/api/v1/bookings")):
                continue  # bookings' health, metrics and documents stay inside the cluster
            assert route(re.sub(r"\{[^}]+\}", "1", path)) == name, path
