using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using System.ComponentModel.DataAnnotations;
using LiteVL.VectorIndex;
using Microsoft.Extensions.Options;
using Qdrant.Client;

namespace LiteVL.VectorIndex.Hosting;

public enum VectorIndexKind
{
    /// <summary>The embedded exact index (one process owns it: the embedded host).</summary>
    Embedded,

    Qdrant,
}

/// <summary>Section <c>LiteVL:VectorIndex</c>.</summary>
public sealed class VectorIndexOptions : IValidatableObject
{
    public const string Section = "LiteVL:VectorIndex";

    public VectorIndexKind Kind { get; set; } = VectorIndexKind.Embedded;

    /// <summary>Directory of the embedded index; defaults to <c>{LiteVL:Storage:DataDirectory}/vectors</c>.</summary>
    public string? Directory { get; set; }

    /// <summary>Qdrant gRPC endpoint, e.g. http://qdrant:6334.</summary>
    public string? QdrantUrl { get; set; }

    public string? QdrantApiKey { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Kind == VectorIndexKind.Qdrant && !Uri.TryCreate(QdrantUrl, UriKind.Absolute, out _))
        {
            yield return new ValidationResult("LiteVL:VectorIndex:QdrantUrl must be an absolute URL (e.g. http://qdrant:6334) when Kind is Qdrant.", [nameof(QdrantUrl)]);
        }
    }
}

public static class VectorIndexHostingExtensions
{
    public static IServiceCollection AddLiteVLVectorIndex(this IServiceCollection services, IConfiguration configuration)
    {
        if (services.Any(d => d.ServiceType == typeof(IVectorIndex)))
        {
            return services;
        }

        services.AddOptions<VectorIndexOptions>().Bind(configuration.GetSection(VectorIndexOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IVectorIndex>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<VectorIndexOptions>>().Value;
            if (o.Kind == VectorIndexKind.Qdrant)
            {
                var client = new QdrantClient(new Uri(o.QdrantUrl!), o.QdrantApiKey);
                return new QdrantVectorIndex(client, ownsClient: true);
            }

            string dir = o.Directory ?? Path.Combine(sp.GetRequiredService<IOptions<LiteVL.Storage.StorageOptions>>().Value.DataDirectory, "vectors");
            return EmbeddedVectorIndex.Open(dir);
        });
        return services;
    }
}
