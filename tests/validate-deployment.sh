#!/usr/bin/env bash
# Checks the deployment files without a container engine or a cluster:
#   - docker-compose.yml (alone and with deploy/compose/gpu-decode.yml) through `docker-compose config` (Debian's
#     docker-compose 1.29 renders and validates a file without talking to an engine; installed from apt when missing);
#   - the kustomize base and both overlays through `kubectl kustomize` (offline), and every other YAML file under k8s/
#     (k8s/alternatives) for syntax;
#   - the two image templates (deploy/docker/Dockerfile, Dockerfile.gpu): multi-stage, a non-root USER, a HEALTHCHECK;
#     and that every image docker-compose.yml builds is one of them with a PROJECT under services/.
# The detailed checks (health paths, pinned images, GPUs, KEDA queue, every LiteVL__ variable against the options
# classes) are the tests of tests/LiteVL.Deployment.Tests, which also render with these tools when they are present.
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
fail() { echo "validate: FAILED: $*" >&2; exit 1; }
step() { echo "validate: $*"; }

# --- tools -------------------------------------------------------------------------------------------------------------
if ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing docker-compose (apt-get install -y docker-compose)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
  else
    fail "docker-compose is required: run 'sudo apt-get install -y docker-compose'"
  fi
fi
command -v kubectl >/dev/null 2>&1 || fail "kubectl is required for 'kubectl kustomize' (https://kubernetes.io/docs/tasks/tools/)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- compose -----------------------------------------------------------------------------------------------------------
# With no LITEVL_* variables set, so that the defaults in the file are what is checked.
unset_litevl=$(env | awk -F= '/^LITEVL_/ {print "-u " $1}')
step "docker-compose config: docker-compose.yml"
# shellcheck disable=SC2086
env $unset_litevl docker-compose -f docker-compose.yml config > "$tmp/compose.yml" || fail "docker-compose.yml does not validate"
step "docker-compose config: docker-compose.yml + deploy/compose/gpu-decode.yml"
# shellcheck disable=SC2086
env $unset_litevl docker-compose -f docker-compose.yml -f deploy/compose/gpu-decode.yml config > "$tmp/compose-gpu-decode.yml" \
  || fail "deploy/compose/gpu-decode.yml does not validate on top of docker-compose.yml"
grep -q 'latest' "$tmp/compose.yml" && fail "a :latest image in the rendered compose file: $(grep -n 'latest' "$tmp/compose.yml")"
services=$(docker-compose -f docker-compose.yml config --services)
for service in upload-api frame-extractor encoder indexer query-api dashboard; do
  grep -qx "$service" <<< "$services" || fail "docker-compose.yml has no service $service"
done

# --- kubernetes --------------------------------------------------------------------------------------------------------
for dir in k8s/base k8s/overlays/small k8s/overlays/large; do
  step "kubectl kustomize $dir"
  kubectl kustomize "$dir" > "$tmp/rendered.yaml" || fail "kubectl kustomize $dir failed"
  for kind in Namespace ConfigMap Secret PersistentVolumeClaim StatefulSet Deployment Service PodDisruptionBudget ScaledObject TriggerAuthentication Job; do
    grep -q "^kind: $kind\$" "$tmp/rendered.yaml" || fail "$dir renders no $kind"
  done
  deployments=$(grep -c '^kind: Deployment$' "$tmp/rendered.yaml")
  [ "$deployments" -eq 6 ] || fail "$dir renders $deployments Deployments, not 6"
  grep -Eq 'image: [^ ]+:latest$' "$tmp/rendered.yaml" && fail "$dir renders a :latest image"
done
# Files outside any kustomization (the HPA alternative): YAML syntax and kinds, through a throwaway kustomization.
for file in k8s/alternatives/*.yaml; do
  step "kubectl kustomize (syntax) $file"
  mkdir -p "$tmp/alt" && cp "$file" "$tmp/alt/" && printf 'resources:\n  - %s\n' "$(basename "$file")" > "$tmp/alt/kustomization.yaml"
  kubectl kustomize "$tmp/alt" > /dev/null || fail "$file does not parse"
  rm -rf "$tmp/alt"
done

# --- dockerfiles -------------------------------------------------------------------------------------------------------
for file in deploy/docker/Dockerfile deploy/docker/Dockerfile.gpu; do
  step "$file"
  [ -f "$file" ] || fail "$file is missing"
  [ "$(grep -c '^FROM ' "$file")" -ge 2 ] || fail "$file is not multi-stage"
  user=$(grep '^USER ' "$file" | tail -n 1 | awk '{print $2}')
  case "${user%%:*}" in ""|root|0) fail "$file runs as root (USER '$user')" ;; esac
  grep -q '^HEALTHCHECK ' "$file" || fail "$file has no HEALTHCHECK"
done
# The seven images (six services and the CLI's model-init), read from the rendered compose file.
dockerfiles=$(grep -E '^ +dockerfile: ' "$tmp/compose.yml" | awk '{print $2}' | sort -u)
for file in $dockerfiles; do
  case "$file" in deploy/docker/Dockerfile|deploy/docker/Dockerfile.gpu) ;; *) fail "docker-compose.yml builds from $file, not deploy/docker/Dockerfile(.gpu)" ;; esac
done
projects=$(grep -E '^ +PROJECT: ' "$tmp/compose.yml" | awk '{print $2}')
[ "$(wc -w <<< "$projects")" -eq 7 ] || fail "docker-compose.yml builds $(wc -w <<< "$projects") images with a PROJECT, not 7"
for project in $projects; do
  step "image of services/$project"
  [ -f "services/$project/$project.csproj" ] || fail "docker-compose.yml builds PROJECT=$project, but there is no services/$project/$project.csproj"
done
[ -f .dockerignore ] || fail ".dockerignore is missing"

echo "validate: deployment files OK ($(( $(date +%s) - started )) s)"
