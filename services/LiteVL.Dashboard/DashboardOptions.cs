using System.ComponentModel.DataAnnotations;

namespace LiteVL.Dashboard;

/// <summary>Section <c>LiteVL:Dashboard</c>.</summary>
public sealed class DashboardOptions
{
    public const string Section = "LiteVL:Dashboard";

    /// <summary>
    /// RabbitMQ management API (distributed mode), e.g. <c>http://rabbitmq:15672</c>; unset: port 15672 on
    /// <c>LiteVL:Messaging:RabbitMqHost</c>. Basic auth with the messaging credentials.
    /// </summary>
    public Uri? RabbitMqManagementUrl { get; set; }

    /// <summary>
    /// The Query API a separate dashboard process forwards searches to, e.g. <c>http://query:8081</c>. Not needed when
    /// the query service runs in the same process (the embedded host), which is called directly.
    /// </summary>
    public Uri? QueryApiUrl { get; set; }

    /// <summary>How often the browser polls for fresh figures.</summary>
    [Range(1, 60)]
    public int RefreshSeconds { get; set; } = 3;

    /// <summary>Stage latency percentiles cover the videos indexed in this window …</summary>
    public TimeSpan LatencyWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>… at most this many of the most recent (computed in memory, identically on SQLite and PostgreSQL).</summary>
    [Range(10, 100_000)]
    public int LatencySampleSize { get; set; } = 2000;

    /// <summary>The throughput chart's span, in one-minute buckets.</summary>
    [Range(5, 24 * 60)]
    public int ThroughputMinutes { get; set; } = 60;

    /// <summary>An encoder whose heartbeat is older than this is shown as stale.</summary>
    public TimeSpan EncoderStaleAfter { get; set; } = TimeSpan.FromSeconds(30);
}
