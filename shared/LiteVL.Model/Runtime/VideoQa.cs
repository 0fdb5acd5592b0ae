using LiteVL.Model.Config;
using LiteVL.Model.Text;

namespace LiteVL.Model.Runtime;

/// <summary>How an answer is found: picked from candidates, or written word by word.</summary>
public enum QaMode
{
    /// <summary>BLIP's <c>rank_answer</c>: first-token probabilities pick the top k candidates, their full log-likelihood picks the answer.</summary>
    Rank,

    /// <summary>Beam search (greedy with one beam) up to the model's answer length limit.</summary>
    Generate,
}

/// <summary>One answer with its probability under the decoder (the product of its word pieces' probabilities, [SEP] included).</summary>
public sealed record QaCandidate(string Answer, double Probability, double LogLikelihood);

/// <summary>
/// The answer to one question: the best answer first in <see cref="Ranked"/>, then the alternatives; the question
/// encoder's frame weights [T] (the pooling weight of each frame for this question).
/// </summary>
public sealed record QaResult(IReadOnlyList<QaCandidate> Ranked, float[] FrameWeights)
{
    public QaCandidate Best => Ranked[0];

    /// <summary>The frame (0-based) with the highest pooling weight for the question: where the answer was looked for.</summary>
    public int EvidenceFrame => Array.IndexOf(FrameWeights, FrameWeights.Max());
}

/// <summary>One question about one video (its tokens [T,P,D] as the video encoder wrote them).</summary>
public sealed record QaQuery(string Question, float[] VideoTokens);

/// <summary>
/// BLIP VQA's two inference modes on a <see cref="LiteVLModel"/> with QA heads, batched over questions and candidates
/// (docs/model.md, "Video QA"). Answers are tokenized as BLIP's decoder sees them: [DEC] word pieces [SEP].
/// </summary>
public sealed class VideoQa
{
    /// <summary>BLIP's default k for ranking (blip_vqa.py: k_test = 128).</summary>
    public const int DefaultTopK = 128;

    /// <summary>BLIP's default beam count for generation (blip_vqa.py: num_beams = 3).</summary>
    public const int DefaultBeams = 3;

    /// <summary>Decoder rows per run: bounds the [rows, length, V] log-probability output (≈ 15 MB per 128 rows at V = 30524 and length 1).</summary>
    public const int RowsPerRun = 128;

    private readonly LiteVLModel _model;

    public VideoQa(LiteVLModel model)
    {
        _model = model;
        model.RequireQa();
    }

    private int V => _model.Config.Text.VocabSize;

    /// <summary>
    /// BLIP's <c>rank_answer</c>: for each query the decoder's first-token distribution after [DEC] picks the
    /// <paramref name="k"/> candidates whose first word piece is most likely, then each of those is scored by its full
    /// log-likelihood and the best comes first. Returns, per query, the k candidates in order of likelihood.
    /// </summary>
    public IReadOnlyList<QaResult> Rank(IReadOnlyList<QaQuery> queries, IReadOnlyList<string> candidates, int k = DefaultTopK, PoolingMode? pooling = null)
    {
        if (candidates.Count == 0)
        {
            throw new ModelInputException("Ranking needs at least one candidate answer.");
        }

        var answers = candidates.Select(TokenizeAnswer).ToArray();
        if (answers.FirstOrDefault(a => a.Length < 3) is { } empty)
        {
            throw new ModelInputException($"Candidate answer {Array.IndexOf(answers, empty) + 1} has no words the vocabulary knows.");
        }

        k = Math.Clamp(k, 1, candidates.Count);
        var encoded = Encode(queries, pooling);
        int q = queries.Count;

        // First word piece: one decoder row per question holding [DEC] alone.
        var first = Decode(encoded, Enumerable.Range(0, q).ToArray(), Enumerable.Repeat(new long[] { BlipTokenizer.DecId }, q).ToArray(), out int firstLength);
        var topK = new int[q][];
        for (int i = 0; i < q; i++)
        {
            int row = i * firstLength * V;
            topK[i] = Enumerable.Range(0, candidates.Count)
                .OrderByDescending(c => first[row + (int)answers[c][1]])
                .ThenBy(c => c)
                .Take(k)
                .ToArray();
        }

        // Full log-likelihood of the k candidates of every question, all in a few decoder runs.
        var rows = new List<(int Question, int Candidate)>(q * k);
        for (int i = 0; i < q; i++)
        {
            rows.AddRange(topK[i].Select(c => (i, c)));
        }

        var likelihood = SequenceLogLikelihoods(encoded, rows.Select(r => r.Question).ToArray(), rows.Select(r => answers[r.Candidate]).ToArray());
        var results = new QaResult[q];
        for (int i = 0; i < q; i++)
        {
            var ranked = Enumerable.Range(i * k, k)
                .Select(r => new QaCandidate(candidates[rows[r].Candidate], Math.Exp(likelihood[r]), likelihood[r]))
                .OrderByDescending(c => c.LogLikelihood)
                .ToList();
            results[i] = new QaResult(ranked, FrameWeights(encoded, i));
        }

        return results;
    }

