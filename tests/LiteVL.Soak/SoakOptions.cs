using System.Globalization;

namespace LiteVL.Soak;

/// <summary>A command line the soak cannot run; the message says what to change.</summary>
internal sealed class SoakUsageException(string message) : Exception(message);

/// <summary>What tests/soak.sh was asked to do. The defaults are a run of a few minutes on two cores.</summary>
internal sealed record SoakOptions
{
    public const string Usage =
        "usage: tests/soak.sh [--videos N] [--encoder-kills K] [--extractor-kills K] [--indexer-kills K]\n" +
        "                     [--broker-restarts R] [--db-restarts R] [--deletes D] [--seed S] [--settle-minutes M]";

    /// <summary>Distinct videos uploaded (some of them twice more: the duplicates come on top).</summary>
    public int Videos { get; init; } = 40;

    public int EncoderKills { get; init; } = 4;

    public int ExtractorKills { get; init; } = 4;

    public int IndexerKills { get; init; } = 3;

    public int BrokerRestarts { get; init; } = 1;

    public int DbRestarts { get; init; } = 1;

    public int Deletes { get; init; } = 4;

    public int Seed { get; init; } = 1;

    /// <summary>How long the pipeline may take to settle after the last fault before unfinished videos count as stuck.</summary>
    public int SettleMinutes { get; init; } = 10;

    public int Kills => EncoderKills + ExtractorKills + IndexerKills;

    /// <summary>Duplicate uploads (the same bytes again): one in ten videos, at least one.</summary>
    public int DuplicateUploads => Math.Max(1, Videos / 10);

    public static SoakOptions Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var o = new SoakOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            if (name is "-h" or "--help")
            {
                throw new SoakUsageException("");
            }

            if (i + 1 >= args.Count)
            {
                throw new SoakUsageException($"{name} needs a value.");
            }

            string raw = args[++i];
            if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            {
                throw new SoakUsageException($"{name} {raw}: the value must be a whole number of 0 or more.");
            }

            o = name switch
            {
                "--videos" => o with { Videos = value },
                "--encoder-kills" => o with { EncoderKills = value },
                "--extractor-kills" => o with { ExtractorKills = value },
                "--indexer-kills" => o with { IndexerKills = value },
                "--broker-restarts" => o with { BrokerRestarts = value },
                "--db-restarts" => o with { DbRestarts = value },
                "--deletes" => o with { Deletes = value },
                "--seed" => o with { Seed = value },
                "--settle-minutes" => o with { SettleMinutes = value },
                _ => throw new SoakUsageException($"unknown option {name}."),
            };
        }

        if (o.Videos < 1)
        {
            throw new SoakUsageException("--videos must be at least 1.");
        }

        if (o.SettleMinutes < 1)
        {
            throw new SoakUsageException("--settle-minutes must be at least 1.");
        }

        // Deleted videos are chosen among those uploaded once (a duplicate upload of a deleted video is a new video).
        if (o.Deletes > o.Videos - o.DuplicateUploads)
        {
            throw new SoakUsageException($"--deletes {o.Deletes} is more than the {o.Videos - o.DuplicateUploads} videos that are uploaded once; lower it or raise --videos.");
        }

        return o;
    }
}
