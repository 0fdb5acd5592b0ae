using System.Diagnostics;
using LiteVL.Model.Runtime;
using LiteVL.Model.Text;
using LiteVL.ServiceDefaults;
using LiteVL.Storage;
using LiteVL.Storage.Entities;
using LiteVL.VectorIndex;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LiteVL.Search;

/// <summary>
/// A question about one video (docs/model.md, "Video QA"): the video's segments are scored against the question — by the
/// cosine between the question's text embedding and each segment's coarse embedding in the vector index, or, where the
/// index has none of them, by the re-ranker's ITM match logit — the best few are asked in one batched <see cref="VideoQa"/>
/// run (rank or generate), and the segment whose best answer is most probable answers. Knows nothing of HTTP.
/// </summary>
public sealed class AskService(LiteVLModel model, IVectorIndex index, LiteVLDbContext db, TokenCache tokens, IOptions<AskOptions> options)
{
    public const string RankMode = "rank";
    public const string GenerateMode = "generate";

    public async Task<AskResponse> AskAsync(string tenantId, Guid videoId, AskRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var o = options.Value;
        var (question, answers, mode) = Validate(request, o);
        var total = Stopwatch.StartNew();
        var c = model.Config;

        // A deployment without QA heads cannot answer any question: say so before touching the database.
        if (!model.HasQa)
        {
            throw new AskException(AskFailure.NoQaHeads,
                $"The model {c.Version} has no video QA heads (its config.json has no \"qa\" section). Train them on your questions with " +
                "'litevl train --task qa --model DIR --data QA.jsonl --out NEW_DIR', or add BLIP VQA's with " +
                "'litevl model import-qa --checkpoint CHECKPOINT.safetensors --model DIR' (or make a random test model with " +
                "'litevl model init --preset tiny --qa --out DIR'), and restart the service with it (adding QA heads keeps the model version: nothing is re-indexed).");
        }

        // Another tenant's video is reported exactly like a missing one, so ids of other tenants cannot be probed.
        var video = await db.Videos.AsNoTracking()
            .Where(v => v.Id == videoId && v.TenantId == tenantId)
            .Select(v => new { v.State, v.ModelVersion, v.StateChangedAt })
            .SingleOrDefaultAsync(ct).ConfigureAwait(false)
            ?? throw new AskException(AskFailure.VideoNotFound, $"There is no video {videoId}.");
        if (video.State != VideoState.Indexed || video.ModelVersion != c.Version)
        {
            string now = video.State == VideoState.Indexed ? $"Indexed with model {video.ModelVersion ?? "(none)"}" : video.State.ToString();
            throw new AskException(AskFailure.VideoNotReady,
                $"The video is {now}; questions can be asked once it is Indexed with the current model {c.Version}.");
        }

        var segments = await db.Segments.AsNoTracking()
            .Where(s => s.VideoId == videoId && s.TokensKey != null && s.ModelVersion == c.Version)
            .OrderBy(s => s.Index)
            .Select(s => new AskableSegment(s.Index, s.StartSeconds, s.EndSeconds, s.FrameTimes, s.TokensKey!))
            .ToListAsync(ct).ConfigureAwait(false);
        if (segments.Count == 0)
        {
            throw new AskException(AskFailure.VideoNotReady, $"The video has no segments encoded with the current model {c.Version}; re-index it.");
        }

        long generation = video.StateChangedAt.Ticks;
        var chosen = segments.Count <= o.SegmentsToAsk
            ? segments
            : await BestSegmentsAsync(tenantId, videoId, question, segments, generation, o, ct).ConfigureAwait(false);

        var queries = new QaQuery[chosen.Count];
        for (int k = 0; k < chosen.Count; k++)
        {
            queries[k] = new QaQuery(question, await LoadAsync(chosen[k], generation, ct).ConfigureAwait(false));
        }

        var qa = new VideoQa(model);
        IReadOnlyList<QaResult> results;
        try
        {
            results = mode == RankMode ? qa.Rank(queries, answers, o.RankTopK) : qa.Generate(queries, o.Beams);
        }
        catch (ModelInputException e)
        {
            throw new AskException(AskFailure.BadRequest, e.Message); // e.g. a candidate made only of words the vocabulary lacks
        }

        // The segment whose best answer is most probable answers; ties go to the better-matching (earlier chosen) segment.
        int answering = 0;
        for (int k = 1; k < results.Count; k++)
        {
            if (results[k].Best.Probability > results[answering].Best.Probability)
            {
                answering = k;
            }
        }

        var result = results[answering];
        var segment = chosen[answering];
        int frame = result.EvidenceFrame;
        double? evidence = frame >= 0 && frame < segment.FrameTimes.Count ? segment.FrameTimes[frame] : null;
        LiteVLTelemetry.AskDuration.Record(total.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("mode", mode));
        var tokenized = model.Tokenizer.Encode([question], grounded: true);
        List<string> warnings = tokenized.Truncated[0]
            ? [$"The question is longer than the model's {tokenized.Length} tokens; only its beginning was used."]
            : [];
        return new AskResponse(
            result.Best.Answer,
            result.Best.Probability,
            [.. result.Ranked.Skip(1).Take(o.Alternatives).Select(a => new AskAlternative(a.Answer, a.Probability))],
            evidence,
            new AskSegment(segment.Index, segment.Start, segment.End),
            mode,
            c.Version,
            warnings);
    }

