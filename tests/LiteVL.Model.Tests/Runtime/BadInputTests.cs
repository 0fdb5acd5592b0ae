using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using LiteVL.Model.Config;
using LiteVL.Model.Graphs;
using LiteVL.Model.IO;
using LiteVL.Model.Runtime;
using LiteVL.Model.Tensors;
using LiteVL.Model.Weights;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Runtime;

/// <summary>A real tiny model directory (random weights, fp32 graphs), opened once for all the tests of a class.</summary>
public sealed class TinyModelDirectoryFixture : IDisposable
{
    private readonly List<string> _scratch = [];

    public TinyModelDirectoryFixture()
    {
        ModelDir = NewTempDir();
        ModelDirectory.Init(Presets.Get(Presets.Tiny), seed: 1, outDir: ModelDir);
        Model = LiteVLModel.Open(ModelDir);
    }

    public string ModelDir { get; }

    public LiteVLModel Model { get; }

    public ModelConfig Config => Model.Config;

    /// <summary>A fresh directory with a copy of every file of the model directory except <paramref name="without"/>.</summary>
    public string CopyModelDir(string? without = null)
    {
        string dir = NewTempDir();
        foreach (string file in Directory.GetFiles(ModelDir))
        {
            if (Path.GetFileName(file) != without)
            {
                File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
            }
        }

        return dir;
    }

    public string NewTempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "litevl-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        lock (_scratch)
        {
            _scratch.Add(dir);
        }

        return dir;
    }

    public void Dispose()
    {
        Model.Dispose();
        foreach (string dir in _scratch)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a temp directory left behind is harmless.
            }
        }
    }
}

/// <summary>
/// Wrong inputs and broken model directories through the public runtime: each is a typed exception whose message says
/// what is wrong, never a crash inside ONNX Runtime (an OnnxRuntimeException fails <c>Assert.Throws</c>, which wants the exact type).
/// </summary>
public sealed class BadInputTests(TinyModelDirectoryFixture fixture, ITestOutputHelper output) : IClassFixture<TinyModelDirectoryFixture>
{
    private const int Enc = 30523;

    private ModelConfig C => fixture.Config;

    private int T => C.NumFrames;

    private int S => C.Vision.ImageSize;

    private int P => C.Vision.TokensPerFrame;

    private int D => C.Vision.HiddenSize;

    private int E => C.EmbedDim;

    // ───────────── video encoder ─────────────

    [Fact]
    public void VideoEncoder_WrongFrameCount_ThrowsNamingT()
    {
        var e = RunVideo(Frames(1, T + 1, S));
        AssertMentions(e, "'frames'", "T", $"must be {T}", $"[1, {T + 1}, {S}, {S}, 3]");
    }

    [Fact]
    public void VideoEncoder_WrongImageSize_ThrowsNamingS()
    {
        var e = RunVideo(Frames(1, T, S / 2));
        AssertMentions(e, "'frames'", "S", $"must be {S}", $"[1, {T}, {S / 2}, {S / 2}, 3]");
    }

    [Fact]
    public void VideoEncoder_FloatFrames_ThrowsNamingDType()
    {
        var frames = HostTensor.FromFloats(new float[T * S * S * 3], 1, T, S, S, 3);
        var e = RunVideo(frames);
        AssertMentions(e, "'frames'", "uint8", "float32");
    }

    [Fact]
    public void VideoEncoder_WrongRank_ThrowsNamingShape()
    {
        var frames = HostTensor.FromBytes(new byte[T * S * S * 3], T, S, S, 3);
        var e = RunVideo(frames);
        AssertMentions(e, "'frames'", $"[{T}, {S}, {S}, 3]", "shape");
    }

    [Fact]
    public void VideoEncoder_EmptyBatch_ThrowsNamingBatch()
    {
        var e = RunVideo(Frames(0, T, S));
        AssertMentions(e, "'frames'", "batch");
    }

    [Fact]
    public void VideoEncoder_MissingInput_ThrowsNamingIt()
    {
        var e = Assert.Throws<ModelInputException>(() => fixture.Model.VideoEncoder.Run(new Dictionary<string, HostTensor>()));
        Report(e);
        AssertMentions(e, "missing", "'frames'");
    }

