using System.Text.Json;
using System.Text.Json.Nodes;

namespace LiteVL.Cli.Ingest;

/// <summary>
/// The resume file (<c>.litevl-ingest.json</c>): for each server, SHA-256 → video id of the uploads that completed
/// (uploaded or answered duplicate). A re-run skips those files without sending them. Saved atomically after every change.
/// </summary>
public sealed class IngestState
{
    public const string DefaultFileName = ".litevl-ingest.json";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Dictionary<string, string>> _servers;

    private IngestState(string path, Dictionary<string, Dictionary<string, string>> servers)
    {
        FilePath = path;
        _servers = servers;
    }

    public string FilePath { get; }

    /// <summary>Where the state lives by default: next to a single manifest, inside a single folder, else next to the first path.</summary>
    public static string DefaultLocation(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0) return Path.GetFullPath(DefaultFileName);
        string first = Path.GetFullPath(paths[0]);
        if (Directory.Exists(first)) return Path.Combine(first, DefaultFileName);
        return Path.Combine(Path.GetDirectoryName(first) ?? Environment.CurrentDirectory, DefaultFileName);
    }

    public static IngestState Load(string path)
    {
        var servers = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        if (File.Exists(path))
        {
            JsonNode? root;
            try
            {
                root = JsonNode.Parse(File.ReadAllText(path));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path} is not a LiteVL ingest state file ({e.Message}); delete it or pass --state OTHER.", e);
            }

            if (root?["servers"] is JsonObject all)
            {
                foreach (var (server, node) in all)
                {
                    var map = new Dictionary<string, string>(StringComparer.Ordinal);
                    if (node is JsonObject entries)
                    {
                        foreach (var (sha, id) in entries)
                        {
                            if (id?.GetValueKind() == JsonValueKind.String) map[sha] = id.GetValue<string>();
                        }
                    }

                    servers[server] = map;
                }
            }
        }

        return new IngestState(path, servers);
    }

    public static string ServerKey(string server) => server.Trim().TrimEnd('/').ToLowerInvariant();

    public bool TryGet(string server, string sha256, out string videoId)
    {
        lock (_lock)
        {
            if (_servers.TryGetValue(ServerKey(server), out var map) && map.TryGetValue(sha256, out var id))
            {
                videoId = id;
                return true;
            }
        }

        videoId = string.Empty;
        return false;
    }

    public int Count(string server)
    {
        lock (_lock)
        {
            return _servers.TryGetValue(ServerKey(server), out var map) ? map.Count : 0;
        }
    }

    /// <summary>Records a completed upload and saves the file (write to a temp file, then rename).</summary>
    public void Record(string server, string sha256, string videoId)
    {
        lock (_lock)
        {
            string key = ServerKey(server);
            if (!_servers.TryGetValue(key, out var map)) _servers[key] = map = new Dictionary<string, string>(StringComparer.Ordinal);
            map[sha256] = videoId;
            var root = new JsonObject
            {
                ["version"] = 1,
                ["servers"] = new JsonObject(_servers.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s =>
                    KeyValuePair.Create<string, JsonNode?>(s.Key, new JsonObject(s.Value.OrderBy(e => e.Key, StringComparer.Ordinal)
                        .Select(e => KeyValuePair.Create<string, JsonNode?>(e.Key, JsonValue.Create(e.Value))))))),
            };
            string? dir = Path.GetDirectoryName(Path.GetFullPath(FilePath));
            if (dir is not null) Directory.CreateDirectory(dir);
            string temp = FilePath + ".tmp";
            File.WriteAllText(temp, root.ToJsonString(Indented));
            File.Move(temp, FilePath, overwrite: true);
        }
    }
}
