using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace LiteVL.Deployment.Tests;

/// <summary>
/// YAML as plain objects: mappings are <see cref="IDictionary{TKey,TValue}"/>, sequences <see cref="IList{T}"/>, scalars
/// strings. Anchors, aliases and merge keys (&lt;&lt;: *x, as docker-compose.yml uses them) are resolved.
/// </summary>
internal static class Yaml
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder().Build();

    public static List<object?> LoadAll(string text)
    {
        var documents = new List<object?>();
        var parser = new MergingParser(new Parser(new StringReader(text)));
        parser.Consume<StreamStart>();
        while (parser.Accept<DocumentStart>(out _))
        {
            documents.Add(Deserializer.Deserialize<object?>(parser));
        }

        return documents;
    }

    public static object? Load(string text) => LoadAll(text).Single();

    public static IDictionary<object, object>? Map(this object? node) => node as IDictionary<object, object>;

    public static IList<object> Seq(this object? node) => node as IList<object> ?? [];

    public static string? Str(this object? node) => node switch
    {
        null => null,
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => null,
    };

    /// <summary>The node at a path of mapping keys, or null where any step is missing.</summary>
    public static object? At(this object? node, params string[] path)
    {
        foreach (string key in path)
        {
            if (node.Map() is not { } map || !map.TryGetValue(key, out node))
            {
                return null;
            }
        }

        return node;
    }

    public static IEnumerable<KeyValuePair<string, object?>> Entries(this object? node) =>
        node.Map() is { } map ? map.Select(kv => new KeyValuePair<string, object?>(kv.Key.Str() ?? "", kv.Value)) : [];
}
