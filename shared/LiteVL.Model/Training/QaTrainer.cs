using System.Diagnostics;
using Google.Protobuf;
using LiteVL.Model.Graphs;
using LiteVL.Model.Runtime;
using LiteVL.Model.Tensors;
using LiteVL.Model.Text;
using LiteVL.Model.Training.Autodiff;
using LiteVL.Model.Weights;
using Microsoft.ML.OnnxRuntime;

namespace LiteVL.Model.Training;

/// <summary>One (video, question, answer) line; <paramref name="Clip"/> indexes the clips' video tokens.</summary>
public sealed record QaExample(int Clip, string Question, string Answer, string? Type = null);

/// <summary>
/// A QA set ready for training: every clip's video tokens [T,P,D] (one segment, from the model's video encoder) and
/// every example's question embedding [E] (the model's text encoder: the pooling query), aligned with the examples.
/// </summary>
public sealed record QaTrainingSet(IReadOnlyList<float[]> ClipTokens, IReadOnlyList<QaExample> Examples, float[] QuestionEmbeddings)
{
    /// <summary>Every clip's frames uint8 [T,S,S,3] (first segment): needed when the video side trains too.</summary>
    public IReadOnlyList<byte[]>? ClipFrames { get; init; }
}

/// <summary>Settings of <c>litevl train --task qa</c>.</summary>
public sealed record QaTrainerOptions
{
    public int Epochs { get; init; } = 10;

    public int Batch { get; init; } = 16;

    /// <summary>Peak learning rate (AdamW, linear warm-up then cosine decay to 0).</summary>
    public double LearningRate { get; init; } = 2e-4;

    public double WarmupFraction { get; init; } = 0.05;

    public int Seed { get; init; }

    /// <summary>
    /// Video weights trained with the heads: none (null, the default: the video side frozen, tokens computed once),
    /// <see cref="ParameterGroup.Temporal"/> (LiteVL's temporal modules, at <see cref="TemporalLearningRate"/>) or
    /// <see cref="ParameterGroup.Vision"/> (the whole video side; its BLIP weights at <see cref="LearningRate"/>).
    /// Either changes the video tokens, so search results change too.
    /// </summary>
    public ParameterGroup? VideoParams { get; init; }

    /// <summary>Peak learning rate of the temporal modules when <see cref="VideoParams"/> trains them.</summary>
    public double TemporalLearningRate { get; init; } = 5e-3;

    public ExecutionDevice Device { get; init; } = ExecutionDevice.Cpu;

    public int Threads { get; init; }

    public AdamWSettings AdamW { get; init; } = new();

    public void Validate()
    {
        var errors = new List<string>();
        if (Epochs < 1)
        {
            errors.Add($"--epochs must be at least 1, not {Epochs}");
        }

        if (Batch < 1)
        {
            errors.Add($"--batch must be at least 1, not {Batch}");
        }

        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
        {
            errors.Add($"--lr must be a positive number, not {LearningRate}");
        }

        if (VideoParams is { } vp && vp is not (ParameterGroup.Temporal or ParameterGroup.Vision))
        {
            errors.Add($"the video weights trained with the QA heads are temporal or vision, not {vp.ToString().ToLowerInvariant()}");
        }

        if (!(WarmupFraction >= 0 && WarmupFraction < 1))
        {
            errors.Add($"--warmup must be in [0, 1), not {WarmupFraction}");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors) + ".");
        }
    }
}

/// <summary>One optimiser step of <see cref="QaTrainer"/>.</summary>
public sealed record QaStepReport(int Step, int TotalSteps, int Epoch, double Loss, double LearningRate, double GradNorm, double ExamplesPerSecond);

/// <summary>The end of an epoch: mean training loss, validation loss (when a validation set was given), whether it is the best.</summary>
public sealed record QaEpochReport(int Epoch, double TrainLoss, double? ValidationLoss, bool IsBest);

