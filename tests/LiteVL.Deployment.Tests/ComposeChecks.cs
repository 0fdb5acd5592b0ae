namespace LiteVL.Deployment.Tests;

/// <summary>What docker-compose.yml must hold; each check returns its problems (none when the file is right).</summary>
internal static class ComposeChecks
{
    private static readonly string[] HealthPaths = ["/health/ready", "/health/live"];

    public static List<string> All(Compose compose) =>
    [
        .. ServicesPresent(compose), .. HealthChecks(compose), .. PinnedImages(compose), .. Gpus(compose),
        .. ScalableEncoder(compose), .. StartupOrder(compose), .. Volumes(compose), .. AdminKey(compose),
        .. QdrantMatchesClient(compose), .. EnvironmentVariable.Problems(compose.AllEnvironment()),
    ];

    public static IEnumerable<string> ServicesPresent(Compose compose)
    {
        foreach (var (name, project) in Repo.Services)
        {
            var service = compose.Service(name);
            if (service is null)
            {
                yield return $"{compose.Origin}: no service {name}";
                continue;
            }

            string expected = Repo.DockerfileOf(name);
            if (service.At("build", "dockerfile").Str() != expected)
            {
                yield return $"{compose.Origin}: {name} is not built from {expected}";
            }

            if (service.At("build", "args", "PROJECT").Str() != project)
            {
                yield return $"{compose.Origin}: {name} is not built with the build argument PROJECT={project}";
            }
        }
    }

    public static IEnumerable<string> HealthChecks(Compose compose)
    {
        foreach (var (name, service) in compose.Services)
        {
            if (name == "model-init")
            {
                continue; // one-shot
            }

            var test = service.At("healthcheck", "test");
            string command = string.Join(' ', test.Seq().Select(t => t.Str()).DefaultIfEmpty(test.Str()));
            if (string.IsNullOrWhiteSpace(command) || command.StartsWith("NONE", StringComparison.Ordinal))
            {
                yield return $"{compose.Origin}: {name} has no healthcheck";
            }
            else if (Repo.Services.ContainsKey(name) && !HealthPaths.Any(p => command.Contains($"http://127.0.0.1:8080{p}", StringComparison.Ordinal)))
            {
                yield return $"{compose.Origin}: the healthcheck of {name} does not ask http://127.0.0.1:8080/health/ready or /health/live ({command})";
            }
        }
    }

    public static IEnumerable<string> PinnedImages(Compose compose)
    {
        foreach (var (name, service) in compose.Services)
        {
            if (service.At("image").Str() is not { } image)
            {
                yield return $"{compose.Origin}: {name} has no image (a built service needs one to pin its tag)";
            }
            else if (Images.PinProblem(Compose.Interpolate(image)) is { } problem)
            {
                yield return $"{compose.Origin}: {name}: {problem}";
            }
        }
    }

    public static IEnumerable<string> Gpus(Compose compose)
    {
        foreach (string name in Repo.GpuServices)
        {
            var devices = compose.Service(name).At("deploy", "resources", "reservations", "devices").Seq();
            if (!devices.Any(d => d.At("driver").Str() == "nvidia" && d.At("capabilities").Seq().Any(c => c.Str() == "gpu")))
            {
                yield return $"{compose.Origin}: {name} reserves no NVIDIA GPU (deploy.resources.reservations.devices, driver nvidia, capabilities [gpu])";
            }
        }
    }

    public static IEnumerable<string> ScalableEncoder(Compose compose)
    {
        var encoder = compose.Service("encoder");
        if (encoder.At("container_name") is not null)
        {
            yield return $"{compose.Origin}: encoder has a container_name: --scale encoder=N would fail";
        }

        if (encoder.At("ports").Seq().Count > 0)
        {
            yield return $"{compose.Origin}: encoder publishes host ports: --scale encoder=N would fail";
        }
    }

