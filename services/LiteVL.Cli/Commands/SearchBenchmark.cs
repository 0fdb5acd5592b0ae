using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using LiteVL.Model;
using LiteVL.Model.Config;
using LiteVL.Model.Runtime;
using LiteVL.VectorIndex;

namespace LiteVL.Cli.Commands;

/// <summary>
/// <c>litevl bench search</c>: (1) the embedded index's exact scan for 10k/100k/1M vectors, as time per query and GB/s
/// next to this machine's measured memory read bandwidth; (2) search latency and queries/s, coarse only and re-ranked
/// at 8/16/32 candidates, for random-weight models (text encoder + scan + reranker on in-memory tokens).
/// Prints figures; asserts nothing.
/// </summary>
internal static class SearchBenchmark
{
    private static readonly string[] Queries =
    [
        "a dog catches a frisbee in the park", "two people dancing on a stage", "a car drives through the rain at night",
        "someone is cooking pasta in a kitchen", "a man plays the guitar", "children play football on a beach",
        "a cat jumps onto a table", "fireworks over a city skyline",
    ];

    public static Command Create(TextWriter output)
    {
        var presets = new Option<string[]>("--preset") { Description = "Model presets for the latency part (repeatable).", DefaultValueFactory = _ => [Presets.Tiny, Presets.BlipBase], AllowMultipleArgumentsPerToken = true };
        var sizes = new Option<int[]>("--vectors") { Description = "Index sizes for the scan part (repeatable).", DefaultValueFactory = _ => [10_000, 100_000, 1_000_000], AllowMultipleArgumentsPerToken = true };
        var queries = new Option<int>("--queries") { Description = "Queries per latency setting (tiny; blip-base uses a quarter, at least 3).", DefaultValueFactory = _ => 40 };
        var cmd = new Command("search", "Embedded index scan speed vs memory bandwidth, and search latency coarse vs re-ranked.") { presets, sizes, queries };
        cmd.SetAction(async (p, ct) =>
        {
            output.WriteLine($"# litevl bench search — {DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores");
            await ScanAsync(p.GetValue(sizes)!, output, ct).ConfigureAwait(false);
            foreach (string preset in p.GetValue(presets)!)
            {
                Latency(preset, p.GetValue(queries), output);
            }

            return 0;
        });
        return cmd;
    }