    [Fact]
    public void VideoEncoder_UnknownInput_ThrowsNamingIt()
    {
        var e = Assert.Throws<ModelInputException>(() => fixture.Model.VideoEncoder.Run(new Dictionary<string, HostTensor>
        {
            ["frames"] = Frames(1, T, S),
            ["pixel_values"] = HostTensor.FromFloats([0f], 1),
        }));
        Report(e);
        AssertMentions(e, "unknown", "pixel_values");
    }

    // ───────────── text encoder ─────────────

    [Fact]
    public void TextEncoder_MissingAttentionMask_ThrowsNamingIt()
    {
        var e = Assert.Throws<ModelInputException>(() => fixture.Model.TextEncoder.Run(new Dictionary<string, HostTensor>
        {
            ["input_ids"] = HostTensor.FromInt64([101, 102], 1, 2),
        }));
        Report(e);
        AssertMentions(e, "missing", "'attention_mask'");
    }

    [Fact]
    public void TextEncoder_BatchMismatch_ThrowsNamingBothInputs()
    {
        var e = RunText(HostTensor.FromInt64(Ids(2, 5), 2, 5), HostTensor.FromInt64(Ones(3 * 5), 3, 5));
        AssertMentions(e, "batch", "'input_ids'", "'attention_mask'", "2", "3");
    }

    [Fact]
    public void TextEncoder_LengthMismatch_ThrowsNamingLength()
    {
        var e = RunText(HostTensor.FromInt64(Ids(1, 5), 1, 5), HostTensor.FromInt64(Ones(6), 1, 6));
        AssertMentions(e, "length", "'input_ids'", "'attention_mask'");
    }

    [Theory]
    [InlineData(30524L)]
    [InlineData(1_000_000L)]
    [InlineData(-1L)]
    public void TextEncoder_TokenIdOutsideVocabulary_ThrowsNamingId(long id)
    {
        var ids = Ids(2, 5);
        ids[7] = id;
        var e = RunText(HostTensor.FromInt64(ids, 2, 5), HostTensor.FromInt64(Ones(10), 2, 5));
        AssertMentions(e, "input_ids", id.ToString(), "vocabulary", C.Text.VocabSize.ToString());
    }

    [Theory]
    [InlineData(2L)]
    [InlineData(-1L)]
    public void TextEncoder_AttentionMaskNotZeroOrOne_ThrowsNamingValue(long value)
    {
        var mask = Ones(10);
        mask[3] = value;
        var e = RunText(HostTensor.FromInt64(Ids(2, 5), 2, 5), HostTensor.FromInt64(mask, 2, 5));
        AssertMentions(e, "attention_mask", "0 and 1", value.ToString());
    }

    [Fact]
    public void TextEncoder_TooLong_ThrowsNamingPositions()
    {
        int length = C.Text.MaxPositionEmbeddings + 1;
        var e = RunText(HostTensor.FromInt64(Ids(1, length), 1, length), HostTensor.FromInt64(Ones(length), 1, length));
        AssertMentions(e, "input_ids", length.ToString(), C.Text.MaxPositionEmbeddings.ToString());
    }

    [Fact]
    public void TextEncoder_Int32Ids_ThrowsNamingDType()
    {
        var ids = new HostTensor(TensorDType.Int32, [1, 2], new byte[8]);
        var e = RunText(ids, HostTensor.FromInt64(Ones(2), 1, 2));
        AssertMentions(e, "'input_ids'", "int64", "int32");
    }

    // ───────────── reranker ─────────────

    [Fact]
    public void Reranker_VideoTokensWrongWidth_ThrowsNamingD()
    {
        var e = RunReranker(k: 2, videoTokens: HostTensor.FromFloats(new float[2 * T * P * (D + 1)], 2, T, P, D + 1));
        AssertMentions(e, "'video_tokens'", "D", $"must be {D}");
    }