/// <summary>What a run gives: the weights (of the best validation epoch when there was validation), and the epoch they are from.</summary>
public sealed record QaTrainingOutcome(ModelWeights Weights, int Steps, int KeptEpoch, double? KeptValidationLoss);

/// <summary>
/// Fine-tunes the video QA heads (every <c>qa.*</c> weight) with BLIP VQA's answer loss
/// (<see cref="LiteVLGraphBuilder.QaLoss"/>), differentiated by <see cref="GraphDifferentiator"/> and stepped by the
/// AdamW graph of <see cref="TrainingGraphs.AdamWUpdate"/>. By default the video side and the retrieval text encoder are
/// frozen: the video tokens are the ones the platform stores for search, so they are computed once per clip and the heads
/// learn to answer from exactly what serving gives them. With <see cref="QaTrainerOptions.VideoParams"/> the video
/// encoder runs inside the loss graph on the clips' frames and those weights train too. Order, batches and everything
/// random follow <see cref="QaTrainerOptions.Seed"/>.
/// </summary>
public sealed class QaTrainer : IDisposable
{
    private readonly ModelWeights _initial;
    private readonly QaTrainingSet _train;
    private readonly QaTrainingSet? _validation;
    private readonly QaTrainerOptions _options;
    private readonly List<string> _names;
    private readonly InferenceSession _step;
    private readonly InferenceSession _loss;
    private readonly InferenceSession _update;
    private readonly RunOptions _runOptions = new();
    private readonly bool _fromFrames;
    private readonly int _questionLength;
    private readonly int _answerLength;
    private readonly (long[] Ids, long[] Mask)[] _trainText;
    private readonly (long[] Ids, long[] Mask)[]? _validationText;
    private Dictionary<string, float[]> _param;
    private Dictionary<string, float[]> _m;
    private Dictionary<string, float[]> _v;

    public QaTrainer(ModelWeights initial, QaTrainingSet train, QaTrainingSet? validation, BlipTokenizer tokenizer, QaTrainerOptions options)
    {
        options.Validate();
        if (initial.Config.Qa is null)
        {
            throw new ArgumentException("The model has no QA heads: start them with QaHeads.Initialise first.", nameof(initial));
        }

        _initial = initial;
        _train = train;
        _validation = validation;
        _options = options;
        StepsPerEpoch = train.Examples.Count / options.Batch;
        if (StepsPerEpoch == 0)
        {
            throw new ArgumentException($"The QA training set has {train.Examples.Count} examples, fewer than --batch {options.Batch}: lower --batch or add data.");
        }

        _fromFrames = options.VideoParams is not null;
        if (_fromFrames && (train.ClipFrames is null || (validation is not null && validation.ClipFrames is null)))
        {
            throw new ArgumentException("Training the video side with the QA heads needs every clip's frames (QaTrainingSet.ClipFrames).", nameof(train));
        }

        var video = options.VideoParams is { } group ? ParameterGroups.Select(initial, group) : [];
        _names = [.. WeightSpec.For(initial.Config).Where(e => WeightSpec.IsQa(e.Name)).Select(e => e.Name), .. video];
        _questionLength = tokenizer.MaxLength;
        int longest = train.Examples.Concat(validation?.Examples ?? []).Max(e => tokenizer.EncodeRaw(e.Answer).Count);
        _answerLength = Math.Min(Math.Max(longest, 3), initial.Config.Qa.MaxAnswerLength + 1);
        _trainText = Tokenize(train, tokenizer);
        _validationText = validation is null ? null : Tokenize(validation, tokenizer);

        var sw = Stopwatch.StartNew();
        var builder = new LiteVLGraphBuilder(initial, new GraphBuildOptions(Precision.Fp32, AttentionKind.Plain, Trainable: _names.ToHashSet(StringComparer.Ordinal)));
        var lossGraph = builder.QaLoss(options.Batch, _questionLength, _answerLength, _fromFrames);
        var stepGraph = GraphDifferentiator.Differentiate(new GradientRequest(lossGraph, LiteVLGraphBuilder.QaLossIo.Loss, _names, InputShapes()));
        var updateGraph = TrainingGraphs.AdamWUpdate(_names.Select(n => (n, initial[n].Shape)).ToList(), ParameterGroups.IsTemporal, options.AdamW);
        var runtime = new RuntimeOptions { Device = options.Device, IntraOpThreads = options.Threads };
        using (var so = SessionFactory.CreateOptions(runtime, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, out var device))
        {
            Device = device;
            _step = new InferenceSession(stepGraph.ToByteArray(), so);
            _loss = new InferenceSession(lossGraph.ToByteArray(), so);
            _update = new InferenceSession(updateGraph.ToByteArray(), so);
        }

        GraphBuildSeconds = sw.Elapsed.TotalSeconds;
        _param = _names.ToDictionary(n => n, n => (float[])initial[n].Data.Clone(), StringComparer.Ordinal);
        _m = _names.ToDictionary(n => n, n => new float[initial[n].Data.Length], StringComparer.Ordinal);
        _v = _names.ToDictionary(n => n, n => new float[initial[n].Data.Length], StringComparer.Ordinal);
        TrainableParameters = _names.Sum(n => (long)initial[n].Data.Length);
    }