    /// <summary>
    /// Beam search over the vocabulary from [DEC]: at every step each live beam is extended by its best word pieces, the
    /// <paramref name="beams"/> best continuations by summed log-probability stay, and a beam that emits [SEP] is finished.
    /// At least one word piece comes before [SEP] (BLIP's min_length 1); at most <see cref="QaConfig.MaxAnswerLength"/>
    /// pieces are written. Finished answers are ranked by log-likelihood divided by length (Hugging Face's length
    /// penalty 1.0); one beam is greedy decoding.
    /// </summary>
    public IReadOnlyList<QaResult> Generate(IReadOnlyList<QaQuery> queries, int beams = DefaultBeams, PoolingMode? pooling = null)
    {
        if (beams < 1)
        {
            throw new ModelInputException($"Generation needs at least one beam, not {beams}.");
        }

        int maxPieces = _model.Config.Qa!.MaxAnswerLength;
        var encoded = Encode(queries, pooling);
        int q = queries.Count;
        var live = new List<Hypothesis>[q];
        var done = new List<Hypothesis>[q];
        for (int i = 0; i < q; i++)
        {
            live[i] = [new Hypothesis([BlipTokenizer.DecId], 0)];
            done[i] = [];
        }

        for (int step = 1; step <= maxPieces && live.Any(l => l.Count > 0); step++)
        {
            var owners = new List<(int Question, Hypothesis Beam)>();
            for (int i = 0; i < q; i++)
            {
                owners.AddRange(live[i].Select(h => (i, h)));
            }

            var logProbs = Decode(encoded, owners.Select(o => o.Question).ToArray(), owners.Select(o => o.Beam.Ids).ToArray(), out int length);
            for (int i = 0; i < q; i++)
            {
                var next = new List<Hypothesis>();
                for (int r = 0; r < owners.Count; r++)
                {
                    if (owners[r].Question != i)
                    {
                        continue;
                    }

                    var beam = owners[r].Beam;
                    int at = (r * length * V) + ((beam.Ids.Length - 1) * V);
                    foreach (int piece in TopPieces(logProbs.AsSpan(at, V), beams + 1, allowEnd: step > 1))
                    {
                        next.Add(new Hypothesis([.. beam.Ids, piece], beam.LogLikelihood + logProbs[at + piece]));
                    }
                }

                live[i] = [];
                foreach (var h in next.OrderByDescending(h => h.LogLikelihood).Take(beams))
                {
                    if (h.Ids[^1] == BlipTokenizer.SepId || step == maxPieces)
                    {
                        done[i].Add(h);
                    }
                    else
                    {
                        live[i].Add(h);
                    }
                }

                // Stop a question once its beams are all finished, or no live beam can still beat the worst kept answer.
                if (done[i].Count >= beams && live[i].Count > 0)
                {
                    double worst = done[i].OrderByDescending(Normalised).Take(beams).Min(Normalised);
                    if (live[i].Max(h => h.LogLikelihood / (h.Ids.Length - 1)) <= worst)
                    {
                        live[i] = [];
                    }
                }
            }
        }

        var results = new QaResult[q];
        for (int i = 0; i < q; i++)
        {
            var ranked = done[i]
                .OrderByDescending(Normalised)
                .Select(h => new QaCandidate(_model.Tokenizer.Decode(h.Ids), Math.Exp(h.LogLikelihood), h.LogLikelihood))
                .GroupBy(c => c.Answer)
                .Select(g => g.First())
                .Take(beams)
                .ToList();
            results[i] = new QaResult(ranked, FrameWeights(encoded, i));
        }

        return results;
    }

    /// <summary>[DEC] + the answer's word pieces + [SEP], as BLIP tokenizes answers for its decoder.</summary>
    public long[] TokenizeAnswer(string answer)
    {
        var ids = _model.Tokenizer.EncodeRaw(answer.Trim());
        var result = new long[ids.Count];
        for (int i = 0; i < ids.Count; i++)
        {
            result[i] = ids[i];
        }

        result[0] = BlipTokenizer.DecId;
        return result;
    }