    [Fact]
    public void Reranker_VideoTokensWrongTokensPerFrame_ThrowsNamingP()
    {
        var e = RunReranker(k: 2, videoTokens: HostTensor.FromFloats(new float[2 * T * (P - 1) * D], 2, T, P - 1, D));
        AssertMentions(e, "'video_tokens'", "1+N", $"must be {P}");
    }

    [Fact]
    public void Reranker_TextEmbeddingWrongWidth_ThrowsNamingEmbedDim()
    {
        var e = RunReranker(k: 2, textEmbedding: HostTensor.FromFloats(new float[2 * (E + 1)], 2, E + 1));
        AssertMentions(e, "'text_embedding'", "embed_dim", $"must be {E}");
    }

    [Fact]
    public void Reranker_CandidateCountMismatch_ThrowsNamingCandidates()
    {
        var e = RunReranker(k: 2, videoTokens: HostTensor.FromFloats(new float[3 * T * P * D], 3, T, P, D));
        AssertMentions(e, "candidates", "'video_tokens'", "2", "3");
    }

    [Fact]
    public void Reranker_TokenIdOutsideVocabulary_ThrowsNamingId()
    {
        var ids = Ids(2, 6);
        ids[4] = C.Text.VocabSize;
        var e = RunReranker(k: 2, ids: HostTensor.FromInt64(ids, 2, 6));
        AssertMentions(e, "input_ids", C.Text.VocabSize.ToString(), "vocabulary");
    }

    [Fact]
    public void Reranker_AttentionMaskTwo_ThrowsNamingValue()
    {
        var mask = Ones(12);
        mask[0] = 2;
        var e = RunReranker(k: 2, mask: HostTensor.FromInt64(mask, 2, 6));
        AssertMentions(e, "attention_mask", "0 and 1", "2");
    }

    // ───────────── model directory ─────────────

    [Theory]
    [InlineData(LiteVLGraphBuilder.VideoEncoderName)]
    [InlineData(LiteVLGraphBuilder.TextEncoderName)]
    [InlineData(LiteVLGraphBuilder.RerankerName)]
    public void Open_GraphMissing_ThrowsTellingToBuild(string graph)
    {
        string file = GraphFiles.FileName(graph, Precision.Fp32);
        string dir = fixture.CopyModelDir(without: file);
        var e = Assert.Throws<ModelDirectoryException>(() => LiteVLModel.Open(dir).Dispose());
        Report(e);
        AssertMentions(e, file, "litevl model build");
    }

    [Theory]
    [InlineData(-1)]      // the last byte cut off
    [InlineData(-100000)] // the end of the data section
    [InlineData(100)]     // inside the header
    [InlineData(4)]       // inside the header-length prefix
    public void LoadWeights_TruncatedFile_ThrowsSayingTruncated(int keep)
    {
        var bytes = File.ReadAllBytes(Path.Combine(fixture.ModelDir, ModelWeights.FileName));
        string path = Path.Combine(fixture.NewTempDir(), ModelWeights.FileName);
        File.WriteAllBytes(path, bytes.AsSpan(0, keep >= 0 ? keep : bytes.Length + keep).ToArray());
        var e = Assert.Throws<SafeTensorsFormatException>(() => ModelWeights.Load(C, path));
        Report(e);
        AssertMentions(e, "truncated", path);
    }

    [Fact]
    public void LoadWeights_OneTensorMissing_ThrowsNamingIt()
    {
        const string dropped = "text_encoder.encoder.layer.1.crossattention.self.key.bias";
        var weights = ModelWeights.Load(C, Path.Combine(fixture.ModelDir, ModelWeights.FileName));
        Assert.Contains(dropped, weights.Tensors.Keys);
        string path = Path.Combine(fixture.NewTempDir(), ModelWeights.FileName);
        SafeTensorsWriter.Write(path, weights.Tensors
            .Where(kv => kv.Key != dropped)
            .Select(kv => new KeyValuePair<string, HostTensor>(kv.Key, HostTensor.FromFloats(kv.Value.Data, kv.Value.Shape))));
        var e = Assert.Throws<MissingWeightException>(() => ModelWeights.Load(C, path));
        Report(e);
        AssertMentions(e, dropped);
    }