    public ExecutionDevice Device { get; }

    public double GraphBuildSeconds { get; }

    public int StepsPerEpoch { get; }

    public int TotalSteps => StepsPerEpoch * _options.Epochs;

    public long TrainableParameters { get; }

    /// <summary>Word pieces per answer in the training graph ([DEC] … [SEP], padded; longer answers are cut).</summary>
    public int AnswerLength => _answerLength;

    public event Action<QaStepReport>? StepCompleted;

    public event Action<QaEpochReport>? EpochCompleted;

    public QaTrainingOutcome Run(CancellationToken cancellationToken = default)
    {
        int step = 0;
        int b = _options.Batch;
        double bestLoss = double.PositiveInfinity;
        int keptEpoch = _options.Epochs;
        Dictionary<string, float[]>? best = null;
        var clock = Stopwatch.StartNew();
        for (int epoch = 1; epoch <= _options.Epochs; epoch++)
        {
            var order = Enumerable.Range(0, _train.Examples.Count).ToArray();
            new Random(HashCode.Combine(_options.Seed, epoch)).Shuffle(order);
            double sum = 0;
            for (int s = 0; s < StepsPerEpoch; s++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var batch = order.AsSpan(s * b, b).ToArray();
                var (loss, grads) = RunStep(batch);
                double lr = LearningRateAt(step);
                double norm = Update(grads, lr, lr * _options.TemporalLearningRate / _options.LearningRate, step + 1);
                step++;
                sum += loss;
                StepCompleted?.Invoke(new QaStepReport(step, TotalSteps, epoch, loss, lr, norm, step * b / clock.Elapsed.TotalSeconds));
            }

            double? validationLoss = _validation is null ? null : ValidationLoss();
            bool isBest = validationLoss is { } vl && vl < bestLoss;
            if (isBest)
            {
                bestLoss = validationLoss!.Value;
                keptEpoch = epoch;
                best = _param.ToDictionary(kv => kv.Key, kv => (float[])kv.Value.Clone(), StringComparer.Ordinal);
            }

            EpochCompleted?.Invoke(new QaEpochReport(epoch, sum / StepsPerEpoch, validationLoss, isBest));
        }

        var kept = best ?? _param;
        return new QaTrainingOutcome(WithParameters(kept), step, keptEpoch, best is null ? null : bestLoss);
    }

    /// <summary>The loss of one batch of training examples under the current weights (no update).</summary>
    public double Loss(IReadOnlyList<int> examples) => Forward(_train, _trainText, examples);

    public void Dispose()
    {
        _step.Dispose();
        _loss.Dispose();
        _update.Dispose();
        _runOptions.Dispose();
    }

