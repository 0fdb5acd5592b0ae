using LiteVL.Model.Config;
using LiteVL.Model.Weights;

namespace LiteVL.Model.Tests.Reference;

/// <summary>
/// An independent, deliberately naive implementation of docs/model.md's maths with plain loops in double precision.
/// It shares nothing with the graph builder but the weight names; the graphs are checked against it.
/// </summary>
public sealed class ReferenceLiteVL
{
    private readonly ModelWeights _w;
    private readonly ModelConfig _c;

    public ReferenceLiteVL(ModelWeights weights)
    {
        _w = weights;
        _c = weights.Config;
    }

    private int D => _c.Vision.HiddenSize;

    private int T => _c.NumFrames;

    private int P => _c.Vision.TokensPerFrame;

    // ───────────── vision ─────────────

    /// <summary>One video: frames [T,S,S,3] → tokens [T][P][D] and the 256-d embedding.</summary>
    public (double[][][] Tokens, double[] Embedding) EncodeVideo(ReadOnlySpan<byte> frames)
    {
        int s = _c.Vision.ImageSize;
        var patches = new double[T][][];
        for (int t = 0; t < T; t++)
        {
            patches[t] = PatchEmbed(frames.Slice(t * s * s * 3, s * s * 3));
        }

        return _c.ClsMode == ClsMode.PerFrame ? PerFrame(patches) : SharedCls(patches);
    }

    /// <summary>BLIP's image encoder on one frame [S,S,3] → tokens [P][D] and embedding.</summary>
    public (double[][] Tokens, double[] Embedding) EncodeImage(ReadOnlySpan<byte> frame)
    {
        var patches = PatchEmbed(frame);
        var x = new double[P][];
        var pos = W("vision_model.embeddings.position_embedding");
        var cls = W("vision_model.embeddings.class_embedding");
        for (int p = 0; p < P; p++)
        {
            x[p] = new double[D];
            for (int d = 0; d < D; d++)
            {
                x[p][d] = (p == 0 ? cls[d] : patches[p - 1][d]) + pos[(p * D) + d];
            }
        }

        for (int l = 0; l < _c.Vision.NumLayers; l++)
        {
            x = SpatialBlock(x, $"vision_model.encoder.layers.{l}.");
        }

        x = x.Select(r => LayerNorm(r, "vision_model.post_layernorm", _c.Vision.LayerNormEps)).ToArray();
        return (x, Normalize(Linear(x[0], "vision_proj")));
    }

    private (double[][][] Tokens, double[] Embedding) PerFrame(double[][][] patches)
    {
        var pos = W("vision_model.embeddings.position_embedding");
        var cls = W("vision_model.embeddings.class_embedding");
        var time = W("vision_model.embeddings.time_embedding");
        var x = new double[T][][];
        for (int t = 0; t < T; t++)
        {
            x[t] = new double[P][];
            for (int p = 0; p < P; p++)
            {
                x[t][p] = new double[D];
                for (int d = 0; d < D; d++)
                {
                    x[t][p][d] = (p == 0 ? cls[d] : patches[t][p - 1][d]) + pos[(p * D) + d] + time[(t * D) + d];
                }
            }
        }

        for (int l = 0; l < _c.Vision.NumLayers; l++)
        {
            string prefix = $"vision_model.encoder.layers.{l}.";
            TemporalBranch(x, prefix, firstPosition: 0);
            for (int t = 0; t < T; t++)
            {
                x[t] = SpatialBlock(x[t], prefix);
            }
        }

        var mean = new double[_c.EmbedDim];
        for (int t = 0; t < T; t++)
        {
            for (int p = 0; p < P; p++)
            {
                x[t][p] = LayerNorm(x[t][p], "vision_model.post_layernorm", _c.Vision.LayerNormEps);
            }

            var proj = Linear(x[t][0], "vision_proj");
            for (int e = 0; e < mean.Length; e++)
            {
                mean[e] += proj[e] / T;
            }
        }

        return (x, Normalize(mean));
    }

