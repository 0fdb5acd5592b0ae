namespace LiteVL.Deployment.Tests;

/// <summary>
/// The two image templates (deploy/docker/Dockerfile for the CPU services and the CLI, Dockerfile.gpu for the GPU
/// services), each built with the project as the build argument PROJECT; docker-compose.yml names the arguments.
/// </summary>
public class DockerfileTests
{
    public static TheoryData<string> Dockerfiles() => [.. Repo.Dockerfiles];

    /// <summary>Every image: its compose service, project and template (the six services and the CLI's model-init).</summary>
    public static TheoryData<string, string, string> Images()
    {
        var images = new TheoryData<string, string, string>();
        foreach (var (service, project) in Repo.Services)
        {
            images.Add(service, project, Repo.DockerfileOf(service));
        }

        images.Add("model-init", "LiteVL.Cli", Repo.CpuDockerfile);
        return images;
    }

    private static Compose Compose => new(Repo.Read("docker-compose.yml"));

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Service_image_is_multi_stage_non_root_pinned_and_health_checked(string path)
    {
        Assert.True(File.Exists(Repo.PathOf(path)), $"{path} is missing");
        Assert.Empty(DockerfileChecks.All(new Dockerfile(Repo.Read(path), path), service: true));
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Build_stage_copies_every_project_the_service_references(string service, string project, string path)
    {
        var file = new Dockerfile(Repo.Read(path), path);
        var copied = file.Instructions.Where(i => i.Keyword == "COPY" && !i.Arguments.Contains("--from", StringComparison.Ordinal))
            .Select(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0].TrimEnd('/') + "/").ToList();
        var missing = ProjectClosure($"services/{project}/{project}.csproj")
            .Select(p => Path.GetDirectoryName(p)!.Replace('\\', '/') + "/")
            .Where(dir => !copied.Any(c => dir.StartsWith(c, StringComparison.Ordinal)))
            .ToList();
        Assert.True(missing.Count == 0, $"{service}: {path} does not copy {string.Join(", ", missing)}");
        // A project that ships the trained small model beside its assembly needs it in the build context too.
        if (ProjectClosure($"services/{project}/{project}.csproj").Any(p => Repo.Read(p).Contains("../../models/small/", StringComparison.Ordinal)))
        {
            Assert.Contains(copied, c => "models/small/".StartsWith(c, StringComparison.Ordinal));
        }

        var copiedFiles = file.Instructions.Where(i => i.Keyword == "COPY").SelectMany(i => i.Arguments.Split(' ')).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("Directory.Build.props", copiedFiles);
        Assert.Contains("Directory.Packages.props", copiedFiles);
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Templates_name_no_project_so_a_new_one_needs_no_edit(string path)
    {
        var file = new Dockerfile(Repo.Read(path), path);
        Assert.DoesNotContain(file.Instructions, i => i.Keyword is "COPY" or "RUN" or "ENTRYPOINT" && i.Arguments.Contains("LiteVL.", StringComparison.Ordinal));
        Assert.Contains(file.Instructions, i => i.Keyword == "COPY" && i.Arguments == "shared/ shared/");
        Assert.Contains(file.Instructions, i => i.Keyword == "COPY" && i.Arguments == "services/ services/");
    }

    /// <summary>The project and every project it references, transitively, as repository-relative paths.</summary>
    private static HashSet<string> ProjectClosure(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out string? current))
        {
            if (!seen.Add(current))
            {
                continue;
            }

            foreach (var reference in System.Xml.Linq.XDocument.Parse(Repo.Read(current)).Descendants("ProjectReference"))
            {
                string include = ((string?)reference.Attribute("Include") ?? "").Replace('\\', '/');
                string full = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Repo.PathOf(current))!, include));
                pending.Push(Path.GetRelativePath(Repo.Root, full).Replace('\\', '/'));
            }
        }

        return seen;
    }

    [Fact]
    public void Cli_image_is_the_cpu_template_without_a_service_health_check()
    {
        var modelInit = Compose.Service("model-init");
        Assert.Equal(Repo.CpuDockerfile, modelInit.At("build", "dockerfile").Str());
        Assert.Equal("LiteVL.Cli", modelInit.At("build", "args", "PROJECT").Str());
        Assert.Equal("true", modelInit.At("healthcheck", "disable").Str());
        Assert.Empty(DockerfileChecks.All(new Dockerfile(Repo.Read(Repo.CpuDockerfile), Repo.CpuDockerfile), service: false));
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Entrypoint_runs_the_published_assembly_of_the_project(string service, string project, string path)
    {
        var file = new Dockerfile(Repo.Read(path), path);
        // PROJECT names a project under services/; the entry point runs the assembly its publish writes (its AssemblyName).
        Assert.True(File.Exists(Repo.PathOf($"services/{project}/{project}.csproj")), $"{service}: no services/{project}/{project}.csproj");
        Assert.Equal(project, Compose.Service(service).At("build", "args", "PROJECT").Str());
        Assert.Contains(file.Instructions, i => i.Keyword == "RUN"
            && i.Arguments.Contains("project=\"services/${PROJECT}/${PROJECT}.csproj\"", StringComparison.Ordinal)
            && i.Arguments.Contains("dotnet publish \"$project\"", StringComparison.Ordinal)
            && i.Arguments.Contains("-getProperty:AssemblyName", StringComparison.Ordinal)
            && i.Arguments.Contains("> /app/litevl-entrypoint", StringComparison.Ordinal));
        Assert.Contains(file.FinalStage, i => i.Keyword == "ENTRYPOINT" && i.Arguments == "[\"/app/litevl-entrypoint\"]");
    }

    [Fact]
    public void Gpu_images_run_on_cuda_13_with_the_gpu_onnx_runtime()
    {
        const string path = Repo.GpuDockerfile;
        var file = new Dockerfile(Repo.Read(path), path);
        Assert.Matches(@"^nvidia/cuda:13\.\d+\.\d+-cudnn-runtime-ubuntu24\.04$", file.Stages[^1].Image);
        // Both restore and publish: a publish of a CPU restore would fail, or ship the CPU runtime.
        Assert.Contains(file.Instructions, i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet restore", StringComparison.Ordinal)
            && i.Arguments.Split("dotnet publish")[0].Contains("-p:LiteVLGpu=true", StringComparison.Ordinal)
            && i.Arguments.Split("dotnet publish")[^1].Contains("-p:LiteVLGpu=true", StringComparison.Ordinal));
        // The ASP.NET Core runtime comes from Microsoft's image of the same Ubuntu release as the CUDA base.
        Assert.Contains(file.Stages, s => s.Image.StartsWith("mcr.microsoft.com/dotnet/aspnet:10.0.", StringComparison.Ordinal) && s.Image.EndsWith("-noble", StringComparison.Ordinal));
        Assert.Contains(file.FinalStage, i => i.Keyword == "COPY" && i.Arguments.Contains("/usr/share/dotnet", StringComparison.Ordinal));
        foreach (string service in Repo.GpuServices)
        {
            Assert.Equal(Repo.GpuDockerfile, Compose.Service(service).At("build", "dockerfile").Str());
        }
    }

    [Fact]
    public void Gpu_switch_is_the_property_the_model_project_reads()
    {
        string model = Repo.Read("shared/LiteVL.Model/LiteVL.Model.csproj");
        Assert.Contains("'$(LiteVLGpu)' == 'true'", model, StringComparison.Ordinal);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu", model, StringComparison.Ordinal);
    }

    [Fact]
    public void Cpu_images_are_on_the_pinned_aspnet_10_image()
    {
        Assert.Matches(@"^mcr\.microsoft\.com/dotnet/aspnet:10\.0\.\d+-noble$", new Dockerfile(Repo.Read(Repo.CpuDockerfile), Repo.CpuDockerfile).Stages[^1].Image);
        foreach (string service in Repo.Services.Keys.Except(Repo.GpuServices))
        {
            Assert.Equal(Repo.CpuDockerfile, Compose.Service(service).At("build", "dockerfile").Str());
        }
    }

    [Fact]
    public void Frame_extractor_image_has_ffmpeg_and_the_nvdec_driver_capability()
    {
        const string path = Repo.CpuDockerfile;
        var file = new Dockerfile(Repo.Read(path), path);
        // The template installs the PACKAGES build argument; compose gives the frame extractor ffmpeg.
        Assert.Contains(file.FinalStage, i => i.Keyword == "RUN" && i.Arguments.Contains("install", StringComparison.Ordinal) && i.Arguments.Contains(" ${PACKAGES}", StringComparison.Ordinal));
        Assert.Contains("ffmpeg", (Compose.Service("frame-extractor").At("build", "args", "PACKAGES").Str() ?? "").Split(' '));
        Assert.Contains(file.Environment(), v => v.Name == "NVIDIA_DRIVER_CAPABILITIES" && (v.Value ?? "").Split(',').Contains("video"));
    }

    [Fact]
    public void Env_instructions_bind_to_real_settings()
    {
        var variables = Repo.Dockerfiles.SelectMany(p => new Dockerfile(Repo.Read(p), p).Environment()).ToList();
        Assert.Contains(variables, v => v.IsLiteVL);
        Assert.Empty(EnvironmentVariable.Problems(variables));
    }

    [Fact]
    public void Dockerignore_keeps_build_outputs_and_local_data_out_of_the_context()
    {
        var lines = Repo.Read(".dockerignore").Split('\n').Select(l => l.Trim()).ToHashSet(StringComparer.Ordinal);
        foreach (string required in new[] { "**/bin/", "**/obj/", "artifacts/", ".litevl/", ".data/", "**/node_modules/", ".git/" })
        {
            Assert.Contains(required, lines);
        }

        // What the Dockerfiles copy must stay in the context.
        Assert.DoesNotContain(lines, l => l is "shared/" or "services/" or "models/" or "Directory.Build.props" or "Directory.Packages.props");
    }

    [Theory]
    [InlineData("FROM mcr.microsoft.com/dotnet/aspnet:10.0.12-noble\nUSER 1654\nHEALTHCHECK CMD wget -q -O /dev/null http://127.0.0.1:8080/health/ready\n", "not multi-stage")]
    [InlineData("FROM mcr.microsoft.com/dotnet/sdk:10.0.401-noble AS build\nFROM mcr.microsoft.com/dotnet/aspnet:10.0.12-noble\nRUN apt-get install -y wget\nCOPY --from=build /app .\nHEALTHCHECK CMD wget -q -O /dev/null http://127.0.0.1:8080/health/ready\n", "no USER")]
    [InlineData("FROM mcr.microsoft.com/dotnet/sdk:10.0.401-noble AS build\nFROM mcr.microsoft.com/dotnet/aspnet:10.0.12-noble\nRUN apt-get install -y wget\nCOPY --from=build /app .\nUSER root\nHEALTHCHECK CMD wget -q -O /dev/null http://127.0.0.1:8080/health/ready\n", "is root")]
    [InlineData("FROM mcr.microsoft.com/dotnet/sdk:10.0.401-noble AS build\nFROM mcr.microsoft.com/dotnet/aspnet:10.0.12-noble\nCOPY --from=build /app .\nUSER 1654\n", "no HEALTHCHECK")]
    [InlineData("FROM mcr.microsoft.com/dotnet/sdk:10.0.401-noble AS build\nFROM mcr.microsoft.com/dotnet/aspnet:10.0.12-noble\nRUN apt-get install -y wget\nCOPY --from=build /app .\nUSER 1654\nHEALTHCHECK CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz\n", "does not ask")]
    [InlineData("FROM mcr.microsoft.com/dotnet/sdk:10.0.401-noble AS build\nFROM mcr.microsoft.com/dotnet/aspnet:10.0.12-noble\nCOPY --from=build /app .\nUSER 1654\nHEALTHCHECK CMD curl -f http://127.0.0.1:8080/health/ready\n", "does not install")]
    [InlineData("FROM mcr.microsoft.com/dotnet/sdk:latest AS build\nFROM mcr.microsoft.com/dotnet/aspnet:10.0.12-noble\nRUN apt-get install -y wget\nCOPY --from=build /app .\nUSER 1654\nHEALTHCHECK CMD wget -q -O /dev/null http://127.0.0.1:8080/health/ready\n", "not pinned")]
    [InlineData("ARG BASE=nvidia/cuda\nFROM mcr.microsoft.com/dotnet/sdk:10.0.401-noble AS build\nFROM ${BASE}\nRUN apt-get install -y wget\nCOPY --from=build /app .\nUSER 1654\nHEALTHCHECK CMD wget -q -O /dev/null http://127.0.0.1:8080/health/ready\n", "no tag")]
    public void Checks_catch_a_broken_dockerfile(string text, string expected) =>
        Assert.Contains(DockerfileChecks.All(new Dockerfile(text, "Dockerfile"), service: true), p => p.Contains(expected, StringComparison.Ordinal));
}
