using LiteVL.Cli.Evaluation;
using LiteVL.Model.Config;
using LiteVL.Model.Runtime;
using LiteVL.Model.Training;

namespace LiteVL.Cli.Experiments;

/// <summary>What one variant scores on a test split.</summary>
/// <param name="Twin">Share of captions whose clip outscores the same frames in reverse order (ties count half).</param>
/// <param name="TwinTies">Captions where the two scores were equal (within <see cref="RetrievalProbe.TieTolerance"/>).</param>
/// <param name="TwinOutcomes">Per caption, in the set's example order: 1 when its clip won against its reversal, ½ for a tie, 0 when it lost.</param>
public sealed record ProbeScores(RetrievalSummary Retrieval, double Twin, int TwinPairs, int TwinTies, IReadOnlyList<double>? TwinOutcomes = null)
{
    /// <summary>Twin accuracy (%) and caption count per group, <paramref name="groupOf"/> naming each caption's group (e.g. its motion family); null groups are left out.</summary>
    public IReadOnlyList<(string Group, double Accuracy, int Captions)> TwinsBy(Func<int, string?> groupOf)
    {
        ArgumentNullException.ThrowIfNull(groupOf);
        var outcomes = TwinOutcomes ?? throw new InvalidOperationException("These scores carry no per-caption twin outcomes.");
        return [.. Enumerable.Range(0, outcomes.Count)
            .Select(q => (Group: groupOf(q), Outcome: outcomes[q]))
            .Where(x => x.Group is not null)
            .GroupBy(x => x.Group!, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, 100 * g.Average(x => x.Outcome), g.Count()))];
    }

    /// <summary>One line for people: "R@1 16.2 · R@5 50.0 · R@10 65.0 · MdR 5.5 · twin 46.2 % (0 ties of 80)".</summary>
    public string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"R@1 {Retrieval.RecallAt1:F1} · R@5 {Retrieval.RecallAt5:F1} · R@10 {Retrieval.RecallAt10:F1} · MdR {Retrieval.MedianRank:0.#} · twin {Twin:F1} % ({TwinTies} ties of {TwinPairs})");
}

/// <summary>
/// Scores a model directory on a captioned test set in-process, as the platform serves it: the coarse stage (cosine of
/// <c>text_embedding</c> and <c>video_embedding</c>) and the re-ranked stage (the top candidates re-scored by the
/// grounded encoder, score = ITM match logit + cosine, with or without text-dependent pooling).
/// <para>
/// <b>Twin accuracy.</b> Every caption is also scored against its own clip's sampled frames in reverse order, and
/// counts as right when the clip scores higher. The reversal is of the very frames the clip was scored on, so no codec
/// or sampling difference can separate them: an order-invariant model (frame-mean pooling) scores them equal, and
/// earns exactly 50 % through the tie rule (a tie counts half).
/// </para>
/// </summary>
public sealed class RetrievalProbe : IDisposable
{
    /// <summary>Two scores closer than this (relative to their size, at least 1) are a tie: float summation order is all that can separate an order-invariant model's scores.</summary>
    public const double TieTolerance = 1e-5;

    private const int EncodeBatch = 8;

    private readonly LiteVLModel _model;
    private readonly TrainingSet _set;
    private readonly float[] _tokens;          // [clips, T, P, D]
    private readonly float[] _reversedTokens;  // the same, frames reversed
    private readonly float[] _video;           // [clips, E]
    private readonly float[] _reversedVideo;
    private readonly float[] _text;            // [queries, E]

    public RetrievalProbe(string modelDir, TrainingSet set, RuntimeOptions? runtime = null)
    {
        _model = LiteVLModel.Open(modelDir, runtime);
        _set = set;
        var c = _model.Config;
        int frameBytes = c.NumFrames * c.Vision.ImageSize * c.Vision.ImageSize * 3;
        int n = set.Clips.Count;
        long perClip = (long)c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
        _tokens = new float[n * perClip];
        _reversedTokens = new float[n * perClip];
        _video = new float[n * c.EmbedDim];
        _reversedVideo = new float[n * c.EmbedDim];
        for (int start = 0; start < n; start += EncodeBatch)
        {
            int b = Math.Min(EncodeBatch, n - start);
            var frames = new byte[b * frameBytes];
            var reversed = new byte[b * frameBytes];
            int frame = frameBytes / c.NumFrames;
            for (int i = 0; i < b; i++)
            {
                // The first segment stands for the clip (the test clips are shorter than one segment).
                var bytes = File.ReadAllBytes(set.Clips[start + i].SegmentFrameFiles[0]);
                if (bytes.Length != frameBytes)
                {
                    throw new InvalidDataException($"Frame file {set.Clips[start + i].SegmentFrameFiles[0]} has {bytes.Length} bytes, not T×S×S×3 = {frameBytes}.");
                }

                bytes.CopyTo(frames, i * frameBytes);
                for (int t = 0; t < c.NumFrames; t++)
                {
                    Array.Copy(bytes, t * frame, reversed, (i * frameBytes) + ((c.NumFrames - 1 - t) * frame), frame);
                }
            }

            var forward = _model.EncodeVideos(frames, b);
            var backward = _model.EncodeVideos(reversed, b);
            forward.VideoTokens.CopyTo(_tokens, start * perClip);
            backward.VideoTokens.CopyTo(_reversedTokens, start * perClip);
            forward.VideoEmbeddings.CopyTo(_video, start * c.EmbedDim);
            backward.VideoEmbeddings.CopyTo(_reversedVideo, start * c.EmbedDim);
        }

        _text = _model.EncodeTexts(set.Examples.Select(e => e.Caption).ToList());
    }

