using LiteVL.Encoder;
using MassTransit;
using Microsoft.Extensions.Options;

namespace LiteVL.Deployment.Tests;

/// <summary>What the Kubernetes manifests must hold, for the base files and for kustomize's rendered overlays alike.</summary>
internal static class KubernetesChecks
{
    private static readonly string[] Workloads = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod"];

    /// <summary>The queue the encoder consumes: the endpoint name of its consumer definition.</summary>
    public static string EncoderQueue { get; } =
        ((IConsumerDefinition)new FramesExtractedConsumerDefinition(Options.Create(new EncoderOptions()))).GetEndpointName(KebabCaseEndpointNameFormatter.Instance);

    public static List<string> All(IReadOnlyList<K8sObject> objects) =>
    [
        .. ServicesDeployed(objects), .. Probes(objects), .. PinnedImages(objects), .. Gpus(objects), .. NonRoot(objects),
        .. Resources(objects), .. DisruptionBudgets(objects), .. References(objects), .. SharedVolumes(objects),
        .. EncoderAutoscaling(objects), .. QdrantMatchesClient(objects), .. EnvironmentVariable.Problems(Kubernetes.Environment(objects)),
    ];

    private static K8sObject? Find(IEnumerable<K8sObject> objects, string kind, string name) =>
        objects.FirstOrDefault(o => o.Kind == kind && o.Name == name);

    public static IEnumerable<string> ServicesDeployed(IReadOnlyList<K8sObject> objects)
    {
        foreach (string name in Repo.Services.Keys)
        {
            var deployment = Find(objects, "Deployment", name);
            if (deployment is null)
            {
                yield return $"no Deployment {name}";
                continue;
            }

            if (!objects.Any(o => o.Kind == "Service" && Kubernetes.Selects(o.Root.At("spec", "selector").Map(), deployment.PodLabels)))
            {
                yield return $"{deployment.Label}: no Service selects its pods";
            }

            string? image = deployment.Containers.FirstOrDefault()?.At("image").Str();
            if (image is null || !image.Split(':')[0].EndsWith($"/{name}", StringComparison.Ordinal))
            {
                yield return $"{deployment.Label}: its image {image} is not litevl/{name}";
            }
        }
    }

    public static IEnumerable<string> Probes(IReadOnlyList<K8sObject> objects)
    {
        foreach (var o in objects.Where(o => o.Kind is "Deployment" or "StatefulSet"))
        {
            foreach (var container in o.PodSpec.At("containers").Seq())
            {
                string where = $"{o.Label} container {container.At("name").Str()}";
                foreach (string probe in new[] { "readinessProbe", "livenessProbe" })
                {
                    if (container.At(probe) is null)
                    {
                        yield return $"{where}: no {probe}";
                    }
                }

                if (o.Kind != "Deployment")
                {
                    continue;
                }

                // The LiteVL services: /health/ready and /health/live on the port the service listens on (8080).
                foreach (var (probe, path) in new[] { ("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live") })
                {
                    var httpGet = container.At(probe, "httpGet");
                    if (httpGet.At("path").Str() != path)
                    {
                        yield return $"{where}: {probe} does not GET {path}";
                    }

                    string? port = httpGet.At("port").Str();
                    bool listens = port == "8080" || container.At("ports").Seq().Any(p => p.At("name").Str() == port && p.At("containerPort").Str() == "8080");
                    if (!listens)
                    {
                        yield return $"{where}: {probe} port {port} is not the container's port 8080";
                    }
                }
            }
        }
    }

    public static IEnumerable<string> PinnedImages(IReadOnlyList<K8sObject> objects)
    {
        foreach (var o in objects.Where(o => Workloads.Contains(o.Kind)))
        {
            foreach (var container in o.Containers)
            {
                if (Images.PinProblem(container.At("image").Str() ?? "") is { } problem)
                {
                    yield return $"{o.Label}: {problem}";
                }
            }
        }
    }

    public static IEnumerable<string> Gpus(IReadOnlyList<K8sObject> objects)
    {
        foreach (string name in Repo.GpuServices)
        {
            if (Find(objects, "Deployment", name) is not { } deployment)
            {
                continue; // reported by ServicesDeployed
            }

            string? gpus = deployment.PodSpec.At("containers").Seq().FirstOrDefault().At("resources", "limits", "nvidia.com/gpu").Str();
            if (!int.TryParse(gpus, out int count) || count < 1)
            {
                yield return $"{deployment.Label}: no nvidia.com/gpu limit";
            }
        }

        foreach (var o in objects.Where(o => o.Kind == "Deployment" && !Repo.GpuServices.Contains(o.Name)))
        {
            if (o.Containers.Any(c => c.At("resources", "limits", "nvidia.com/gpu") is not null))
            {
                yield return $"{o.Label}: asks for a GPU it does not use";
            }
        }
    }

