using LiteVL.Model.Config;
using LiteVL.Model.Tensors;

namespace LiteVL.Model.Weights;

/// <summary>
/// Where <c>litevl train --task qa</c> starts video QA heads on a retrieval model that has none. BLIP VQA starts from
/// BLIP's pre-trained text encoder and decoder, which in pre-training share every weight but self-attention; a LiteVL
/// retrieval model has the encoder only, so both heads start from it:
/// <list type="bullet">
/// <item>the question encoder is a copy of the grounded encoder (<c>text_encoder.*</c>, already trained to read video
/// tokens through cross-attention);</item>
/// <item>the answer decoder's BERT is a copy of it too (its cross-attention reads the question states, width H: copied
/// when H = D, else random N(0, 0.02));</item>
/// <item>the LM head's transform is random N(0, 0.02) with a unit LayerNorm, its bias zero;</item>
/// <item>the question encoder reads the retrieval encoder's word embeddings (<see cref="QaConfig.ShareWordEmbeddings"/>):
/// not stored twice, and not trained, so retrieval is untouched; the decoder's own start as a copy of them (they are
/// its output matrix too, and the answers' rows must grow: a frozen table of small rows caps every logit).</item>
/// </list>
/// </summary>
public static class QaHeads
{
    public static ModelWeights Initialise(ModelWeights retrieval, int seed, QaConfig? qa = null)
    {
        var config = retrieval.Config with { Qa = (qa ?? retrieval.Config.Qa ?? new QaConfig()) with { ShareWordEmbeddings = true } };
        var tensors = retrieval.Tensors.Where(kv => !WeightSpec.IsQa(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var rng = new Random(seed);
        foreach (var e in WeightSpec.For(config).Where(e => WeightSpec.IsQa(e.Name)))
        {
            string? copyOf = CopySource(e.Name);
            if (copyOf is not null && tensors.TryGetValue(copyOf, out var source) && source.Shape.AsSpan().SequenceEqual(e.Shape))
            {
                tensors[e.Name] = new Weight((float[])source.Data.Clone(), e.Shape);
                continue;
            }

            var data = new float[HostTensor.ElementCountOf(e.Shape)];
            if (e.Role == WeightRole.NormWeight)
            {
                Array.Fill(data, 1f);
            }
            else if (e.Role == WeightRole.Kernel)
            {
                for (int i = 0; i < data.Length; i++)
                {
                    data[i] = (float)(0.02 * Gaussian(rng));
                }
            }

            tensors[e.Name] = new Weight(data, e.Shape);
        }

        return new ModelWeights(config, tensors);
    }

    /// <summary>The retrieval weight a QA weight starts as: the grounded encoder's of the same place, for both BERTs.</summary>
    private static string? CopySource(string name)
    {
        if (name.StartsWith(WeightSpec.QaEncoderPrefix, StringComparison.Ordinal))
        {
            return "text_encoder." + name[WeightSpec.QaEncoderPrefix.Length..];
        }

        if (name.StartsWith(WeightSpec.QaDecoderPrefix, StringComparison.Ordinal))
        {
            return "text_encoder." + name[WeightSpec.QaDecoderPrefix.Length..];
        }

        return null;
    }

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - rng.NextDouble())) * Math.Cos(2.0 * Math.PI * rng.NextDouble());
}
