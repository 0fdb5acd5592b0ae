using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Weights;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace LiteVL.Cli.Commands;

/// <summary>
/// <c>litevl bench model</c>: throughput of the three graphs on random weights, fused vs plain attention and fp16 vs fp32,
/// all measured in one run so the ratios compare like with like. Prints figures; asserts nothing.
/// </summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter output)
    {
        var presets = new Option<string[]>("--preset") { Description = "Presets to measure (repeatable).", DefaultValueFactory = _ => [Presets.Tiny, Presets.BlipBase], AllowMultipleArgumentsPerToken = true };
        var seconds = new Option<double>("--seconds") { Description = "Measuring time per variant (at least 2 runs each).", DefaultValueFactory = _ => 3.0 };
        var videoBatch = new Option<int>("--video-batch") { Description = "Videos per video-encoder run.", DefaultValueFactory = _ => 4 };
        var textBatch = new Option<int>("--text-batch") { Description = "Queries per text-encoder run.", DefaultValueFactory = _ => 16 };
        var candidates = new Option<int>("--candidates") { Description = "Candidates per re-ranker run.", DefaultValueFactory = _ => 8 };
        var graphs = new Option<string[]>("--graph") { Description = "Graphs to measure (repeatable; default all three).", DefaultValueFactory = _ => [LiteVLGraphBuilder.VideoEncoderName, LiteVLGraphBuilder.TextEncoderName, LiteVLGraphBuilder.RerankerName], AllowMultipleArgumentsPerToken = true };
        graphs.AcceptOnlyFromAmong(LiteVLGraphBuilder.VideoEncoderName, LiteVLGraphBuilder.TextEncoderName, LiteVLGraphBuilder.RerankerName);
        var device = CliOptions.Device();
        var model = new Command("model", "Throughput of video encoder, text encoder and re-ranker on random weights.") { presets, graphs, seconds, videoBatch, textBatch, candidates, device };
        model.SetAction(p =>
        {
            var runtime = CliOptions.Runtime(p.GetValue(device)!, fp16: false);
            output.WriteLine($"# litevl bench model — {DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores, ONNX Runtime {OrtEnv.Instance().GetVersionString()}, {runtime.Device}");
            output.WriteLine();
            output.WriteLine("| preset | graph | variant | batch | ms/run | items/s | speed vs first row |");
            output.WriteLine("|---|---|---|---:|---:|---:|---:|");
            foreach (string preset in p.GetValue(presets)!)
            {
                var weights = ModelWeights.Random(Presets.Get(preset) with { Version = "bench" }, seed: 1);
                var shapes = new BenchShapes(weights.Config, p.GetValue(videoBatch), p.GetValue(textBatch), p.GetValue(candidates));
                foreach (string graph in p.GetValue(graphs)!)
                {
                    double? baseline = null;
                    foreach (var variant in Variants(graph))
                    {
                        var builder = new LiteVLGraphBuilder(weights, variant);
                        ModelProto proto = graph switch
                        {
                            LiteVLGraphBuilder.VideoEncoderName => builder.VideoEncoder(),
                            LiteVLGraphBuilder.TextEncoderName => builder.TextEncoder(),
                            _ => builder.Reranker(),
                        };
                        var (ms, batch) = Measure(proto, shapes, graph, runtime, p.GetValue(seconds));
                        baseline ??= ms;
                        string name = $"{variant.Attention.ToString().ToLowerInvariant()}{(graph == LiteVLGraphBuilder.RerankerName && variant.Attention == AttentionKind.Fused ? $" (cross {variant.EffectiveCrossAttention.ToString().ToLowerInvariant()})" : string.Empty)} {variant.Precision.ToString().ToLowerInvariant()}";
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {preset} | {graph} | {name} | {batch} | {ms:F1} | {batch * 1000 / ms:F1} | {baseline.Value / ms:F2}x |"));
                        output.Flush();
                    }
                }
            }

            return 0;
        });
        var bench = new Command("bench", "Benchmarks (print figures; never part of the tests).");
        bench.Subcommands.Add(model);
        bench.Subcommands.Add(PipelineBenchmark.Create(output));
        bench.Subcommands.Add(SearchBenchmark.Create(output));
        bench.Subcommands.Add(TrainBenchmark.Create(output));
        return bench;
    }

    /// <summary>Fused fp32 first (the baseline of the ratio column), then plain, fp16 and, for the re-ranker, both cross-attention kernels.</summary>
    private static IEnumerable<GraphBuildOptions> Variants(string graph)
    {
        if (graph == LiteVLGraphBuilder.RerankerName)
        {
            yield return new GraphBuildOptions(Precision.Fp32, AttentionKind.Fused, AttentionKind.Fused);
            yield return new GraphBuildOptions(Precision.Fp32, AttentionKind.Fused, AttentionKind.Plain);
        }
        else
        {
            yield return new GraphBuildOptions(Precision.Fp32, AttentionKind.Fused);
        }

        yield return new GraphBuildOptions(Precision.Fp32, AttentionKind.Plain);
        yield return new GraphBuildOptions(Precision.Fp16, AttentionKind.Fused);
    }

    private static (double Ms, int Batch) Measure(ModelProto proto, BenchShapes shapes, string graph, Model.Runtime.RuntimeOptions runtime, double seconds)
    {
        using var logging = CliOptions.Logging();
        using var options = Model.Runtime.SessionFactory.CreateOptions(runtime, logging.CreateLogger("bench"), out _);
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(proto), options);
        var (names, values, batch) = shapes.Inputs(graph);
        try
        {
            using var runOptions = new RunOptions();
            var outputNames = session.OutputNames.ToArray();
            session.Run(runOptions, names, values, outputNames).Dispose(); // warm-up
            var watch = Stopwatch.StartNew();
            int runs = 0;
            while (runs < 2 || watch.Elapsed.TotalSeconds < seconds)
            {
                session.Run(runOptions, names, values, outputNames).Dispose();
                runs++;
            }

            return (watch.Elapsed.TotalMilliseconds / runs, batch);
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    /// <summary>Random inputs of the contract shapes for each graph.</summary>
    private sealed record BenchShapes(ModelConfig Config, int VideoBatch, int TextBatch, int Candidates)
    {
        private const int TextLength = 35;

        public (string[] Names, OrtValue[] Values, int Batch) Inputs(string graph)
        {
            var c = Config;
            var rng = new Random(3);
            switch (graph)
            {
                case LiteVLGraphBuilder.VideoEncoderName:
                    {
                        int s = c.Vision.ImageSize;
                        var frames = new byte[VideoBatch * c.NumFrames * s * s * 3];
                        rng.NextBytes(frames);
                        return (["frames"], [OrtValue.CreateTensorValueFromMemory(frames, [VideoBatch, c.NumFrames, s, s, 3])], VideoBatch);
                    }

                case LiteVLGraphBuilder.TextEncoderName:
                    {
                        var (ids, mask) = Tokens(rng, TextBatch, first: 101);
                        return (["input_ids", "attention_mask"], [OrtValue.CreateTensorValueFromMemory(ids, [TextBatch, TextLength]), OrtValue.CreateTensorValueFromMemory(mask, [TextBatch, TextLength])], TextBatch);
                    }

                default:
                    {
                        int k = Candidates;
                        var (ids, mask) = Tokens(rng, k, first: 30523);
                        var tokens = new float[k * c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize];
                        for (int i = 0; i < tokens.Length; i++)
                        {
                            tokens[i] = (float)(rng.NextDouble() - 0.5);
                        }

                        var q = new float[k * c.EmbedDim];
                        Array.Fill(q, 1f / MathF.Sqrt(c.EmbedDim));
                        return (
                            ["input_ids", "attention_mask", "video_tokens", "text_embedding"],
                            [
                                OrtValue.CreateTensorValueFromMemory(ids, [k, TextLength]),
                                OrtValue.CreateTensorValueFromMemory(mask, [k, TextLength]),
                                OrtValue.CreateTensorValueFromMemory(tokens, [k, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize]),
                                OrtValue.CreateTensorValueFromMemory(q, [k, c.EmbedDim]),
                            ],
                            k);
                    }
            }
        }

        private static (long[] Ids, long[] Mask) Tokens(Random rng, int batch, long first)
        {
            var ids = new long[batch * TextLength];
            var mask = new long[batch * TextLength];
            for (int b = 0; b < batch; b++)
            {
                int length = 6 + (b % 10); // typical queries: 6–15 tokens, then padding
                for (int i = 0; i < length; i++)
                {
                    ids[(b * TextLength) + i] = i == 0 ? first : i == length - 1 ? 102 : rng.Next(1000, 30000);
                    mask[(b * TextLength) + i] = 1;
                }
            }

            return (ids, mask);
        }
    }
}