    [Theory]
    [InlineData("vision", "num_heads", 3, "vision.num_heads")]
    [InlineData("text", "num_heads", 5, "text.num_heads")]
    [InlineData("tdp", "tau", 0, "tdp.tau")]
    [InlineData("", "num_frames", 0, "num_frames")]
    [InlineData("vision", "num_head", 4, "num_head")]
    public void Open_InvalidConfigField_ThrowsNamingField(string section, string field, int value, string expected)
    {
        string dir = fixture.CopyModelDir();
        string path = Path.Combine(dir, ModelConfig.FileName);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var target = section.Length == 0 ? json : json[section]!.AsObject();
        target[field] = value;
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<ModelDirectoryException>(() => LiteVLModel.Open(dir).Dispose());
        Report(e);
        AssertMentions(e, expected, ModelConfig.FileName);
    }

    // ───────────── happy path ─────────────

    [Fact]
    public void EncodeAndRerank_TinyModel_FiniteOutputsOfTheRightSizes()
    {
        var model = fixture.Model;
        const int batch = 2;
        var video = model.EncodeVideos(TestFrames(batch), batch);
        Assert.Equal(batch * T * P * D, video.VideoTokens.Length);
        Assert.Equal(batch * E, video.VideoEmbeddings.Length);
        AssertFinite(video.VideoTokens, "video tokens");
        AssertUnitRows(video.VideoEmbeddings, batch, "video embedding");

        string[] texts = ["a dog runs on the beach", "a man slices onions in a kitchen", "a dog runs on the beach"];
        var text = model.EncodeTexts(texts);
        Assert.Equal(texts.Length * E, text.Length);
        AssertUnitRows(text, texts.Length, "text embedding");
        Assert.Equal(text.AsSpan(0, E).ToArray(), text.AsSpan(2 * E, E).ToArray());
        Assert.Equal(text.AsSpan(0, E).ToArray(), model.EncodeTexts([texts[0]]));
        double different = Max(text.AsSpan(0, E), text.AsSpan(E, E));
        output.WriteLine($"max|Δ| between the embeddings of two different texts: {different:E2}");
        Assert.True(different > 1e-4, $"two different texts have embeddings only {different} apart");

        var rerank = model.Rerank(texts[0], video.VideoTokens, batch, text.AsSpan(0, E));
        Assert.Equal(batch, rerank.Candidates);
        Assert.Equal(batch * 2, rerank.ItmLogits.Length);
        Assert.Equal(batch * T, rerank.FrameWeights.Length);
        AssertFinite(rerank.ItmLogits, "ITM logits");
        for (int k = 0; k < batch; k++)
        {
            var w = rerank.FrameWeights.AsSpan(k * T, T).ToArray();
            Assert.All(w, x => Assert.InRange(x, 0f, 1f));
            Assert.InRange(w.Sum(), 1 - 1e-5, 1 + 1e-5);
            output.WriteLine($"candidate {k}: match logit {rerank.MatchLogit(k):F4}, frame weights {string.Join(", ", w.Select(x => x.ToString("F3")))}");
        }
    }

    [Fact]
    public void FrameWeights_FromTheClsTokensAlone_EqualTheRerankersOnes()
    {
        var model = fixture.Model;
        const int batch = 3;
        var video = model.EncodeVideos(TestFrames(batch), batch);
        var q = model.EncodeTexts(["a dog runs on the beach"]);
        var rerank = model.Rerank("a dog runs on the beach", video.VideoTokens, batch, q);
        var cls = new float[batch * T * D];
        for (int f = 0; f < batch * T; f++)
        {
            video.VideoTokens.AsSpan(f * P * D, D).CopyTo(cls.AsSpan(f * D));   // token p = 0 of frame f
        }

        var weights = model.FrameWeights(cls, batch, q);
        double spread = 0;
        for (int k = 0; k < batch; k++)
        {
            var w = weights.AsSpan(k * T, T);
            spread = Math.Max(spread, TensorPrimitives.Max(w) - TensorPrimitives.Min(w));
            Assert.Equal(TensorPrimitives.IndexOfMax(rerank.FrameWeights.AsSpan(k * T, T)), TensorPrimitives.IndexOfMax(w));
        }

        double diff = Max(weights, rerank.FrameWeights);
        output.WriteLine($"max|Δ| host vs graph frame weights: {diff:E2}; largest spread of one candidate's weights {spread:F3}");
        Assert.True(diff <= 1e-5, $"host frame weights differ from the re-ranker's by {diff}");
        Assert.True(spread > 1e-3, "the frames must weigh differently for the comparison to mean anything");

        var e = Assert.Throws<ModelInputException>(() => model.FrameWeights(cls.AsSpan(D), batch, q));
        Report(e);
        Assert.Contains("CLS tokens", e.Message, StringComparison.Ordinal);
    }