    public ModelConfig Config => _model.Config;

    /// <summary>Coarse retrieval over every test clip, and twin accuracy of the cosine.</summary>
    public ProbeScores Coarse()
    {
        var scores = CoarseMatrix();
        var ranks = RetrievalMetrics.RanksFromScores(scores, _set.Examples.Select(e => e.Clip).ToList());
        var twin = Twins(q =>
        {
            int clip = _set.Examples[q].Clip;
            return (scores[q, clip], Cosine(_text, q, _reversedVideo, clip));
        });
        return new ProbeScores(RetrievalMetrics.Summarize(ranks), twin.Accuracy, twin.Pairs, twin.Ties, twin.Outcomes);
    }

    /// <summary>
    /// The served two-stage search: the coarse top <paramref name="candidates"/> re-scored by the grounded encoder
    /// (ITM match logit + cosine, as the query service ranks), the rest kept below in coarse order. Twin accuracy
    /// compares the re-ranked scores of the clip and its reversed frames.
    /// </summary>
    public ProbeScores Reranked(PoolingMode pooling, int candidates)
    {
        var c = _model.Config;
        long perClip = (long)c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
        var coarse = CoarseMatrix();
        int n = _set.Clips.Count;
        int k = Math.Min(candidates, n);
        var final = new double[_set.Examples.Count, n];
        var tokens = new float[k * perClip];
        for (int q = 0; q < _set.Examples.Count; q++)
        {
            var order = Enumerable.Range(0, n).OrderByDescending(v => coarse[q, v]).ThenBy(v => v).ToArray();
            for (int i = 0; i < k; i++)
            {
                Array.Copy(_tokens, order[i] * perClip, tokens, i * perClip, perClip);
            }

            var text = _text.AsSpan(q * c.EmbedDim, c.EmbedDim);
            var reranked = _model.Rerank(_set.Examples[q].Caption, tokens, k, text, pooling);

            // Re-ranked candidates above the rest: offset the others below the lowest re-ranked score.
            double floor = double.PositiveInfinity;
            for (int i = 0; i < k; i++)
            {
                final[q, order[i]] = reranked.MatchLogit(i) + coarse[q, order[i]];
                floor = Math.Min(floor, final[q, order[i]]);
            }

            for (int i = k; i < n; i++)
            {
                final[q, order[i]] = floor - 1 - i;
            }
        }

        var ranks = RetrievalMetrics.RanksFromScores(final, _set.Examples.Select(e => e.Clip).ToList());
        var pair = new float[2 * perClip];
        var twin = Twins(q =>
        {
            int clip = _set.Examples[q].Clip;
            Array.Copy(_tokens, clip * perClip, pair, 0, perClip);
            Array.Copy(_reversedTokens, clip * perClip, pair, perClip, perClip);
            var r = _model.Rerank(_set.Examples[q].Caption, pair, 2, _text.AsSpan(q * c.EmbedDim, c.EmbedDim), pooling);
            return (r.MatchLogit(0) + coarse[q, clip], r.MatchLogit(1) + Cosine(_text, q, _reversedVideo, clip));
        });
        return new ProbeScores(RetrievalMetrics.Summarize(ranks), twin.Accuracy, twin.Pairs, twin.Ties, twin.Outcomes);
    }

    public void Dispose() => _model.Dispose();

    /// <summary>Twin accuracy from (clip score, reversed score) per caption: higher wins, a tie counts half.</summary>
    public static (double Accuracy, int Pairs, int Ties) TwinAccuracy(IReadOnlyList<(double Clip, double Reversed)> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Count == 0)
        {
            throw new ArgumentException("Twin accuracy needs at least one caption.", nameof(scores));
        }

        var outcomes = scores.Select(TwinOutcome).ToList();
        return (100 * outcomes.Sum() / scores.Count, scores.Count, outcomes.Count(o => o == 0.5));
    }

    /// <summary>One caption's outcome: 1 when its clip outscores the reversed frames, ½ for a tie (within <see cref="TieTolerance"/>), else 0.</summary>
    public static double TwinOutcome((double Clip, double Reversed) score)
    {
        var (clip, reversed) = score;
        return Math.Abs(clip - reversed) <= TieTolerance * Math.Max(1, Math.Max(Math.Abs(clip), Math.Abs(reversed))) ? 0.5 : clip > reversed ? 1 : 0;
    }

    private (double Accuracy, int Pairs, int Ties, double[] Outcomes) Twins(Func<int, (double, double)> score)
    {
        var scores = Enumerable.Range(0, _set.Examples.Count).Select(score).ToList();
        var (accuracy, pairs, ties) = TwinAccuracy(scores);
        return (accuracy, pairs, ties, [.. scores.Select(TwinOutcome)]);
    }

    private double[,] CoarseMatrix()
    {
        int n = _set.Clips.Count;
        var scores = new double[_set.Examples.Count, n];
        for (int q = 0; q < _set.Examples.Count; q++)
        {
            for (int v = 0; v < n; v++)
            {
                scores[q, v] = Cosine(_text, q, _video, v);
            }
        }

        return scores;
    }

    private double Cosine(float[] text, int q, float[] video, int v)
    {
        int e = _model.Config.EmbedDim;
        return System.Numerics.Tensors.TensorPrimitives.Dot(text.AsSpan(q * e, e), video.AsSpan(v * e, e));
    }
}