    public static IEnumerable<string> NonRoot(IReadOnlyList<K8sObject> objects)
    {
        foreach (var o in objects.Where(o => Workloads.Contains(o.Kind)))
        {
            var pod = o.PodSpec.At("securityContext");
            foreach (var container in o.Containers)
            {
                var own = container.At("securityContext");
                string? runAsNonRoot = own.At("runAsNonRoot").Str() ?? pod.At("runAsNonRoot").Str();
                string? runAsUser = own.At("runAsUser").Str() ?? pod.At("runAsUser").Str();
                string where = $"{o.Label} container {container.At("name").Str()}";
                if (runAsNonRoot != "true")
                {
                    yield return $"{where}: runAsNonRoot is not true";
                }

                if (runAsUser is null or "0")
                {
                    yield return $"{where}: runAsUser is not a non-root uid";
                }

                if (own.At("allowPrivilegeEscalation").Str() != "false")
                {
                    yield return $"{where}: allowPrivilegeEscalation is not false";
                }

                if (!own.At("capabilities", "drop").Seq().Any(c => c.Str() == "ALL"))
                {
                    yield return $"{where}: does not drop ALL capabilities";
                }
            }
        }
    }

    public static IEnumerable<string> Resources(IReadOnlyList<K8sObject> objects)
    {
        foreach (var o in objects.Where(o => Workloads.Contains(o.Kind)))
        {
            foreach (var container in o.Containers)
            {
                foreach (string kind in new[] { "requests", "limits" })
                {
                    foreach (string resource in new[] { "cpu", "memory" })
                    {
                        if (container.At("resources", kind, resource) is null)
                        {
                            yield return $"{o.Label} container {container.At("name").Str()}: no {kind}.{resource}";
                        }
                    }
                }
            }
        }
    }

    public static IEnumerable<string> DisruptionBudgets(IReadOnlyList<K8sObject> objects)
    {
        var budgets = objects.Where(o => o.Kind == "PodDisruptionBudget").ToList();
        foreach (var o in objects.Where(o => o.Kind is "Deployment" or "StatefulSet"))
        {
            if (!budgets.Any(b => Kubernetes.Selects(b.Root.At("spec", "selector", "matchLabels").Map(), o.PodLabels)))
            {
                yield return $"{o.Label}: no PodDisruptionBudget selects its pods";
            }
        }
    }

    /// <summary>ConfigMaps, Secrets (and their keys) and volume claims that workloads name exist.</summary>
    public static IEnumerable<string> References(IReadOnlyList<K8sObject> objects)
    {
        bool Exists(string kind, string? name) => name is not null && Find(objects, kind, name) is not null;
        bool HasKey(string kind, string? name, string? key) =>
            Find(objects, kind, name ?? "") is { } o && key is not null
            && (o.Root.At("stringData", key) is not null || o.Root.At("data", key) is not null);

        foreach (var o in objects.Where(o => Workloads.Contains(o.Kind)))
        {
            foreach (var container in o.Containers)
            {
                foreach (var source in container.At("envFrom").Seq())
                {
                    if (source.At("configMapRef") is { } cm && !Exists("ConfigMap", cm.At("name").Str()))
                    {
                        yield return $"{o.Label}: envFrom names the missing ConfigMap {cm.At("name").Str()}";
                    }

                    if (source.At("secretRef") is { } secret && !Exists("Secret", secret.At("name").Str()))
                    {
                        yield return $"{o.Label}: envFrom names the missing Secret {secret.At("name").Str()}";
                    }
                }

                foreach (var variable in container.At("env").Seq())
                {
                    if (variable.At("valueFrom", "secretKeyRef") is { } sk && !HasKey("Secret", sk.At("name").Str(), sk.At("key").Str()))
                    {
                        yield return $"{o.Label}: {variable.At("name").Str()} comes from the missing Secret key {sk.At("name").Str()}/{sk.At("key").Str()}";
                    }

                    if (variable.At("valueFrom", "configMapKeyRef") is { } ck && !HasKey("ConfigMap", ck.At("name").Str(), ck.At("key").Str()))
                    {
                        yield return $"{o.Label}: {variable.At("name").Str()} comes from the missing ConfigMap key {ck.At("name").Str()}/{ck.At("key").Str()}";
                    }
                }
            }

            foreach (var volume in o.PodSpec.At("volumes").Seq())
            {
                if (volume.At("persistentVolumeClaim", "claimName").Str() is { } claim && !Exists("PersistentVolumeClaim", claim))
                {
                    yield return $"{o.Label}: mounts the missing PersistentVolumeClaim {claim}";
                }
            }
        }
    }