    private (double[][][] Tokens, double[] Embedding) SharedCls(double[][][] patches)
    {
        var pos = W("vision_model.embeddings.position_embedding");
        var clsEmb = W("vision_model.embeddings.class_embedding");
        var time = W("vision_model.embeddings.time_embedding");
        double eps = _c.Vision.LayerNormEps;
        // x[t][0] is unused scratch during the blocks; the shared CLS lives in `cls`.
        var x = new double[T][][];
        var cls = new double[D];
        for (int d = 0; d < D; d++)
        {
            cls[d] = clsEmb[d] + pos[d];
        }

        for (int t = 0; t < T; t++)
        {
            x[t] = new double[P][];
            x[t][0] = new double[D];
            for (int p = 1; p < P; p++)
            {
                x[t][p] = new double[D];
                for (int d = 0; d < D; d++)
                {
                    x[t][p][d] = patches[t][p - 1][d] + pos[(p * D) + d] + time[(t * D) + d];
                }
            }
        }

        for (int l = 0; l < _c.Vision.NumLayers; l++)
        {
            string prefix = $"vision_model.encoder.layers.{l}.";
            TemporalBranch(x, prefix, firstPosition: 1);
            var clsUpdate = new double[D];
            for (int t = 0; t < T; t++)
            {
                var seq = new double[P][];
                seq[0] = cls;
                for (int p = 1; p < P; p++)
                {
                    seq[p] = x[t][p];
                }

                var y = VisionAttention(seq.Select(r => LayerNorm(r, prefix + "layer_norm1", eps)).ToArray(), prefix + "self_attn.qkv", prefix + "self_attn.projection");
                for (int p = 1; p < P; p++)
                {
                    x[t][p] = AddVec(x[t][p], y[p]);
                }

                for (int d = 0; d < D; d++)
                {
                    clsUpdate[d] += y[0][d] / T;
                }
            }

            cls = AddVec(cls, clsUpdate);
            for (int t = 0; t < T; t++)
            {
                for (int p = 1; p < P; p++)
                {
                    x[t][p] = AddVec(x[t][p], Mlp(LayerNorm(x[t][p], prefix + "layer_norm2", eps), prefix));
                }
            }

            cls = AddVec(cls, Mlp(LayerNorm(cls, prefix + "layer_norm2", eps), prefix));
        }

        cls = LayerNorm(cls, "vision_model.post_layernorm", eps);
        for (int t = 0; t < T; t++)
        {
            x[t][0] = (double[])cls.Clone();
            for (int p = 1; p < P; p++)
            {
                x[t][p] = LayerNorm(x[t][p], "vision_model.post_layernorm", eps);
            }
        }

        return (x, Normalize(Linear(cls, "vision_proj")));
    }

    /// <summary>x[t][p] += temporal_fc((1 + tanh α_t) · temporal_attn(temporal_LN(x[·][p]))_t) for p ≥ firstPosition.</summary>
    private void TemporalBranch(double[][][] x, string prefix, int firstPosition)
    {
        var alpha = W(prefix + "temporal_scaling");
        for (int p = firstPosition; p < P; p++)
        {
            var seq = new double[T][];
            for (int t = 0; t < T; t++)
            {
                seq[t] = LayerNorm(x[t][p], prefix + "temporal_layer_norm", _c.Vision.LayerNormEps);
            }

            var h = VisionAttention(seq, prefix + "temporal_attn.qkv", prefix + "temporal_attn.projection");
            for (int t = 0; t < T; t++)
            {
                double factor = 1 + Math.Tanh(alpha[t]);
                var scaled = h[t].Select(v => v * factor).ToArray();
                x[t][p] = AddVec(x[t][p], Linear(scaled, prefix + "temporal_fc"));
            }
        }
    }

    private double[][] SpatialBlock(double[][] x, string prefix)
    {
        double eps = _c.Vision.LayerNormEps;
        var a = VisionAttention(x.Select(r => LayerNorm(r, prefix + "layer_norm1", eps)).ToArray(), prefix + "self_attn.qkv", prefix + "self_attn.projection");
        var y = x.Select((r, i) => AddVec(r, a[i])).ToArray();
        return y.Select(r => AddVec(r, Mlp(LayerNorm(r, prefix + "layer_norm2", eps), prefix))).ToArray();
    }

