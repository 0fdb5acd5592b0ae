using LiteVL.Testing;

namespace LiteVL.Deployment.Tests;

public class KubernetesTests
{
    private static List<K8sObject> Mutated(string file, string from, string to)
    {
        var objects = Kubernetes.Base().Where(o => o.Origin != $"k8s/base/{file}").ToList();
        string text = Repo.Read($"k8s/base/{file}");
        Assert.Contains(from, text, StringComparison.Ordinal);
        objects.AddRange(Kubernetes.Parse(text.Replace(from, to, StringComparison.Ordinal), $"k8s/base/{file} (mutated)"));
        return objects;
    }

    [Fact]
    public void Every_yaml_file_under_k8s_parses()
    {
        var files = Directory.GetFiles(Repo.PathOf("k8s"), "*.yaml", SearchOption.AllDirectories);
        Assert.True(files.Length >= 10, $"only {files.Length} YAML files under k8s/");
        foreach (string file in files)
        {
            Assert.NotEmpty(Yaml.LoadAll(File.ReadAllText(file)));
        }
    }

    [Fact]
    public void Base_passes_every_check() => Assert.Empty(KubernetesChecks.All(Kubernetes.Base()));

    [Fact]
    public void Base_kustomization_lists_every_manifest_of_the_folder()
    {
        var listed = Yaml.Load(Repo.Read("k8s/base/kustomization.yaml")).At("resources").Seq().Select(r => r.Str()).ToHashSet(StringComparer.Ordinal);
        var files = Directory.GetFiles(Repo.PathOf("k8s/base"), "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml");
        var unlisted = files.Where(f => !listed.Contains(f)).ToList();
        var missing = listed.Where(f => !File.Exists(Repo.PathOf($"k8s/base/{f}"))).ToList();
        Assert.Empty(unlisted);
        Assert.Empty(missing);
    }

    [Theory]
    [InlineData("small")]
    [InlineData("large")]
    public void Overlays_build_on_the_base(string overlay)
    {
        var kustomization = Yaml.Load(Repo.Read($"k8s/overlays/{overlay}/kustomization.yaml"));
        Assert.Contains(kustomization.At("resources").Seq(), r => r.Str() == "../../base");
    }

    [Fact]
    public void Encoder_queue_is_the_consumer_endpoint_name() => Assert.Equal("encoder", KubernetesChecks.EncoderQueue);

    [Fact]
    public void Hpa_alternative_is_outside_the_kustomizations_and_scales_the_encoder_on_its_queue()
    {
        var hpa = Kubernetes.LoadFolder("k8s/alternatives").Single(o => o.Kind == "HorizontalPodAutoscaler");
        Assert.Equal("encoder", hpa.Root.At("spec", "scaleTargetRef", "name").Str());
        var external = hpa.Root.At("spec", "metrics").Seq().Single().At("external");
        Assert.Equal(KubernetesChecks.EncoderQueue, external.At("metric", "selector", "matchLabels", "queue").Str());
        foreach (string kustomization in Directory.GetFiles(Repo.PathOf("k8s"), "kustomization.yaml", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain("alternatives", File.ReadAllText(kustomization), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_misspelt_config_key_fails() =>
        Assert.Contains(KubernetesChecks.All(Mutated("config.yaml", "LiteVL__Messaging__RabbitMqHost", "LiteVL__Messaging__RabbitHost")),
            p => p.Contains("RabbitHost", StringComparison.Ordinal));

    [Fact]
    public void A_misspelt_secret_key_fails() =>
        Assert.Contains(KubernetesChecks.All(Mutated("secrets.yaml", "LiteVL__Messaging__RabbitMqPassword", "LiteVL__Messaging__RabbitMqPasword")),
            p => p.Contains("RabbitMqPasword", StringComparison.Ordinal));

    [Fact]
    public void A_misspelt_container_variable_fails() =>
        Assert.NotEmpty(KubernetesChecks.All(Mutated("upload-api.yaml", "LiteVL__AdminKeyFile", "LiteVL__AdminKeyPath")));

    [Fact]
    public void A_wrong_readiness_path_fails() =>
        Assert.NotEmpty(KubernetesChecks.Probes(Mutated("indexer.yaml", "path: /health/ready", "path: /ready")));

    [Fact]
    public void A_missing_liveness_probe_fails() =>
        Assert.NotEmpty(KubernetesChecks.Probes(Mutated("qdrant.yaml", "livenessProbe:", "xLivenessProbe:")));

    [Fact]
    public void A_query_api_without_a_gpu_fails() =>
        Assert.NotEmpty(KubernetesChecks.Gpus(Mutated("query-api.yaml", "nvidia.com/gpu: 1", "example.com/fpga: 1")));

    [Fact]
    public void An_unpinned_image_fails() =>
        Assert.NotEmpty(KubernetesChecks.PinnedImages(Mutated("rabbitmq.yaml", "image: rabbitmq:4.1.4-management", "image: rabbitmq:management")));

    [Fact]
    public void A_root_container_fails() =>
        Assert.NotEmpty(KubernetesChecks.NonRoot(Mutated("postgres.yaml", "runAsNonRoot: true", "runAsNonRoot: false")));

    [Fact]
    public void A_scaled_object_on_the_wrong_queue_fails() =>
        Assert.NotEmpty(KubernetesChecks.EncoderAutoscaling(Mutated("encoder-scaledobject.yaml", "queueName: encoder", "queueName: frames-extracted")));

    [Fact]
    public void A_scaled_object_on_the_wrong_deployment_fails() =>
        Assert.NotEmpty(KubernetesChecks.EncoderAutoscaling(Mutated("encoder-scaledobject.yaml", "    name: encoder\n", "    name: indexer\n")));

    [Fact]
    public void A_missing_disruption_budget_fails() =>
        Assert.NotEmpty(KubernetesChecks.DisruptionBudgets(Mutated("dashboard.yaml", "kind: PodDisruptionBudget", "kind: ConfigMap")));

    [Fact]
    public void A_read_write_once_blob_volume_fails() =>
        Assert.NotEmpty(KubernetesChecks.SharedVolumes(Mutated("storage.yaml", "accessModes: [ReadWriteMany]\n  resources:\n    requests:\n      storage: 100Gi", "accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 100Gi")));

    [SkippableTheory]
    [InlineData("k8s/overlays/small")]
    [InlineData("k8s/overlays/large")]
    public void Kustomize_renders_the_overlay_and_the_rendered_manifests_pass_every_check(string overlay)
    {
        string kubectl = Servers.Require(Server.Kubectl); // the base files are checked above without it
        var objects = Kubernetes.Parse(Repo.Run(kubectl, "kustomize", overlay), $"kubectl kustomize {overlay}");
        Assert.Empty(KubernetesChecks.All(objects));
        var outside = objects.Where(o => o.Kind != "Namespace" && o.Namespace != "litevl").Select(o => o.Label).ToList();
        Assert.Empty(outside);
        Assert.True(objects.Count >= Kubernetes.Base().Count, "the overlay dropped objects of the base");
    }
}