    /// <summary>
    /// Every service mounts the ReadWriteMany blob volume where LiteVL__Storage__DataDirectory points, and the model users
    /// the model volume where LiteVL__Model__Directory points.
    /// </summary>
    public static IEnumerable<string> SharedVolumes(IReadOnlyList<K8sObject> objects)
    {
        var config = objects.Where(o => o.Kind == "ConfigMap").SelectMany(o => o.Root.At("data").Entries())
            .ToDictionary(kv => kv.Key, kv => kv.Value.Str(), StringComparer.OrdinalIgnoreCase);
        foreach (var (claim, key, users) in new[]
        {
            ("litevl-blobs", "LiteVL__Storage__DataDirectory", Repo.Services.Keys.ToArray()),
            ("litevl-model", "LiteVL__Model__Directory", [.. Repo.ModelServices]),
        })
        {
            if (Find(objects, "PersistentVolumeClaim", claim) is not { } pvc)
            {
                yield return $"no PersistentVolumeClaim {claim}";
                continue;
            }

            if (!pvc.Root.At("spec", "accessModes").Seq().Any(m => m.Str() == "ReadWriteMany"))
            {
                yield return $"{pvc.Label}: not ReadWriteMany, but pods on several nodes share it";
            }

            string? path = config.GetValueOrDefault(key);
            foreach (string name in users)
            {
                if (Find(objects, "Deployment", name) is not { } deployment)
                {
                    continue;
                }

                string? volume = deployment.PodSpec.At("volumes").Seq().FirstOrDefault(v => v.At("persistentVolumeClaim", "claimName").Str() == claim).At("name").Str();
                bool mounted = volume is not null && deployment.PodSpec.At("containers").Seq().FirstOrDefault()
                    .At("volumeMounts").Seq().Any(m => m.At("name").Str() == volume && m.At("mountPath").Str() == path);
                if (!mounted)
                {
                    yield return $"{deployment.Label}: does not mount {claim} at {key} ({path})";
                }
            }
        }
    }

    public static IEnumerable<string> EncoderAutoscaling(IReadOnlyList<K8sObject> objects)
    {
        var scaled = objects.Where(o => o.Kind == "ScaledObject").ToList();
        var encoder = scaled.FirstOrDefault(o => o.Root.At("spec", "scaleTargetRef", "name").Str() == "encoder");
        if (scaled.Count == 0 && objects.Any(o => o.Kind == "HorizontalPodAutoscaler"))
        {
            yield break; // the HPA alternative is checked on its own
        }

        if (encoder is null)
        {
            yield return "no KEDA ScaledObject targets the encoder Deployment";
            yield break;
        }

        string? kind = encoder.Root.At("spec", "scaleTargetRef", "kind").Str();
        if (kind is not (null or "Deployment") || Find(objects, "Deployment", "encoder") is null)
        {
            yield return $"{encoder.Label}: scaleTargetRef is not the encoder Deployment";
        }

        if (Find(objects, "Deployment", "encoder")?.Root.At("spec", "replicas") is not null)
        {
            yield return "Deployment/encoder sets replicas, which every apply would reset under KEDA";
        }

        var triggers = encoder.Root.At("spec", "triggers").Seq().Where(t => t.At("type").Str() == "rabbitmq").ToList();
        if (triggers.Count == 0)
        {
            yield return $"{encoder.Label}: no rabbitmq trigger";
        }

        foreach (var trigger in triggers)
        {
            if (trigger.At("metadata", "queueName").Str() != EncoderQueue)
            {
                yield return $"{encoder.Label}: the trigger watches queue '{trigger.At("metadata", "queueName").Str()}', but the encoder consumes '{EncoderQueue}'";
            }

            string? auth = trigger.At("authenticationRef", "name").Str();
            var authentication = auth is null ? null : Find(objects, "TriggerAuthentication", auth);
            if (authentication is null)
            {
                yield return $"{encoder.Label}: the trigger's authenticationRef {auth} is not a TriggerAuthentication here";
                continue;
            }

            foreach (var secret in authentication.Root.At("spec", "secretTargetRef").Seq())
            {
                string? name = secret.At("name").Str();
                string? key = secret.At("key").Str();
                if (Find(objects, "Secret", name ?? "") is not { } s || (s.Root.At("stringData", key ?? "") ?? s.Root.At("data", key ?? "")) is null)
                {
                    yield return $"{authentication.Label}: secret {name} has no key {key}";
                }
            }
        }

        if (!int.TryParse(encoder.Root.At("spec", "minReplicaCount").Str(), out int min) || min < 1)
        {
            yield return $"{encoder.Label}: minReplicaCount must be at least 1 (the encoder's first start declares its queue)";
        }

        if (!int.TryParse(encoder.Root.At("spec", "maxReplicaCount").Str(), out int max) || max < min)
        {
            yield return $"{encoder.Label}: maxReplicaCount below minReplicaCount";
        }
    }

    public static IEnumerable<string> QdrantMatchesClient(IReadOnlyList<K8sObject> objects)
    {
        string client = Images.QdrantClientVersion();
        foreach (var o in objects.Where(o => Workloads.Contains(o.Kind)))
        {
            foreach (string image in o.Containers.Select(c => c.At("image").Str() ?? "").Where(i => i.StartsWith("qdrant/qdrant:", StringComparison.Ordinal)))
            {
                if (Images.MajorMinor(image) != Images.MajorMinor(":" + client))
                {
                    yield return $"{o.Label}: {image} does not match Qdrant.Client {client} (major.minor)";
                }
            }
        }
    }
}