    private double[] Mlp(double[] x, string prefix) =>
        Linear(Linear(x, prefix + "mlp.fc1").Select(Gelu).ToArray(), prefix + "mlp.fc2");

    private double[][] VisionAttention(double[][] x, string qkvName, string projName)
    {
        var qkv = x.Select(r => Linear(r, qkvName)).ToArray();
        var q = qkv.Select(r => r[..D]).ToArray();
        var k = qkv.Select(r => r[D..(2 * D)]).ToArray();
        var v = qkv.Select(r => r[(2 * D)..]).ToArray();
        return Attention(q, k, v, _c.Vision.NumHeads, null).Select(r => Linear(r, projName)).ToArray();
    }

    /// <summary>Conv 16×16 stride 16 on the normalised frame: [N][D].</summary>
    private double[][] PatchEmbed(ReadOnlySpan<byte> frame)
    {
        int s = _c.Vision.ImageSize;
        int k = _c.Vision.PatchSize;
        int g = s / k;
        var w = W("vision_model.embeddings.patch_embedding.weight");
        var b = W("vision_model.embeddings.patch_embedding.bias");
        var mean = _c.Preprocessing.Mean;
        var std = _c.Preprocessing.Std;
        var result = new double[g * g][];
        for (int gy = 0; gy < g; gy++)
        {
            for (int gx = 0; gx < g; gx++)
            {
                var o = new double[D];
                for (int d = 0; d < D; d++)
                {
                    double acc = b[d];
                    for (int c = 0; c < 3; c++)
                    {
                        for (int ky = 0; ky < k; ky++)
                        {
                            for (int kx = 0; kx < k; kx++)
                            {
                                int y = (gy * k) + ky;
                                int xx = (gx * k) + kx;
                                double pixel = ((frame[(((y * s) + xx) * 3) + c] / 255.0) - mean[c]) / std[c];
                                acc += w[(((((d * 3) + c) * k) + ky) * k) + kx] * pixel;
                            }
                        }
                    }

                    o[d] = acc;
                }

                result[(gy * g) + gx] = o;
            }
        }

        return result;
    }

    // ───────────── text ─────────────

    /// <summary>
    /// BERT over one sequence (mask: 1 keep, 0 pad) under <paramref name="prefix"/>; cross-attention on
    /// <paramref name="memory"/> when given (keys masked by <paramref name="memoryMask"/>); causal self-attention when asked.
    /// </summary>
    public double[][] Bert(long[] ids, long[] mask, double[][]? memory, string prefix = "text_encoder.", bool causal = false, long[]? memoryMask = null)
    {
        var tc = _c.Text;
        int h = tc.HiddenSize;
        var words = W(WeightSpec.WordEmbeddings(_c, prefix));
        var positions = W(prefix + "embeddings.position_embeddings.weight");
        var x = new double[ids.Length][];
        for (int i = 0; i < ids.Length; i++)
        {
            var e = new double[h];
            for (int d = 0; d < h; d++)
            {
                e[d] = words[(ids[i] * h) + d] + positions[(i * h) + d];
            }

            x[i] = LayerNorm(e, prefix + "embeddings.LayerNorm", tc.LayerNormEps);
        }

        var bias = mask.Select(m => (1.0 - m) * -10000.0).ToArray();
        var memoryBias = memoryMask?.Select(m => (1.0 - m) * -10000.0).ToArray();
        for (int j = 0; j < tc.NumLayers; j++)
        {
            string p = $"{prefix}encoder.layer.{j}.";
            x = BertSublayer(x, x, p + "attention", bias, causal);
            if (memory is not null)
            {
                x = BertSublayer(x, memory, p + "crossattention", memoryBias);
            }

            var y = x.Select(r => Linear(Linear(r, p + "intermediate.dense").Select(Gelu).ToArray(), p + "output.dense")).ToArray();
            x = x.Select((r, i) => LayerNorm(AddVec(r, y[i]), p + "output.LayerNorm", tc.LayerNormEps)).ToArray();
        }

        return x;
    }

