using LiteVL.Model.Config;
using LiteVL.Model.IO;
using LiteVL.Model.Runtime;
using LiteVL.Model.Tensors;
using LiteVL.Model.Tests.Graphs;
using LiteVL.Model.Weights;

namespace LiteVL.Model.Tests.Weights;

/// <summary>
/// BLIP VQA checkpoints of both layouts (Hugging Face BlipForQuestionAnswering, salesforce blip_vqa.py), generated from
/// a tiny model with QA heads, added to a retrieval model: every QA tensor arrives where it belongs, the vision side stays
/// the model's, and broken checkpoints are refused with a message that names the tensor.
/// </summary>
public sealed class BlipVqaImportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("litevl-vqa-import-").FullName;

    /// <summary>
    /// A VQA checkpoint: the source's QA weights under BLIP VQA names, a vision side in the layout's names (its ViT is the
    /// source's, renamed for salesforce), buffers and the tied decoder matrix as the libraries save them.
    /// </summary>
    internal static string WriteFakeVqaCheckpoint(ModelWeights source, string path, BlipVqaImporter.Layout layout, TensorDType dtype = TensorDType.Float32, Func<string, string?>? rename = null, bool untie = false)
    {
        var items = new List<KeyValuePair<string, HostTensor>>();
        void Add(string name, float[] data, long[] shape)
        {
            string? final = rename is null ? name : rename(name);
            if (final is not null)
            {
                items.Add(new(final, TensorConversion.ToDType(HostTensor.FromFloats(data, shape), dtype)));
            }
        }

        foreach (var e in WeightSpec.For(source.Config).Where(e => WeightSpec.IsQa(e.Name)))
        {
            Add(BlipVqaImporter.SourceName(e.Name), source[e.Name].Data, e.Shape);
        }

        var words = source["qa.text_decoder.bert.embeddings.word_embeddings.weight"];
        var matrix = (float[])words.Data.Clone();
        if (untie)
        {
            matrix[5] += 0.5f;
        }

        Add("text_decoder.cls.predictions.decoder.weight", matrix, words.Shape);
        Add("text_decoder.cls.predictions.decoder.bias", source["qa.text_decoder.cls.predictions.bias"].Data, [source.Config.Text.VocabSize]);
        var patch = source["vision_model.embeddings.patch_embedding.weight"];
        var norm = source["vision_model.encoder.layers.0.layer_norm1.weight"];
        if (layout == BlipVqaImporter.Layout.HuggingFace)
        {
            Add("vision_model.embeddings.patch_embedding.weight", patch.Data, patch.Shape);
            Add("vision_model.encoder.layers.0.layer_norm1.weight", norm.Data, norm.Shape);
        }
        else
        {
            Add("visual_encoder.patch_embed.proj.weight", patch.Data, patch.Shape);
            Add("visual_encoder.blocks.0.norm1.weight", norm.Data, norm.Shape);
        }

        items.Add(new("text_encoder.embeddings.position_ids", HostTensor.FromInt64(Enumerable.Range(0, 512).Select(i => (long)i).ToArray(), 1, 512)));
        SafeTensorsWriter.Write(path, items);
        return path;
    }

    [Theory]
    [InlineData(BlipVqaImporter.Layout.HuggingFace, TensorDType.Float32)]
    [InlineData(BlipVqaImporter.Layout.Salesforce, TensorDType.Float32)]
    [InlineData(BlipVqaImporter.Layout.HuggingFace, TensorDType.BFloat16)]
    public void AddQaHeads_BothLayouts_EveryQaTensorArrives_AndTheRetrievalModelStaysAsItWas(BlipVqaImporter.Layout layout, TensorDType dtype)
    {
        var vqa = VideoQaGraphTests.TinyQa(71);
        var retrieval = TestModels.Tiny(72);
        string ckpt = WriteFakeVqaCheckpoint(vqa, Path.Combine(_dir, $"vqa-{layout}-{dtype}.safetensors"), layout, dtype);

        var merged = BlipVqaImporter.AddQaHeads(retrieval, ckpt, out var detected);

        Assert.Equal(layout, detected);
        Assert.NotNull(merged.Config.Qa);
        Assert.Contains("BLIP VQA checkpoint", merged.Config.Source, StringComparison.Ordinal);
        var spec = WeightSpec.For(merged.Config);
        Assert.Equal(spec.Count, merged.Tensors.Count);
        double tolerance = dtype == TensorDType.Float32 ? 0 : 1e-2;
        foreach (var e in spec)
        {
            var expected = WeightSpec.IsQa(e.Name) ? vqa[e.Name].Data : retrieval[e.Name].Data;
            Assert.Equal(expected.Length, merged[e.Name].Data.Length);
            double d = Compare.MaxAbsDiff(merged[e.Name].Data, expected.Select(v => (double)v).ToList());
            Assert.True(d <= tolerance, $"{e.Name} differs by {d}");
        }
    }

    [Fact]
    public void ImportedHeads_AnswerAsTheSourceModelDoes()
    {
        // The source model without its QA heads, then the heads back from a salesforce-layout checkpoint: the merged
        // model answers exactly as the source does (the pooling query comes from the retrieval text encoder, so that
        // side must be the source's too; the question encoder reads given video tokens, so the ViT does not enter).
        var vqa = VideoQaGraphTests.TinyQa(73);
        var retrievalOnly = new ModelWeights(vqa.Config with { Qa = null }, vqa.Tensors.Where(kv => !WeightSpec.IsQa(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
        string ckpt = WriteFakeVqaCheckpoint(vqa, Path.Combine(_dir, "answer.safetensors"), BlipVqaImporter.Layout.Salesforce);
        string sourceDir = Path.Combine(_dir, "source");
        string mergedDir = Path.Combine(_dir, "merged");
        ModelDirectory.Write(vqa, sourceDir);
        ModelDirectory.Write(BlipVqaImporter.AddQaHeads(retrievalOnly, ckpt, out _), mergedDir);
        using var source = LiteVLModel.Open(sourceDir);
        using var merged = LiteVLModel.Open(mergedDir);
        var c = source.Config;
        var (tokens, _) = GraphFidelityTests.RandomRerankInputs(c, 1, seed: 75);
        QaQuery[] query = [new("which way does it move?", tokens)];
        string[] candidates = ["left", "right", "up", "down"];
        var a = new VideoQa(source).Rank(query, candidates, 4)[0];
        var b = new VideoQa(merged).Rank(query, candidates, 4)[0];
        Assert.Equal(a.Ranked.Select(r => r.Answer), b.Ranked.Select(r => r.Answer));
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(a.Ranked[i].LogLikelihood, b.Ranked[i].LogLikelihood, 1e-4);
        }
    }

    [Fact]
    public void A_missing_tensor_is_named()
    {
        var vqa = VideoQaGraphTests.TinyQa(76);
        const string dropped = "text_decoder.bert.encoder.layer.1.crossattention.self.key.weight";
        string ckpt = WriteFakeVqaCheckpoint(vqa, Path.Combine(_dir, "missing.safetensors"), BlipVqaImporter.Layout.HuggingFace, rename: n => n == dropped ? null : n);
        var e = Assert.Throws<MissingWeightException>(() => BlipVqaImporter.AddQaHeads(TestModels.Tiny(77), ckpt, out _));
        Assert.Contains(dropped, e.Message, StringComparison.Ordinal);
        Assert.Contains("1 tensor(s) missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_misshapen_tensor_is_named_with_both_shapes()
    {
        var vqa = VideoQaGraphTests.TinyQa(78);
        string ckpt = Path.Combine(_dir, "misshapen.safetensors");
        WriteFakeVqaCheckpoint(vqa, ckpt, BlipVqaImporter.Layout.HuggingFace);
        var items = ReadAll(ckpt);
        items["text_encoder.encoder.layer.0.intermediate.dense.bias"] = HostTensor.FromFloats(new float[7], 7);
        SafeTensorsWriter.Write(ckpt, items);
        var e = Assert.Throws<WeightShapeException>(() => BlipVqaImporter.AddQaHeads(TestModels.Tiny(79), ckpt, out _));
        Assert.Contains("text_encoder.encoder.layer.0.intermediate.dense.bias", e.Message, StringComparison.Ordinal);
        Assert.Contains("[7]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[256]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_untied_decoder_matrix_and_a_foreign_vision_width_are_refused()
    {
        var vqa = VideoQaGraphTests.TinyQa(80);
        string untied = WriteFakeVqaCheckpoint(vqa, Path.Combine(_dir, "untied.safetensors"), BlipVqaImporter.Layout.HuggingFace, untie: true);
        Assert.Contains("ties them", Assert.Throws<WeightShapeException>(() => BlipVqaImporter.AddQaHeads(TestModels.Tiny(81), untied, out _)).Message, StringComparison.Ordinal);

        var wide = ModelWeights.Random(Presets.Get(Presets.Tiny) with { Vision = Presets.Get(Presets.Tiny).Vision with { HiddenSize = 96, NumHeads = 4 }, Qa = new QaConfig() }, 82);
        string foreign = WriteFakeVqaCheckpoint(wide, Path.Combine(_dir, "wide.safetensors"), BlipVqaImporter.Layout.Salesforce);
        var e = Assert.Throws<WeightShapeException>(() => BlipVqaImporter.AddQaHeads(TestModels.Tiny(83), foreign, out _));
        Assert.Contains("vision width of 96", e.Message, StringComparison.Ordinal);

        string notVqa = Path.Combine(_dir, "text-only.safetensors");
        SafeTensorsWriter.Write(notVqa, [new("text_encoder.embeddings.LayerNorm.weight", HostTensor.FromFloats(new float[64], 64))]);
        Assert.Contains("not a BLIP VQA checkpoint", Assert.Throws<MissingWeightException>(() => BlipVqaImporter.AddQaHeads(TestModels.Tiny(84), notVqa, out _)).Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<string, HostTensor> ReadAll(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        return file.Names.ToDictionary(n => n, n => file.Read(n), StringComparer.Ordinal);
    }
}
