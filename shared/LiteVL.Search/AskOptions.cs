using System.ComponentModel.DataAnnotations;
using LiteVL.Model.Runtime;

namespace LiteVL.Search;

/// <summary>Section <c>LiteVL:Ask</c>: limits and effort of <c>POST /v1/videos/{id}/ask</c>.</summary>
public sealed class AskOptions
{
    public const string Section = "LiteVL:Ask";

    /// <summary>Longest question accepted at all (400 above it); within it, text past the tokenizer's 35 tokens is cut off by the question encoder.</summary>
    [Range(1, 100_000)]
    public int MaxQuestionCharacters { get; set; } = 500;

    /// <summary>Most candidate answers one request may give: each costs a decoder row per answering segment.</summary>
    [Range(1, 10_000)]
    public int MaxAnswers { get; set; } = 256;

    /// <summary>Longest candidate answer accepted.</summary>
    [Range(1, 10_000)]
    public int MaxAnswerCharacters { get; set; } = 200;

    /// <summary>Segments of a long video the question is asked of (the best matching by coarse cosine), in one batched run.</summary>
    [Range(1, 32)]
    public int SegmentsToAsk { get; set; } = 3;

    /// <summary>Segments scored by the re-ranker when the vector index has none of the video's (the first ones, in order).</summary>
    [Range(1, 512)]
    public int MaxSegmentsReranked { get; set; } = 64;

    /// <summary>Candidates kept by the first-token pass of rank mode before their full likelihood is computed (BLIP's k_test).</summary>
    [Range(1, 10_000)]
    public int RankTopK { get; set; } = VideoQa.DefaultTopK;

    /// <summary>Beams of generate mode (1 is greedy decoding).</summary>
    [Range(1, 16)]
    public int Beams { get; set; } = VideoQa.DefaultBeams;

    /// <summary>Alternatives returned besides the answer.</summary>
    [Range(0, 100)]
    public int Alternatives { get; set; } = 5;
}
