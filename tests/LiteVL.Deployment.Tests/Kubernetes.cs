namespace LiteVL.Deployment.Tests;

/// <summary>One Kubernetes object of a manifest file or of rendered kustomize output.</summary>
internal sealed record K8sObject(string Origin, string Kind, string Name, object Root)
{
    public string Label => $"{Origin}: {Kind}/{Name}";

    public string? Namespace => Root.At("metadata", "namespace").Str();

    /// <summary>The pod template's spec of a workload (the pod spec of a Pod), or null for other kinds.</summary>
    public object? PodSpec => Kind switch
    {
        "Deployment" or "StatefulSet" or "DaemonSet" or "Job" or "ReplicaSet" => Root.At("spec", "template", "spec"),
        "CronJob" => Root.At("spec", "jobTemplate", "spec", "template", "spec"),
        "Pod" => Root.At("spec"),
        _ => null,
    };

    public IDictionary<object, object>? PodLabels => Root.At("spec", "template", "metadata", "labels").Map();

    public IEnumerable<object> Containers => PodSpec.At("initContainers").Seq().Concat(PodSpec.At("containers").Seq());
}

internal static class Kubernetes
{
    public static List<K8sObject> Parse(string text, string origin)
    {
        var objects = new List<K8sObject>();
        foreach (var document in Yaml.LoadAll(text))
        {
            if (document.At("kind").Str() is { } kind && document.At("apiVersion").Str() is not null && kind != "Kustomization")
            {
                objects.Add(new K8sObject(origin, kind, document.At("metadata", "name").Str() ?? "", document!));
            }
        }

        return objects;
    }

    /// <summary>Every manifest file of a folder of k8s/ (not recursive), kustomization.yaml aside.</summary>
    public static List<K8sObject> LoadFolder(string relative) =>
        [.. Directory.GetFiles(Repo.PathOf(relative), "*.yaml").Order(StringComparer.Ordinal)
            .Where(f => Path.GetFileName(f) != "kustomization.yaml")
            .SelectMany(f => Parse(File.ReadAllText(f), Path.GetRelativePath(Repo.Root, f)))];

    public static List<K8sObject> Base() => LoadFolder("k8s/base");

    /// <summary>The environment every container of every workload sets, and the keys of ConfigMaps and Secrets.</summary>
    public static IEnumerable<EnvironmentVariable> Environment(IEnumerable<K8sObject> objects)
    {
        foreach (var o in objects)
        {
            if (o.Kind == "ConfigMap")
            {
                foreach (var (key, value) in o.Root.At("data").Entries())
                {
                    yield return new EnvironmentVariable(key, value.Str(), $"{o.Label} data");
                }
            }
            else if (o.Kind == "Secret")
            {
                foreach (var (key, value) in o.Root.At("stringData").Entries())
                {
                    yield return new EnvironmentVariable(key, value.Str(), $"{o.Label} stringData");
                }

                foreach (var (key, _) in o.Root.At("data").Entries())
                {
                    yield return new EnvironmentVariable(key, null, $"{o.Label} data");
                }
            }

            foreach (var container in o.Containers)
            {
                foreach (var variable in container.At("env").Seq())
                {
                    yield return new EnvironmentVariable(variable.At("name").Str() ?? "", variable.At("value").Str(), $"{o.Label} container {container.At("name").Str()} env");
                }
            }
        }
    }

    public static bool Selects(IDictionary<object, object>? selector, IDictionary<object, object>? labels) =>
        selector is { Count: > 0 } && labels is not null
        && selector.All(kv => labels.TryGetValue(kv.Key, out var v) && Equals(v.Str(), kv.Value.Str()));
}