    private double LearningRateAt(int step)
    {
        int total = TotalSteps;
        int warmup = (int)Math.Round(_options.WarmupFraction * total);
        if (step < warmup)
        {
            return _options.LearningRate * (step + 1) / warmup;
        }

        double progress = (double)(step - warmup) / Math.Max(1, total - warmup);
        return _options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>Mean loss over the validation set in whole batches (a last partial batch is topped up from its start).</summary>
    private double ValidationLoss()
    {
        var set = _validation!;
        int n = set.Examples.Count;
        int batches = (n + _options.Batch - 1) / _options.Batch;
        double sum = 0;
        for (int k = 0; k < batches; k++)
        {
            var rows = Enumerable.Range(k * _options.Batch, _options.Batch).Select(i => i % n).ToArray();
            sum += Forward(set, _validationText!, rows);
        }

        return sum / batches;
    }

    private double Forward(QaTrainingSet set, (long[] Ids, long[] Mask)[] text, IReadOnlyList<int> rows)
    {
        var inputs = Inputs(set, text, rows);
        try
        {
            foreach (string n in _names)
            {
                inputs.Add((n, OrtValue.CreateTensorValueFromMemory(_param[n], _initial[n].Shape)));
            }

            using var outputs = _loss.Run(_runOptions, inputs.Select(i => i.Name).ToArray(), inputs.Select(i => i.Value).ToArray(), [LiteVLGraphBuilder.QaLossIo.Loss]);
            return outputs[0].GetTensorDataAsSpan<float>()[0];
        }
        finally
        {
            inputs.ForEach(i => i.Value.Dispose());
        }
    }

    private (double Loss, Dictionary<string, float[]> Grads) RunStep(IReadOnlyList<int> rows)
    {
        var inputs = Inputs(_train, _trainText, rows);
        try
        {
            foreach (string n in _names)
            {
                inputs.Add((n, OrtValue.CreateTensorValueFromMemory(_param[n], _initial[n].Shape)));
            }

            string[] outputNames = [LiteVLGraphBuilder.QaLossIo.Loss, .. _names.Select(n => GraphDifferentiator.GradPrefix + n)];
            using var outputs = _step.Run(_runOptions, inputs.Select(i => i.Name).ToArray(), inputs.Select(i => i.Value).ToArray(), outputNames);
            float loss = outputs[0].GetTensorDataAsSpan<float>()[0];
            if (!float.IsFinite(loss))
            {
                throw new InvalidOperationException($"The QA loss became {loss}: lower --lr.");
            }

            var grads = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (int i = 0; i < _names.Count; i++)
            {
                grads[_names[i]] = outputs[i + 1].GetTensorDataAsSpan<float>().ToArray();
            }

            return (loss, grads);
        }
        finally
        {
            inputs.ForEach(i => i.Value.Dispose());
        }
    }

    private double Update(Dictionary<string, float[]> grads, double lr, double lrTemporal, int t)
    {
        var a = _options.AdamW;
        long[] scalar = [1];
        var inputs = new List<(string Name, OrtValue Value)>
        {
            (TrainingGraphs.UpdateIo.LearningRate, OrtValue.CreateTensorValueFromMemory(new[] { (float)lr }, scalar)),
            (TrainingGraphs.UpdateIo.LearningRateNew, OrtValue.CreateTensorValueFromMemory(new[] { (float)lrTemporal }, scalar)),
            (TrainingGraphs.UpdateIo.GradScale, OrtValue.CreateTensorValueFromMemory(new[] { (float)1.0 }, scalar)),
            (TrainingGraphs.UpdateIo.Bias1, OrtValue.CreateTensorValueFromMemory(new[] { (float)(1 - Math.Pow(a.Beta1, t)) }, scalar)),
            (TrainingGraphs.UpdateIo.Bias2, OrtValue.CreateTensorValueFromMemory(new[] { (float)(1 - Math.Pow(a.Beta2, t)) }, scalar)),
        };
        try
        {
            foreach (string n in _names)
            {
                var shape = _initial[n].Shape;
                inputs.Add((TrainingGraphs.ParamPrefix + n, OrtValue.CreateTensorValueFromMemory(_param[n], shape)));
                inputs.Add((TrainingGraphs.MomentPrefix + n, OrtValue.CreateTensorValueFromMemory(_m[n], shape)));
                inputs.Add((TrainingGraphs.VariancePrefix + n, OrtValue.CreateTensorValueFromMemory(_v[n], shape)));
                inputs.Add((GraphDifferentiator.GradPrefix + n, OrtValue.CreateTensorValueFromMemory(grads[n], shape)));
            }

            var outputNames = new List<string> { TrainingGraphs.GradNorm };
            foreach (string n in _names)
            {
                outputNames.Add(TrainingGraphs.NewPrefix + TrainingGraphs.ParamPrefix + n);
                outputNames.Add(TrainingGraphs.NewPrefix + TrainingGraphs.MomentPrefix + n);
                outputNames.Add(TrainingGraphs.NewPrefix + TrainingGraphs.VariancePrefix + n);
            }

            using var outputs = _update.Run(_runOptions, inputs.Select(i => i.Name).ToArray(), inputs.Select(i => i.Value).ToArray(), outputNames);
            var param = new Dictionary<string, float[]>(StringComparer.Ordinal);
            var m = new Dictionary<string, float[]>(StringComparer.Ordinal);
            var v = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (int i = 0; i < _names.Count; i++)
            {
                param[_names[i]] = outputs[1 + (3 * i)].GetTensorDataAsSpan<float>().ToArray();
                m[_names[i]] = outputs[2 + (3 * i)].GetTensorDataAsSpan<float>().ToArray();
                v[_names[i]] = outputs[3 + (3 * i)].GetTensorDataAsSpan<float>().ToArray();
            }

            (_param, _m, _v) = (param, m, v);
            return outputs[0].GetTensorDataAsSpan<float>()[0];
        }
        finally
        {
            inputs.ForEach(i => i.Value.Dispose());
        }
    }

    /// <summary>The loss graph's data inputs for <paramref name="rows"/> of <paramref name="set"/>.</summary>
    private List<(string Name, OrtValue Value)> Inputs(QaTrainingSet set, (long[] Ids, long[] Mask)[] text, IReadOnlyList<int> rows)
    {
        var c = _initial.Config;
        int b = rows.Count;
        int perClip = c.NumFrames * c.Vision.TokensPerFrame * c.Vision.HiddenSize;
        int frameBytes = c.NumFrames * c.Vision.ImageSize * c.Vision.ImageSize * 3;
        var tokens = new float[_fromFrames ? 0 : b * perClip];
        var frames = new byte[_fromFrames ? b * frameBytes : 0];
        var query = new float[b * c.EmbedDim];
        var qIds = new long[b * _questionLength];
        var qMask = new long[b * _questionLength];
        var aIds = new long[b * _answerLength];
        var aMask = new long[b * _answerLength];
        for (int r = 0; r < b; r++)
        {
            int e = rows[r];
            if (_fromFrames)
            {
                set.ClipFrames![set.Examples[e].Clip].CopyTo(frames, r * frameBytes);
            }
            else
            {
                set.ClipTokens[set.Examples[e].Clip].CopyTo(tokens, r * perClip);
            }

            set.QuestionEmbeddings.AsSpan(e * c.EmbedDim, c.EmbedDim).CopyTo(query.AsSpan(r * c.EmbedDim));
            text[e].Ids.AsSpan(0, _questionLength).CopyTo(qIds.AsSpan(r * _questionLength));
            text[e].Mask.AsSpan(0, _questionLength).CopyTo(qMask.AsSpan(r * _questionLength));
            text[e].Ids.AsSpan(_questionLength, _answerLength).CopyTo(aIds.AsSpan(r * _answerLength));
            text[e].Mask.AsSpan(_questionLength, _answerLength).CopyTo(aMask.AsSpan(r * _answerLength));
        }

        var video = _fromFrames
            ? (LiteVLGraphBuilder.QaLossIo.Frames, OrtValue.CreateTensorValueFromMemory(frames, [b, c.NumFrames, c.Vision.ImageSize, c.Vision.ImageSize, 3]))
            : (LiteVLGraphBuilder.QaLossIo.VideoTokens, OrtValue.CreateTensorValueFromMemory(tokens, [b, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize]));
        return
        [
            video,
            (LiteVLGraphBuilder.QaLossIo.TextEmbedding, OrtValue.CreateTensorValueFromMemory(query, [b, c.EmbedDim])),
            (LiteVLGraphBuilder.QaLossIo.QuestionIds, OrtValue.CreateTensorValueFromMemory(qIds, [b, _questionLength])),
            (LiteVLGraphBuilder.QaLossIo.QuestionMask, OrtValue.CreateTensorValueFromMemory(qMask, [b, _questionLength])),
            (LiteVLGraphBuilder.QaLossIo.AnswerIds, OrtValue.CreateTensorValueFromMemory(aIds, [b, _answerLength])),
            (LiteVLGraphBuilder.QaLossIo.AnswerMask, OrtValue.CreateTensorValueFromMemory(aMask, [b, _answerLength])),
        ];
    }

    /// <summary>
    /// Per example: question ids/mask ([ENC] first, padded to the tokenizer's length) then answer ids/mask ([DEC] … [SEP],
    /// padded or cut to <see cref="AnswerLength"/>, keeping [SEP] last), one row each.
    /// </summary>
    private (long[] Ids, long[] Mask)[] Tokenize(QaTrainingSet set, BlipTokenizer tokenizer)
    {
        var questions = tokenizer.Encode(set.Examples.Select(e => e.Question).ToList(), grounded: true);
        var rows = new (long[], long[])[set.Examples.Count];
        for (int e = 0; e < set.Examples.Count; e++)
        {
            var ids = new long[_questionLength + _answerLength];
            var mask = new long[_questionLength + _answerLength];
            questions.InputIds.AsSpan(e * _questionLength, _questionLength).CopyTo(ids);
            questions.AttentionMask.AsSpan(e * _questionLength, _questionLength).CopyTo(mask);
            var answer = tokenizer.EncodeRaw(set.Examples[e].Answer.Trim());
            int n = Math.Min(answer.Count, _answerLength);
            for (int i = 0; i < n; i++)
            {
                ids[_questionLength + i] = i == 0 ? BlipTokenizer.DecId : i == n - 1 ? BlipTokenizer.SepId : answer[i];
                mask[_questionLength + i] = 1;
            }

            rows[e] = (ids, mask);
        }

        return rows;
    }

    private Dictionary<string, long[]> InputShapes()
    {
        var c = _initial.Config;
        int b = _options.Batch;
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal)
        {
            [_fromFrames ? LiteVLGraphBuilder.QaLossIo.Frames : LiteVLGraphBuilder.QaLossIo.VideoTokens] = _fromFrames
                ? [b, c.NumFrames, c.Vision.ImageSize, c.Vision.ImageSize, 3]
                : [b, c.NumFrames, c.Vision.TokensPerFrame, c.Vision.HiddenSize],
            [LiteVLGraphBuilder.QaLossIo.TextEmbedding] = [b, c.EmbedDim],
            [LiteVLGraphBuilder.QaLossIo.QuestionIds] = [b, _questionLength],
            [LiteVLGraphBuilder.QaLossIo.QuestionMask] = [b, _questionLength],
            [LiteVLGraphBuilder.QaLossIo.AnswerIds] = [b, _answerLength],
            [LiteVLGraphBuilder.QaLossIo.AnswerMask] = [b, _answerLength],
        };
        foreach (string n in _names)
        {
            shapes[n] = _initial[n].Shape;
        }

        return shapes;
    }

    private ModelWeights WithParameters(Dictionary<string, float[]> values)
    {
        var tensors = _initial.Tensors.ToDictionary(kv => kv.Key, kv => values.TryGetValue(kv.Key, out var v) ? new Weight(v, kv.Value.Shape) : kv.Value, StringComparer.Ordinal);
        return new ModelWeights(_initial.Config, tensors);
    }
}