    // ───────────── helpers ─────────────

    private ModelInputException RunVideo(HostTensor frames)
    {
        var e = Assert.Throws<ModelInputException>(() => fixture.Model.VideoEncoder.Run(new Dictionary<string, HostTensor> { ["frames"] = frames }));
        Report(e);
        return e;
    }

    private ModelInputException RunText(HostTensor ids, HostTensor mask)
    {
        var e = Assert.Throws<ModelInputException>(() => fixture.Model.TextEncoder.Run(new Dictionary<string, HostTensor>
        {
            ["input_ids"] = ids,
            ["attention_mask"] = mask,
        }));
        Report(e);
        return e;
    }

    private ModelInputException RunReranker(int k, HostTensor? ids = null, HostTensor? mask = null, HostTensor? videoTokens = null, HostTensor? textEmbedding = null)
    {
        var inputIds = Ids(k, 6);
        for (int i = 0; i < k; i++)
        {
            inputIds[i * 6] = Enc;
        }

        var e = Assert.Throws<ModelInputException>(() => fixture.Model.Reranker.Run(new Dictionary<string, HostTensor>
        {
            ["input_ids"] = ids ?? HostTensor.FromInt64(inputIds, k, 6),
            ["attention_mask"] = mask ?? HostTensor.FromInt64(Ones(k * 6), k, 6),
            ["video_tokens"] = videoTokens ?? HostTensor.FromFloats(new float[k * T * P * D], k, T, P, D),
            ["text_embedding"] = textEmbedding ?? HostTensor.FromFloats(new float[k * E], k, E),
        }));
        Report(e);
        return e;
    }

    private static HostTensor Frames(int batch, int t, int s) => HostTensor.FromBytes(new byte[batch * t * s * s * 3], batch, t, s, s, 3);

    private byte[] TestFrames(int batch)
    {
        var bytes = new byte[batch * T * S * S * 3];
        new Random(5).NextBytes(bytes);
        return bytes;
    }

    private static long[] Ids(int batch, int length)
    {
        var ids = new long[batch * length];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = (i % length) == 0 ? 101 : (i % length) == length - 1 ? 102 : 1000 + i;
        }

        return ids;
    }

    private static long[] Ones(int n) => Enumerable.Repeat(1L, n).ToArray();

    private void Report(Exception e) => output.WriteLine($"{e.GetType().Name}: {e.Message}");

    private static void AssertMentions(Exception e, params string[] parts)
    {
        foreach (string part in parts)
        {
            Assert.True(e.Message.Contains(part, StringComparison.Ordinal), $"The message should mention \"{part}\": {e.Message}");
        }
    }

    private static void AssertFinite(float[] values, string what) =>
        Assert.True(values.All(float.IsFinite), $"{what} hold a non-finite value");

    private static void AssertUnitRows(float[] values, int rows, string what)
    {
        AssertFinite(values, what);
        int width = values.Length / rows;
        for (int r = 0; r < rows; r++)
        {
            double norm = Math.Sqrt(values.AsSpan(r * width, width).ToArray().Sum(x => (double)x * x));
            Assert.True(Math.Abs(norm - 1) <= 1e-5, $"{what} {r} has norm {norm}");
        }
    }

    private static double Max(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }
}