    public static IEnumerable<string> StartupOrder(Compose compose)
    {
        string[] conditions = ["service_healthy", "service_completed_successfully", "service_started"];
        foreach (var (name, service) in compose.Services)
        {
            var dependsOn = service.At("depends_on");
            if (dependsOn.Seq().Count > 0)
            {
                yield return $"{compose.Origin}: {name}: depends_on is a list; use the long form with condition: service_healthy";
            }

            foreach (var (dependency, spec) in dependsOn.Entries())
            {
                if (compose.Service(dependency) is null)
                {
                    yield return $"{compose.Origin}: {name} depends on the unknown service {dependency}";
                }

                string? condition = spec.At("condition").Str();
                if (condition is null || !conditions.Contains(condition))
                {
                    yield return $"{compose.Origin}: {name} depends on {dependency} without a known condition ({condition})";
                }
                else if (condition == "service_healthy" && compose.Service(dependency).At("healthcheck") is null)
                {
                    yield return $"{compose.Origin}: {name} waits for {dependency} to be healthy, which has no healthcheck";
                }
            }

            if (Repo.Services.ContainsKey(name))
            {
                foreach (string infrastructure in new[] { "postgres", "rabbitmq" })
                {
                    if (dependsOn.At(infrastructure, "condition").Str() != "service_healthy")
                    {
                        yield return $"{compose.Origin}: {name} does not wait for {infrastructure} to be healthy";
                    }
                }
            }
        }
    }

    public static IEnumerable<string> Volumes(Compose compose)
    {
        var declared = compose.Root.At("volumes").Entries().Select(v => v.Key).ToHashSet(StringComparer.Ordinal);
        foreach (string volume in new[] { "blobs", "model", "postgres", "rabbitmq", "qdrant" })
        {
            if (!declared.Contains(volume))
            {
                yield return $"{compose.Origin}: no named volume {volume}";
            }
        }

        foreach (var (name, service) in compose.Services)
        {
            var mounts = Compose.Mounts(service).ToList();
            var environment = Compose.Environment(name, service, compose.Origin).ToDictionary(v => v.Name, v => v.Value, StringComparer.OrdinalIgnoreCase);
            if (Repo.Services.ContainsKey(name))
            {
                string dataDirectory = environment.GetValueOrDefault("LiteVL__Storage__DataDirectory") ?? "";
                if (!mounts.Contains(("blobs", dataDirectory)))
                {
                    yield return $"{compose.Origin}: {name} does not mount the volume blobs at its LiteVL__Storage__DataDirectory ('{dataDirectory}')";
                }
            }

            if (Repo.ModelServices.Contains(name))
            {
                string modelDirectory = environment.GetValueOrDefault("LiteVL__Model__Directory") ?? "";
                if (!mounts.Any(m => m.Source == "model" && m.Target == modelDirectory))
                {
                    yield return $"{compose.Origin}: {name} does not mount the volume model at its LiteVL__Model__Directory ('{modelDirectory}')";
                }
            }

            foreach (var (source, _) in mounts.Where(m => !m.Source.StartsWith('.') && !m.Source.StartsWith('/') && !m.Source.StartsWith('$')))
            {
                if (!declared.Contains(source))
                {
                    yield return $"{compose.Origin}: {name} mounts the undeclared volume {source}";
                }
            }
        }
    }

    public static IEnumerable<string> AdminKey(Compose compose)
    {
        var environment = Compose.Environment("upload-api", compose.Service("upload-api"), compose.Origin).ToList();
        string? file = environment.FirstOrDefault(v => v.Name.Equals("LiteVL__AdminKeyFile", StringComparison.OrdinalIgnoreCase))?.Value;
        string? data = environment.FirstOrDefault(v => v.Name.Equals("LiteVL__Storage__DataDirectory", StringComparison.OrdinalIgnoreCase))?.Value;
        if (file is null)
        {
            yield return $"{compose.Origin}: upload-api sets no LiteVL__AdminKeyFile: no admin key would be written";
        }
        else if (data is null || !file.StartsWith(data.TrimEnd('/') + "/", StringComparison.Ordinal))
        {
            yield return $"{compose.Origin}: the admin key file {file} is not on a volume (not under {data})";
        }
    }

    public static IEnumerable<string> QdrantMatchesClient(Compose compose)
    {
        string client = Images.QdrantClientVersion();
        string image = Compose.Interpolate(compose.Service("qdrant").At("image").Str() ?? "");
        if (Images.MajorMinor(image) != Images.MajorMinor(":" + client))
        {
            yield return $"{compose.Origin}: qdrant image {image} does not match Qdrant.Client {client} (major.minor)";
        }
    }
}
