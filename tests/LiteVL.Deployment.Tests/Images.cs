using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace LiteVL.Deployment.Tests;

internal static partial class Images
{
    /// <summary>
    /// Null when the reference is pinned: a digest, or a tag that names a version (at least major.minor) and is not
    /// "latest". "postgres", "postgres:latest" and "postgres:17" are not pinned.
    /// </summary>
    public static string? PinProblem(string image)
    {
        if (image.Contains("@sha256:", StringComparison.Ordinal))
        {
            return null;
        }

        int slash = image.LastIndexOf('/');
        int colon = image.LastIndexOf(':');
        if (colon <= slash)
        {
            return $"image '{image}' has no tag (it means :latest)";
        }

        string tag = image[(colon + 1)..];
        if (tag.Equals("latest", StringComparison.OrdinalIgnoreCase) || !VersionTag().IsMatch(tag))
        {
            return $"image '{image}' is not pinned to a version (tag '{tag}')";
        }

        return null;
    }

    [GeneratedRegex(@"\d+\.\d+")]
    private static partial Regex VersionTag();

    /// <summary>major.minor of a version tag such as v1.20.0-unprivileged.</summary>
    public static string? MajorMinor(string image) =>
        MajorMinorPattern().Match(image[(image.LastIndexOf(':') + 1)..]) is { Success: true } m ? m.Value : null;

    [GeneratedRegex(@"\d+\.\d+")]
    private static partial Regex MajorMinorPattern();

    /// <summary>The Qdrant.Client version of Directory.Packages.props.</summary>
    public static string QdrantClientVersion() =>
        XDocument.Parse(Repo.Read("Directory.Packages.props")).Descendants("PackageVersion")
            .Single(e => (string?)e.Attribute("Include") == "Qdrant.Client").Attribute("Version")!.Value;
}