    private static async Task ScanAsync(int[] sizes, TextWriter o, CancellationToken ct)
    {
        double bandwidth = MemoryReadBandwidth();
        o.WriteLine();
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Embedded index, 256-d float32, top-10, one tenant; memory read bandwidth (TensorPrimitives.Sum over 1 GiB, 1 thread): {bandwidth:F1} GB/s"));
        o.WriteLine();
        o.WriteLine("| vectors | index bytes | ms/query (1 thread) | scan GB/s | share of memory bandwidth |");
        o.WriteLine("|---:|---:|---:|---:|---:|");
        const int dims = 256;
        foreach (int n in sizes)
        {
            string dir = Directory.CreateTempSubdirectory("litevl-scan-").FullName;
            try
            {
                using var index = EmbeddedVectorIndex.Open(dir, new EmbeddedVectorIndexOptions { Durable = false, CompactAfterLogBytes = long.MaxValue });
                await index.EnsureCollectionAsync("bench", dims, ct).ConfigureAwait(false);
                var rng = new Random(1);
                var now = DateTimeOffset.UtcNow;
                for (int start = 0; start < n; start += 20_000)
                {
                    var points = new List<VectorPoint>();
                    for (int i = start; i < Math.Min(n, start + 20_000); i++)
                    {
                        points.Add(new VectorPoint(new Guid(i, 0, 0, new byte[8]), 0, "bench", 0, 10, null, [], now, RandomUnit(rng, dims)));
                    }

                    await index.UpsertAsync("bench", points, ct).ConfigureAwait(false);
                }

                var query = RandomUnit(rng, dims);
                var filter = new VectorFilter("bench");
                index.Search("bench", query, 10, filter); // warm-up
                int runs = Math.Max(5, 2_000_000 / n);
                var watch = Stopwatch.StartNew();
                for (int r = 0; r < runs; r++)
                {
                    index.Search("bench", query, 10, filter);
                }

                double ms = watch.Elapsed.TotalMilliseconds / runs;
                double bytes = (double)n * dims * sizeof(float);
                double gbps = bytes / (ms / 1000) / 1e9;
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {n:N0} | {bytes / 1e6:F0} MB | {ms:F2} | {gbps:F1} | {gbps / bandwidth:P0} |"));
                o.Flush();
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static void Latency(string preset, int queryCount, TextWriter o)
    {
        string dir = Directory.CreateTempSubdirectory("litevl-searchbench-").FullName;
        try
        {
            var config = ModelDirectory.Init(Presets.Get(preset), seed: 1, dir);
            using var model = LiteVLModel.Open(dir);
            int perSegment = config.NumFrames * config.Vision.TokensPerFrame * config.Vision.HiddenSize;
            int n = preset == Presets.Tiny ? queryCount : Math.Max(3, queryCount / 4);
            var rng = new Random(2);
            var tokens = new float[32 * perSegment];
            for (int i = 0; i < tokens.Length; i++)
            {
                tokens[i] = (float)(rng.NextDouble() - 0.5);
            }

            // 100k random vectors stand in for the coarse index; tokens are in memory (the service's cache-hit path).
            var vectors = new float[100_000 * config.EmbedDim];
            for (int i = 0; i < vectors.Length; i++)
            {
                vectors[i] = (float)(rng.NextDouble() - 0.5);
            }

            o.WriteLine();
            o.WriteLine($"Search latency, {preset} (random weights), CPU, 100k-vector coarse scan, tokens from the cache, {n} queries per row:");
            o.WriteLine();
            o.WriteLine("| mode | candidates | p50 ms | p95 ms | queries/s |");
            o.WriteLine("|---|---:|---:|---:|---:|");
            model.EncodeTexts([Queries[0]]);
            model.Rerank(Queries[0], tokens.AsSpan(0, perSegment).ToArray(), 1, model.EncodeTexts([Queries[0]])); // warm-up
            foreach (int k in new[] { 0, 8, 16, 32 })
            {
                var candidateTokens = tokens.AsSpan(0, Math.Max(1, k) * perSegment).ToArray();
                var latencies = new List<double>();
                var total = Stopwatch.StartNew();
                for (int i = 0; i < n; i++)
                {
                    var watch = Stopwatch.StartNew();
                    string query = Queries[i % Queries.Length];
                    var q = model.EncodeTexts([query]);
                    Scan(vectors, q, config.EmbedDim, Math.Max(1, k));
                    if (k > 0)
                    {
                        model.Rerank(query, candidateTokens, k, q);
                    }

                    latencies.Add(watch.Elapsed.TotalMilliseconds);
                }

                latencies.Sort();
                double p50 = latencies[(int)(0.50 * (latencies.Count - 1))];
                double p95 = latencies[(int)Math.Ceiling(0.95 * (latencies.Count - 1))];
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {(k == 0 ? "coarse only" : "re-ranked")} | {(k == 0 ? "-" : k.ToString(CultureInfo.InvariantCulture))} | {p50:F1} | {p95:F1} | {n / total.Elapsed.TotalSeconds:F2} |"));
                o.Flush();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Scan(float[] vectors, ReadOnlySpan<float> q, int dims, int k)
    {
        var heap = new PriorityQueue<int, float>(k + 1);
        for (int i = 0; i < vectors.Length / dims; i++)
        {
            float s = TensorPrimitives.Dot(vectors.AsSpan(i * dims, dims), q);
            heap.Enqueue(i, s);
            if (heap.Count > k)
            {
                heap.Dequeue();
            }
        }
    }

    /// <summary>Single-thread streaming read of a 1 GiB array, the ceiling a one-thread scan can approach.</summary>
    private static double MemoryReadBandwidth()
    {
        var data = new float[1 << 28];
        data.AsSpan().Fill(1f);
        TensorPrimitives.Sum(data);
        double best = 0;
        for (int r = 0; r < 5; r++)
        {
            var watch = Stopwatch.StartNew();
            TensorPrimitives.Sum(data);
            best = Math.Max(best, data.Length * 4.0 / watch.Elapsed.TotalSeconds / 1e9);
        }

        return best;
    }

    private static float[] RandomUnit(Random rng, int dims)
    {
        var v = new float[dims];
        for (int i = 0; i < dims; i++)
        {
            v[i] = (float)(rng.NextDouble() - 0.5);
        }

        float norm = TensorPrimitives.Norm(v);
        TensorPrimitives.Divide(v, norm, v);
        return v;
    }
}