    private double[][] BertSublayer(double[][] x, double[][] kv, string prefix, double[]? bias, bool causal = false)
    {
        var q = x.Select(r => Linear(r, prefix + ".self.query")).ToArray();
        var k = kv.Select(r => Linear(r, prefix + ".self.key")).ToArray();
        var v = kv.Select(r => Linear(r, prefix + ".self.value")).ToArray();
        var a = Attention(q, k, v, _c.Text.NumHeads, bias, causal);
        return x.Select((r, i) => LayerNorm(AddVec(r, Linear(a[i], prefix + ".output.dense")), prefix + ".output.LayerNorm", _c.Text.LayerNormEps)).ToArray();
    }

    public double[] TextEmbedding(long[] ids, long[] mask) => Normalize(Linear(Bert(ids, mask, null)[0], "text_proj"));

    /// <summary>TDP memory [T·P + T + P (or T·P)][D] and frame weights [T] for one candidate.</summary>
    public (double[][] Memory, double[] FrameWeights, double[][] TemporalWeights, double[][] SpatialWeights) Pool(double[][][] v, double[] q)
    {
        double tau = _c.Tdp.Tau;
        var s = new double[T][];
        for (int t = 0; t < T; t++)
        {
            s[t] = new double[P];
            for (int p = 0; p < P; p++)
            {
                s[t][p] = Dot(Normalize(Linear(v[t][p], "vision_proj")), q) / tau;
            }
        }

        var frameWeights = Softmax(Enumerable.Range(0, T).Select(t => s[t][0]).ToArray());
        var memory = new List<double[]>();
        for (int t = 0; t < T; t++)
        {
            memory.AddRange(v[t]);
        }

        var temporal = new double[P][];
        var spatial = new double[T][];
        if (_c.Tdp.Enabled)
        {
            for (int t = 0; t < T; t++)
            {
                spatial[t] = Softmax(s[t][1..]);
                var f = new double[D];
                for (int p = 1; p < P; p++)
                {
                    for (int d = 0; d < D; d++)
                    {
                        f[d] += spatial[t][p - 1] * v[t][p][d];
                    }
                }

                memory.Add(f);
            }

            for (int p = 0; p < P; p++)
            {
                temporal[p] = Softmax(Enumerable.Range(0, T).Select(t => s[t][p]).ToArray());
            }

            for (int p = 0; p < P; p++)
            {
                var g = new double[D];
                for (int t = 0; t < T; t++)
                {
                    for (int d = 0; d < D; d++)
                    {
                        g[d] += temporal[p][t] * v[t][p][d];
                    }
                }

                memory.Add(g);
            }
        }

        return (memory.ToArray(), frameWeights, temporal, spatial);
    }

    /// <summary>One candidate: ITM logits [2] and frame weights [T].</summary>
    public (double[] Itm, double[] FrameWeights) Rerank(long[] ids, long[] mask, double[][][] v, double[] q)
    {
        var (memory, frameWeights, _, _) = Pool(v, q);
        var h = Bert(ids, mask, memory);
        return (Linear(h[0], "itm_head"), frameWeights);
    }

    // ───────────── video QA ─────────────

    /// <summary>The question encoder on one question: states [L][H] and frame weights [T].</summary>
    public (double[][] States, double[] FrameWeights) QuestionStates(long[] ids, long[] mask, double[][][] v, double[] q)
    {
        var (memory, frameWeights, _, _) = Pool(v, q);
        return (Bert(ids, mask, memory, "qa.text_encoder."), frameWeights);
    }

    /// <summary>The answer decoder on one answer prefix: log-probabilities [L][V] of the next word piece after each position.</summary>
    public double[][] AnswerLogProbs(long[] ids, long[] mask, double[][] questionStates, long[] questionMask)
    {
        const string head = "qa.text_decoder.cls.predictions.";
        var h = Bert(ids, mask, questionStates, "qa.text_decoder.bert.", causal: true, memoryMask: questionMask);
        var table = _w[WeightSpec.WordEmbeddings(_c, "qa.text_decoder.bert.")];
        var bias = W(head + "bias");
        int vocab = (int)table.Shape[0];
        int width = (int)table.Shape[1];
        return h.Select(row =>
        {
            var x = LayerNorm(Linear(row, head + "transform.dense").Select(Gelu).ToArray(), head + "transform.LayerNorm", _c.Text.LayerNormEps);
            var logits = new double[vocab];
            for (int o = 0; o < vocab; o++)
            {
                double acc = bias[o];
                for (int d = 0; d < width; d++)
                {
                    acc += table.Data[(o * width) + d] * x[d];
                }

                logits[o] = acc;
            }

            double max = logits.Max();
            double logSum = max + Math.Log(logits.Sum(l => Math.Exp(l - max)));
            return logits.Select(l => l - logSum).ToArray();
        }).ToArray();
    }