    /// <summary>
    /// log p(answer | question) = Σ log p(piece_i | pieces before it), over every piece after [DEC] ([SEP] included), for
    /// each row: the answer <paramref name="answers"/>[r] to question <paramref name="questionOf"/>[r].
    /// </summary>
    public double[] SequenceLogLikelihoods(QuestionEncoding encoded, IReadOnlyList<int> questionOf, IReadOnlyList<long[]> answers)
    {
        var pieces = Decode(encoded, questionOf, answers, out int length, ownPiecesOnly: true);
        var result = new double[answers.Count];
        for (int r = 0; r < answers.Count; r++)
        {
            double sum = 0;
            for (int i = 1; i < answers[r].Length; i++)
            {
                sum += pieces[(r * length) + i - 1];
            }

            result[r] = sum;
        }

        return result;
    }

    /// <summary>The question encoder over the queries' questions and video tokens.</summary>
    public QuestionEncoding Encode(IReadOnlyList<QaQuery> queries, PoolingMode? pooling = null)
    {
        if (queries.Count == 0)
        {
            throw new ModelInputException("No question to answer.");
        }

        var c = _model.Config;
        int perVideo = c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
        var tokens = new float[(long)queries.Count * perVideo];
        for (int i = 0; i < queries.Count; i++)
        {
            if (queries[i].VideoTokens.Length != perVideo)
            {
                throw new ModelInputException($"Question {i + 1}: its video tokens have {queries[i].VideoTokens.Length} values, expected T×(1+N)×D = {perVideo}.");
            }

            queries[i].VideoTokens.CopyTo(tokens, (long)i * perVideo);
        }

        return _model.EncodeQuestions(queries.Select(x => x.Question).ToArray(), tokens, pooling);
    }

    /// <summary>
    /// The decoder over right-padded rows (in chunks of <see cref="RowsPerRun"/>): log-probabilities [rows, length, V], or
    /// with <paramref name="ownPiecesOnly"/> those of each row's own next pieces, [rows, length].
    /// </summary>
    private float[] Decode(QuestionEncoding encoded, IReadOnlyList<int> questionOf, IReadOnlyList<long[]> rows, out int length, bool ownPiecesOnly = false)
    {
        length = rows.Max(r => r.Length);
        int width = ownPiecesOnly ? 1 : V;
        var result = new float[(long)rows.Count * length * width];
        for (int start = 0; start < rows.Count; start += RowsPerRun)
        {
            int n = Math.Min(RowsPerRun, rows.Count - start);
            var ids = new long[n * length];
            var mask = new long[n * length];
            for (int r = 0; r < n; r++)
            {
                rows[start + r].CopyTo(ids, r * length);
                Array.Fill(mask, 1L, r * length, rows[start + r].Length);
            }

            var chunk = _model.DecodeAnswers(encoded, questionOf.Skip(start).Take(n).ToArray(), ids, mask, n, length, ownPiecesOnly);
            chunk.CopyTo(result, (long)start * length * width);
        }

        return result;
    }

    private float[] FrameWeights(QuestionEncoding encoded, int question)
    {
        int t = _model.Config.NumFrames;
        return encoded.FrameWeights.AsSpan(question * t, t).ToArray();
    }

    /// <summary>The <paramref name="count"/> most likely word pieces; [SEP] only when <paramref name="allowEnd"/>, never [PAD], [CLS], [DEC], [ENC].</summary>
    private static int[] TopPieces(ReadOnlySpan<float> logProbs, int count, bool allowEnd)
    {
        var best = new List<(int Id, float LogProb)>(count + 1);
        for (int id = 0; id < logProbs.Length; id++)
        {
            if (id is BlipTokenizer.PadId or BlipTokenizer.ClsId or BlipTokenizer.DecId or BlipTokenizer.EncId || (!allowEnd && id == BlipTokenizer.SepId))
            {
                continue;
            }

            float lp = logProbs[id];
            if (best.Count < count || lp > best[^1].LogProb)
            {
                int at = best.FindIndex(b => lp > b.LogProb);
                best.Insert(at < 0 ? best.Count : at, (id, lp));
                if (best.Count > count)
                {
                    best.RemoveAt(best.Count - 1);
                }
            }
        }

        return best.Select(b => b.Id).ToArray();
    }

    private static double Normalised(Hypothesis h) => h.LogLikelihood / (h.Ids.Length - 1);

    private sealed record Hypothesis(long[] Ids, double LogLikelihood);
}