    /// <summary>
    /// The <see cref="AskOptions.SegmentsToAsk"/> segments that match the question best, best first. The coarse cosine is
    /// read from the vector index (one tenant- and video-filtered search); segments it lacks rank last. Only when it has
    /// none of them (a collection lost or being rebuilt) are they scored by the re-ranker, up to
    /// <see cref="AskOptions.MaxSegmentsReranked"/> of them.
    /// </summary>
    private async Task<List<AskableSegment>> BestSegmentsAsync(
        string tenantId, Guid videoId, string question, List<AskableSegment> segments, long generation, AskOptions o, CancellationToken ct)
    {
        var c = model.Config;
        var q = model.EncodeTexts([question]);
        IReadOnlyList<VectorHit> hits;
        try
        {
            hits = await index.SearchAsync(c.Version, q, segments.Count, new VectorFilter(tenantId) { VideoIds = [videoId] }, ct).ConfigureAwait(false);
        }
        catch (VectorCollectionNotFoundException)
        {
            hits = [];
        }

        var scores = new Dictionary<int, double>();
        foreach (var hit in hits)
        {
            scores[hit.SegmentIndex] = hit.Score;
        }

        var scored = segments;
        if (!segments.Any(s => scores.ContainsKey(s.Index)))
        {
            scored = [.. segments.Take(o.MaxSegmentsReranked)];
            int perSegment = c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
            var buffer = new float[scored.Count * perSegment];
            for (int k = 0; k < scored.Count; k++)
            {
                (await LoadAsync(scored[k], generation, ct).ConfigureAwait(false)).CopyTo(buffer, k * perSegment);
            }

            var reranked = model.Rerank(question, buffer, scored.Count, q);
            for (int k = 0; k < scored.Count; k++)
            {
                scores[scored[k].Index] = reranked.MatchLogit(k);
            }
        }

        return [.. scored
            .OrderByDescending(s => scores.TryGetValue(s.Index, out double score) ? score : double.NegativeInfinity)
            .ThenBy(s => s.Index)
            .Take(o.SegmentsToAsk)];
    }

    private async Task<float[]> LoadAsync(AskableSegment segment, long generation, CancellationToken ct)
    {
        var c = model.Config;
        var buffer = new float[c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize];
        await tokens.ReadAsync(new TokenKey(segment.TokensKey, generation), buffer, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize, ct).ConfigureAwait(false);
        return buffer;
    }

    private static (string Question, IReadOnlyList<string> Answers, string Mode) Validate(AskRequest request, AskOptions o)
    {
        string question = request.Question?.Trim() ?? string.Empty;
        if (question.Length == 0)
        {
            throw new AskException(AskFailure.BadRequest, "The question is empty: ask something about what happens in the video.");
        }

        if (question.Length > o.MaxQuestionCharacters)
        {
            throw new AskException(AskFailure.BadRequest, $"The question has {question.Length} characters; the limit is {o.MaxQuestionCharacters}.");
        }

        // BLIP's caption cleaning keeps '?' (and ',' '-' ...), so a question of marks alone would pass it: a word needs a letter or digit.
        if (!BlipTokenizer.CleanCaption(question).Any(char.IsLetterOrDigit))
        {
            throw new AskException(AskFailure.BadRequest, "The question has no words once punctuation is removed.");
        }

        var answers = request.Answers ?? [];
        if (answers.Count > o.MaxAnswers)
        {
            throw new AskException(AskFailure.BadRequest, $"{answers.Count} candidate answers were given; the limit is {o.MaxAnswers}.");
        }

        var trimmed = new string[answers.Count];
        for (int i = 0; i < answers.Count; i++)
        {
            trimmed[i] = answers[i]?.Trim() ?? string.Empty;
            if (trimmed[i].Length == 0)
            {
                throw new AskException(AskFailure.BadRequest, $"Candidate answer {i + 1} is empty.");
            }

            if (trimmed[i].Length > o.MaxAnswerCharacters)
            {
                throw new AskException(AskFailure.BadRequest, $"Candidate answer {i + 1} has {trimmed[i].Length} characters; the limit is {o.MaxAnswerCharacters}.");
            }
        }

        string mode = request.Mode?.Trim().ToLowerInvariant() switch
        {
            null or "" => trimmed.Length > 0 ? RankMode : GenerateMode,
            RankMode => RankMode,
            GenerateMode => GenerateMode,
            _ => throw new AskException(AskFailure.BadRequest, $"mode must be \"{RankMode}\" or \"{GenerateMode}\", not \"{request.Mode}\"."),
        };
        if (mode == RankMode && trimmed.Length == 0)
        {
            throw new AskException(AskFailure.BadRequest, "mode \"rank\" needs candidate answers: give \"answers\", or use mode \"generate\".");
        }

        return (question, trimmed, mode);
    }

    private sealed record AskableSegment(int Index, double Start, double End, List<double> FrameTimes, string TokensKey);
}