    // ───────────── primitives ─────────────

    private float[] W(string name) => _w[name].Data;

    public double[] Linear(double[] x, string prefix)
    {
        var w = _w[prefix + ".weight"];
        var b = W(prefix + ".bias");
        int outDim = (int)w.Shape[0];
        int inDim = (int)w.Shape[1];
        var y = new double[outDim];
        for (int o = 0; o < outDim; o++)
        {
            double acc = b[o];
            for (int i = 0; i < inDim; i++)
            {
                acc += w.Data[(o * inDim) + i] * x[i];
            }

            y[o] = acc;
        }

        return y;
    }

    private double[] LayerNorm(double[] x, string prefix, double eps)
    {
        var gamma = W(prefix + ".weight");
        var beta = W(prefix + ".bias");
        double mean = x.Average();
        double variance = x.Select(v => (v - mean) * (v - mean)).Average();
        double inv = 1.0 / Math.Sqrt(variance + eps);
        return x.Select((v, i) => ((v - mean) * inv * gamma[i]) + beta[i]).ToArray();
    }

    /// <summary>Multi-head attention; <paramref name="causal"/>: key j &gt; query i gets −10000 whatever its padding (BLIP's (1 − causal·mask)·−10000).</summary>
    private static double[][] Attention(double[][] q, double[][] k, double[][] v, int heads, double[]? bias, bool causal = false)
    {
        int width = q[0].Length;
        int dh = width / heads;
        double scale = 1.0 / Math.Sqrt(dh);
        var o = q.Select(_ => new double[width]).ToArray();
        for (int hIdx = 0; hIdx < heads; hIdx++)
        {
            int off = hIdx * dh;
            for (int i = 0; i < q.Length; i++)
            {
                var scores = new double[k.Length];
                for (int j = 0; j < k.Length; j++)
                {
                    double acc = 0;
                    for (int d = 0; d < dh; d++)
                    {
                        acc += q[i][off + d] * k[j][off + d];
                    }

                    scores[j] = (acc * scale) + (causal && j > i ? -10000.0 : bias?[j] ?? 0);
                }

                var a = Softmax(scores);
                for (int j = 0; j < k.Length; j++)
                {
                    for (int d = 0; d < dh; d++)
                    {
                        o[i][off + d] += a[j] * v[j][off + d];
                    }
                }
            }
        }

        return o;
    }

    public static double[] Softmax(double[] x)
    {
        double max = x.Max();
        var e = x.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    public static double[] Normalize(double[] x)
    {
        double norm = Math.Sqrt(x.Sum(v => v * v));
        return x.Select(v => v / Math.Max(norm, 1e-12)).ToArray();
    }

    private static double Dot(double[] a, double[] b) => a.Select((v, i) => v * b[i]).Sum();

    private static double[] AddVec(double[] a, double[] b) => a.Select((v, i) => v + b[i]).ToArray();

    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>erf in double: Maclaurin series for |x| &lt; 3, continued fraction for erfc beyond (error &lt; 1e-12).</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        double result;
        if (ax < 3)
        {
            double term = ax;
            double sum = ax;
            for (int n = 1; n < 100; n++)
            {
                term *= -ax * ax / n;
                double add = term / ((2 * n) + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17)
                {
                    break;
                }
            }

            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), evaluated bottom-up.
            double f = ax;
            for (int n = 60; n >= 1; n--)
            {
                f = ax + (n / 2.0 / f);
            }

            result = 1 - (Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f);
        }

        return x < 0 ? -result : result;
    }
}
