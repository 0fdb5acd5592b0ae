using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using LiteVL.Model.Graphs;
using LiteVL.Model.IO;
using LiteVL.Model.Runtime;
using LiteVL.Model.Tensors;
using LiteVL.Model.Text;
using LiteVL.Model.Training.Autodiff;
using LiteVL.Model.Weights;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Io = LiteVL.Model.Graphs.LiteVLGraphBuilder.LossIo;

namespace LiteVL.Model.Training;

/// <summary>The shape of a run: how many examples, micro-batches and optimiser steps, and what is trained.</summary>
public sealed record TrainingPlan(
    int Examples, int Videos, int MicroBatchesPerEpoch, int StepsPerEpoch, int TotalSteps, int Epochs,
    int TrainableTensors, long TrainableParameters, long TotalParameters)
{
    public double TrainableShare => (double)TrainableParameters / TotalParameters;
}

/// <summary>What one optimiser step did (the line written to <c>train-log.jsonl</c>).</summary>
public sealed record StepReport(
    int Step, int TotalSteps, int Epoch, double Loss, double LossItc, double LossItm, double LearningRate,
    double TemporalLearningRate, double GradNorm, double Temperature, double ExamplesPerSecond, double Seconds);

/// <summary>Validation retrieval scores in percent; <see cref="Protocol"/> names how they were measured.</summary>
/// <param name="Twin">Share (percent) of validation captions whose clip scores above its "twin" clip (a tie counts half),
/// when the set names twins: for time-reversed twins, what order-invariant pooling cannot lift above 50.</param>
/// <param name="TwinPairs">Captions that entered <paramref name="Twin"/>.</param>
public sealed record ValidationScores(double R1, double R5, double R10, string Protocol, double? Twin = null, int TwinPairs = 0)
{
    public double Sum => R1 + R5 + R10;
}

public sealed record EpochReport(int Epoch, ValidationScores? Validation, bool IsBest);

/// <summary>Where the time of the last optimiser step went: reading and tokenizing the batches, the training graph runs, the update graph run.</summary>
public sealed record StepTiming(double DataSeconds, double TrainingGraphSeconds, double UpdateSeconds)
{
    /// <summary>Forward + backward + update: the graph runs, without the data.</summary>
    public double ComputeSeconds => TrainingGraphSeconds + UpdateSeconds;
}

/// <summary>One run of the forward-only loss graph (<see cref="RetrievalTrainer.ForwardOnly"/>).</summary>
public sealed record ForwardReport(double Loss, double Seconds);

/// <summary>How a run ended.</summary>
public sealed record TrainingOutcome(bool Completed, int Steps, ModelWeights Weights, int? BestEpoch, ValidationScores? BestValidation, double FinalTemperature);

/// <summary>
/// Fine-tunes LiteVL for text-to-video retrieval on ONNX Runtime: each micro-batch is one run of the differentiated
/// loss graph (forward, backward and gradient accumulation in one graph), each optimiser step one run of the AdamW
/// graph. Parameters, moments and gradients are float32 master copies that stay on the device the sessions run on
/// (<see cref="DeviceTensors"/>: host memory on CPU, GPU memory with CUDA), bound to both graphs with IOBinding and
/// swapped between two buffer sets each run, so a step moves only the batch in and four scalars out.
/// </summary>
public sealed class RetrievalTrainer : IDisposable
{
    public const string CheckpointDirectory = "checkpoint";
    public const string LogFileName = "train-log.jsonl";
    private const string StateFile = "state.safetensors";
    private const string StateJson = "state.json";
    private const string BestFile = "best.safetensors";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private readonly ModelWeights _initial;
    private readonly TrainingSet _data;
    private readonly TrainerOptions _options;
    private readonly BlipTokenizer _tokenizer;
    private readonly string _outDir;
    private readonly ILogger _logger;
    private readonly List<string> _names;
    private readonly Dictionary<string, long[]> _shapes;
    private readonly InferenceSession _train;
    private readonly InferenceSession _update;
    private readonly DeviceTensors _device;
    private readonly RunOptions _runOptions = new();
    private readonly RuntimeOptions _runtime;
    private InferenceSession? _forward;
    private MicroBatch? _spareBatch;
    private readonly string _fingerprint;
    private readonly int _frameBytes;

    // Device tensors, two sets each: index [_cur] holds the current values, the other receives the next ones.
    private readonly Dictionary<string, OrtValue>[] _param = new Dictionary<string, OrtValue>[2];
    private readonly Dictionary<string, OrtValue>[] _m = new Dictionary<string, OrtValue>[2];
    private readonly Dictionary<string, OrtValue>[] _v = new Dictionary<string, OrtValue>[2];
    private readonly Dictionary<string, OrtValue>[] _grad = new Dictionary<string, OrtValue>[2];

    // The accumulation input of a step's first micro-batch (all zeros; on the device, so no per-step clearing copy).
    private readonly Dictionary<string, OrtValue> _zeroGrad;
    private int _cur;
    private int _gradCur;
    private Dictionary<string, float[]>? _best;
    private double _bestScore = double.NegativeInfinity;
    private int? _bestEpoch;
    private ValidationScores? _bestValidation;
    private int[]? _order;
    private int _orderEpoch = -1;

    public RetrievalTrainer(ModelWeights initial, TrainingSet data, BlipTokenizer tokenizer, TrainerOptions options, string outDir, ILogger? logger = null)
    {
        options.Validate();
        if (tokenizer.MaxLength != BlipTokenizer.DefaultMaxLength)
        {
            throw new ArgumentException($"Training graphs take {BlipTokenizer.DefaultMaxLength} tokens per caption; the tokenizer pads to {tokenizer.MaxLength}.", nameof(tokenizer));
        }

        _initial = initial;
        _data = data;
        _options = options;
        _tokenizer = tokenizer;
        _outDir = outDir;
        _logger = logger ?? NullLogger.Instance;
        var c = initial.Config;
        _frameBytes = c.NumFrames * c.Vision.ImageSize * c.Vision.ImageSize * 3;

        int micro = data.Examples.Count / options.Batch;
        int stepsPerEpoch = micro / options.Accumulate;
        if (stepsPerEpoch == 0)
        {
            throw new ArgumentException(
                $"The training set has {data.Examples.Count} usable examples, fewer than --batch {options.Batch} × accumulation {options.Accumulate}: lower --batch or add data.");
        }

        if (data.DistinctVideos < 2)
        {
            throw new ArgumentException("The training set needs captions of at least 2 different videos (contrastive training compares videos).");
        }

        var trainable = ParameterGroups.Select(initial, options.Params, options.FixedScaling);
        _names = [.. trainable, TrainingGraphs.Temperature];
        _shapes = _names.ToDictionary(n => n, n => n == TrainingGraphs.Temperature ? [1L] : initial[n].Shape, StringComparer.Ordinal);
        long trainableCount = trainable.Sum(n => initial[n].Count);
        Plan = new TrainingPlan(data.Examples.Count, data.DistinctVideos, micro, stepsPerEpoch, stepsPerEpoch * options.Epochs, options.Epochs,
            trainable.Count, trainableCount, initial.ParameterCount);

        var sw = Stopwatch.StartNew();
        var trainGraph = TrainingGraphs.Training(initial, trainable, options.Batch);
        var updateGraph = TrainingGraphs.AdamWUpdate(_names.Select(n => (n, _shapes[n])).ToList(), n => ParameterGroups.IsTemporal(n), options.AdamW, options.TextLearningRateScale, options.MinTemperature);
        _runtime = new RuntimeOptions { Device = options.Device, IntraOpThreads = options.Threads };
        using (var so = SessionFactory.CreateOptions(_runtime, _logger, out var device))
        {
            Device = device;
            _train = new InferenceSession(trainGraph.ToByteArray(), so);
            _update = new InferenceSession(updateGraph.ToByteArray(), so);
            _device = new DeviceTensors(so, device, _runtime.DeviceId);
        }

        GraphBuildSeconds = sw.Elapsed.TotalSeconds;
        TrainingGraphNodes = trainGraph.Graph.Node.Count;

        for (int k = 0; k < 2; k++)
        {
            _param[k] = Allocate();
            _m[k] = Allocate();
            _v[k] = Allocate();
            _grad[k] = Allocate();
        }

        _zeroGrad = Allocate();
        foreach (string n in _names)
        {
            var zeros = new float[HostTensor.ElementCountOf(_shapes[n])];
            _device.Upload(zeros, _shapes[n], _m[0][n]);
            _device.Upload(zeros, _shapes[n], _v[0][n]);
            _device.Upload(zeros, _shapes[n], _zeroGrad[n]);
            float[] value = n == TrainingGraphs.Temperature ? [InitialTemperature(options, c)] : initial[n].Data;
            _device.Upload(value, _shapes[n], _param[0][n]);
        }

        _fingerprint = Fingerprint();
    }

    public TrainingPlan Plan { get; }

    public ExecutionDevice Device { get; }

    public double GraphBuildSeconds { get; }

    public int TrainingGraphNodes { get; }

    /// <summary>The timing of the last <see cref="TrainStep"/> (null before the first).</summary>
    public StepTiming? LastStepTiming { get; private set; }

    /// <summary>Optimiser steps completed.</summary>
    public int Step { get; private set; }

    public event Action<StepReport>? StepCompleted;

    public event Action<EpochReport>? EpochCompleted;

    /// <summary>Scores a model on the validation set at the end of each epoch (the CLI's R@1/5/10); null: no validation.</summary>
    public Func<ModelWeights, int, ValidationScores>? Validate { get; init; }

    public string CheckpointPath => Path.Combine(_outDir, CheckpointDirectory);

    public string LogPath => Path.Combine(_outDir, LogFileName);

    /// <summary>The model with the current parameters (untrained weights as they were).</summary>
    public ModelWeights CurrentWeights() => WithParameters(ToHost(_param[_cur]));

    /// <summary>Loads <c>--out/checkpoint</c> when it exists; false when there is none. Throws when it belongs to another run.</summary>
    public bool TryResume()
    {
        string json = Path.Combine(CheckpointPath, StateJson);
        if (!File.Exists(json))
        {
            return false;
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        string fingerprint = root.GetProperty("fingerprint").GetString() ?? string.Empty;
        if (fingerprint != _fingerprint)
        {
            throw new InvalidOperationException(
                $"The checkpoint in {CheckpointPath} belongs to a run with other data, model or options ({root.GetProperty("summary").GetString()}); run with the same arguments, or without --resume into a new --out.");
        }

        using (var state = SafeTensorsFile.Open(Path.Combine(CheckpointPath, StateFile)))
        {
            foreach (string n in _names)
            {
                _device.Upload(state.ReadFloat32(TrainingGraphs.ParamPrefix + n), _shapes[n], _param[_cur][n]);
                _device.Upload(state.ReadFloat32(TrainingGraphs.MomentPrefix + n), _shapes[n], _m[_cur][n]);
                _device.Upload(state.ReadFloat32(TrainingGraphs.VariancePrefix + n), _shapes[n], _v[_cur][n]);
            }
        }

        Step = root.GetProperty("step").GetInt32();
        if (root.TryGetProperty("best_epoch", out var be) && be.ValueKind == JsonValueKind.Number)
        {
            _bestEpoch = be.GetInt32();
            _bestScore = root.GetProperty("best_score").GetDouble();
            var v = root.GetProperty("best_validation");
            _bestValidation = new ValidationScores(v.GetProperty("r1").GetDouble(), v.GetProperty("r5").GetDouble(), v.GetProperty("r10").GetDouble(), v.GetProperty("protocol").GetString() ?? string.Empty);
            using var best = SafeTensorsFile.Open(Path.Combine(CheckpointPath, BestFile));
            _best = _names.ToDictionary(n => n, n => best.ReadFloat32(n), StringComparer.Ordinal);
        }

        TruncateLog(Step);
        return true;
    }

    /// <summary>Trains until every step is done or <paramref name="cancellationToken"/> fires; either way the checkpoint is current.</summary>
    public TrainingOutcome Run(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_outDir);
        if (Step == 0)
        {
            File.WriteAllText(LogPath, string.Empty);
        }

        using var log = new StreamWriter(LogPath, append: true) { AutoFlush = true };
        var batch = new MicroBatch(_options.Batch, _frameBytes);
        var scalars = new float[3];
        while (Step < Plan.TotalSteps)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                SaveCheckpoint();
                return Outcome(completed: false);
            }

            var report = TrainStep(batch, scalars);
            log.WriteLine(JsonSerializer.Serialize(new
            {
                step = report.Step,
                epoch = report.Epoch,
                loss = report.Loss,
                loss_itc = report.LossItc,
                loss_itm = report.LossItm,
                lr = report.LearningRate,
                lr_temporal = report.TemporalLearningRate,
                grad_norm = report.GradNorm,
                temp = report.Temperature,
                examples_per_s = report.ExamplesPerSecond,
                seconds = report.Seconds,
            }));
            StepCompleted?.Invoke(report);

            int stepInEpoch = (Step - 1) % Plan.StepsPerEpoch;
            if (stepInEpoch == Plan.StepsPerEpoch - 1)
            {
                EndEpoch(((Step - 1) / Plan.StepsPerEpoch) + 1);
            }
        }

        SaveCheckpoint();
        return Outcome(completed: true);
    }

    /// <summary>
    /// One optimiser step outside <see cref="Run"/> (no log line, event or checkpoint): what <c>litevl bench train</c>
    /// times. <see cref="LastStepTiming"/> says where its time went.
    /// </summary>
    public StepReport TrainStep() => TrainStep(_spareBatch ??= new MicroBatch(_options.Batch, _frameBytes), new float[3]);

    /// <summary>
    /// The forward-only loss of the next step's first micro-batch: the same loss graph the training graph
    /// differentiates, run without differentiation (built on first use). Changes no state; the time is the graph run only.
    /// </summary>
    public ForwardReport ForwardOnly()
    {
        if (_forward is null)
        {
            var trainable = _names.Where(n => n != TrainingGraphs.Temperature).ToList();
            var loss = TrainingGraphs.Loss(_initial, trainable, _options.Batch);
            using var so = SessionFactory.CreateOptions(_runtime, _logger, out _);
            _forward = new InferenceSession(loss.ToByteArray(), so);
        }

        var batch = _spareBatch ??= new MicroBatch(_options.Batch, _frameBytes);

        int epoch = Step / Plan.StepsPerEpoch;
        int micro = (Step % Plan.StepsPerEpoch) * _options.Accumulate;
        FillBatch(batch, EpochOrder(epoch).AsSpan(micro * _options.Batch, _options.Batch), epoch, (epoch * Plan.MicroBatchesPerEpoch) + micro);
        var value = new float[1];
        var host = BatchInputs(batch);
        try
        {
            using var binding = _forward.CreateIoBinding();
            foreach (var (name, v) in host)
            {
                binding.BindInput(name, v);
            }

            foreach (string n in _names)
            {
                binding.BindInput(n, _param[_cur][n]);
            }

            var output = OrtValue.CreateTensorValueFromMemory(value, []);
            host.Add((Io.Loss, output));
            binding.BindOutput(Io.Loss, output);
            var watch = Stopwatch.StartNew();
            _forward.RunWithBinding(_runOptions, binding);
            binding.SynchronizeBoundOutputs();
            return new ForwardReport(value[0], watch.Elapsed.TotalSeconds);
        }
        finally
        {
            foreach (var (_, v) in host)
            {
                v.Dispose();
            }
        }
    }

    public void Dispose()
    {
        _device.Dispose();
        _runOptions.Dispose();
        _train.Dispose();
        _update.Dispose();
        _forward?.Dispose();
    }

    private StepReport TrainStep(MicroBatch batch, float[] scalars)
    {
        var started = Stopwatch.StartNew();
        int epoch = Step / Plan.StepsPerEpoch;
        int stepInEpoch = Step % Plan.StepsPerEpoch;
        var order = EpochOrder(epoch);
        double lr = _options.LearningRateAt(Step, Plan.TotalSteps, _options.LearningRate);
        double lrNew = _options.LearningRateAt(Step, Plan.TotalSteps, _options.EffectiveTemporalLearningRate);

        double loss = 0, itc = 0, itm = 0;
        double data = 0, graph = 0;
        for (int a = 0; a < _options.Accumulate; a++)
        {
            int micro = (stepInEpoch * _options.Accumulate) + a;
            var phase = Stopwatch.StartNew();
            FillBatch(batch, order.AsSpan(micro * _options.Batch, _options.Batch), epoch, (epoch * Plan.MicroBatchesPerEpoch) + micro);
            data += phase.Elapsed.TotalSeconds;
            phase.Restart();
            RunTrainingGraph(batch, scalars, firstOfStep: a == 0);
            graph += phase.Elapsed.TotalSeconds;
            loss += scalars[0];
            itc += scalars[1];
            itm += scalars[2];
        }

        var update = Stopwatch.StartNew();
        double gradNorm = RunUpdate(lr, lrNew);
        LastStepTiming = new StepTiming(data, graph, update.Elapsed.TotalSeconds);
        Step++;
        double seconds = started.Elapsed.TotalSeconds;
        int n = _options.Accumulate;
        return new StepReport(Step, Plan.TotalSteps, epoch + 1, loss / n, itc / n, itm / n, lr, lrNew, gradNorm,
            Temperature(), _options.Batch * n / seconds, seconds);
    }

    private void EndEpoch(int epoch)
    {
        ValidationScores? scores = null;
        bool isBest = false;
        if (Validate is not null)
        {
            scores = Validate(CurrentWeights(), epoch);
            if (scores.Sum > _bestScore)
            {
                _bestScore = scores.Sum;
                _bestEpoch = epoch;
                _bestValidation = scores;
                _best = ToHost(_param[_cur]);
                isBest = true;
            }
        }

        SaveCheckpoint();
        EpochCompleted?.Invoke(new EpochReport(epoch, scores, isBest));
    }

    private TrainingOutcome Outcome(bool completed)
    {
        var chosen = _best ?? ToHost(_param[_cur]);
        return new TrainingOutcome(completed, Step, WithParameters(chosen), _bestEpoch, _bestValidation, chosen[TrainingGraphs.Temperature][0]);
    }

    private ModelWeights WithParameters(Dictionary<string, float[]> values)
    {
        var tensors = _initial.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        foreach (string n in _names.Where(n => n != TrainingGraphs.Temperature))
        {
            tensors[n] = new Weight((float[])values[n].Clone(), _initial[n].Shape);
        }

        return new ModelWeights(_initial.Config, tensors);
    }

    /// <summary>
    /// The example order of an epoch: a seeded shuffle, then any micro-batch whose examples all show one video gets
    /// an example that is a negative for its first one swapped in (contrastive losses need a negative in every batch).
    /// </summary>
    internal int[] EpochOrder(int epoch)
    {
        if (_orderEpoch == epoch && _order is not null)
        {
            return _order;
        }

        var order = Enumerable.Range(0, _data.Examples.Count).ToArray();
        new Random(Mix(_options.Seed, epoch, 0x5EED)).Shuffle(order);
        order = WithTwinsAdjacent(order);
        int b = _options.Batch;
        for (int start = 0; start + b <= Plan.MicroBatchesPerEpoch * b; start += b)
        {
            int first = order[start];
            if (order.AsSpan(start, b).ToArray().All(i => _data.Positive(first, i)))
            {
                int other = Array.FindIndex(order, i => !_data.Positive(first, i));
                if (other >= 0)
                {
                    (order[start + b - 1], order[other]) = (order[other], order[start + b - 1]);
                }
            }
        }

        _orderEpoch = epoch;
        _order = order;
        return order;
    }

    /// <summary>
    /// Keeps the shuffled order but moves an example of each clip's twin (<see cref="TrainingClip.Twin"/>) right after
    /// it, so that with an even batch size the two share a micro-batch. Sets without twins are left as shuffled.
    /// </summary>
    private int[] WithTwinsAdjacent(int[] order)
    {
        if (_data.Clips.All(c => c.Twin is null))
        {
            return order;
        }

        var waiting = new Dictionary<int, Queue<int>>();                  // clip → its examples not yet placed, in shuffled order
        foreach (int e in order)
        {
            int clip = _data.Examples[e].Clip;
            if (!waiting.TryGetValue(clip, out var q))
            {
                waiting[clip] = q = new Queue<int>();
            }

            q.Enqueue(e);
        }

        var placed = new bool[_data.Examples.Count];
        var result = new List<int>(order.Length);
        foreach (int e in order)
        {
            if (placed[e])
            {
                continue;
            }

            // Every queue holds exactly its clip's unplaced examples in shuffled order, so e is at the head of its own.
            placed[e] = true;
            result.Add(e);
            int clip = _data.Examples[e].Clip;
            waiting[clip].Dequeue();
            if (_data.Clips[clip].Twin is int twin && waiting.TryGetValue(twin, out var partners) && partners.TryDequeue(out int p))
            {
                placed[p] = true;
                result.Add(p);
            }
        }

        return [.. result];
    }

    private void FillBatch(MicroBatch batch, ReadOnlySpan<int> examples, int epoch, int microIndex)
    {
        int b = _options.Batch;
        var captions = new string[b];
        for (int i = 0; i < b; i++)
        {
            var ex = _data.Examples[examples[i]];
            var clip = _data.Clips[ex.Clip];
            captions[i] = ex.Caption;

            // One segment of the video per epoch (a random temporal crop, as ingestion cuts long videos into segments).
            int segment = clip.SegmentFrameFiles.Count == 1 ? 0 : new Random(Mix(_options.Seed, epoch, examples[i])).Next(clip.SegmentFrameFiles.Count);
            string file = clip.SegmentFrameFiles[segment];
            using var stream = File.OpenRead(file);
            if (stream.Length != _frameBytes)
            {
                throw new InvalidDataException($"Frame file {file} has {stream.Length} bytes; T×S×S×3 = {_frameBytes} were expected.");
            }

            stream.ReadExactly(batch.Frames, i * _frameBytes, _frameBytes);
        }

        var text = _tokenizer.Encode(captions);
        var grounded = _tokenizer.Encode(captions, grounded: true);
        text.InputIds.CopyTo(batch.Ids, 0);
        text.AttentionMask.CopyTo(batch.Mask, 0);
        grounded.InputIds.CopyTo(batch.ItmIds, 0);
        for (int i = 0; i < b; i++)
        {
            int positives = 0;
            for (int j = 0; j < b; j++)
            {
                positives += _data.Positive(examples[i], examples[j]) ? 1 : 0;
            }

            for (int j = 0; j < b; j++)
            {
                bool same = _data.Positive(examples[i], examples[j]);
                batch.Targets[(i * b) + j] = same ? 1f / positives : 0f;
                batch.NegativeMask[(i * b) + j] = same ? 0f : 1f;
            }
        }

        var rng = new Random(Mix(_options.Seed, microIndex, 0x4E47));
        for (int i = 0; i < batch.Uniforms.Length; i++)
        {
            batch.Uniforms[i] = (float)((rng.Next(1 << 23) + 0.5) / (1 << 23));   // in (0, 1), exact in float32
        }
    }

    private void RunTrainingGraph(MicroBatch batch, float[] scalars, bool firstOfStep)
    {
        var loss = new float[1];
        var itc = new float[1];
        var itm = new float[1];
        var host = new List<OrtValue>();
        OrtValue Host<T>(T[] data, long[] shape)
            where T : unmanaged
        {
            var value = OrtValue.CreateTensorValueFromMemory(data, shape);
            host.Add(value);
            return value;
        }

        // The first micro-batch of a step accumulates onto zeros; later ones onto the previous micro-batch's sum.
        var gradIn = firstOfStep ? _zeroGrad : _grad[_gradCur];
        int outSlot = firstOfStep ? _gradCur : 1 - _gradCur;
        try
        {
            using var binding = _train.CreateIoBinding();
            foreach (var (name, value) in BatchInputs(batch))
            {
                host.Add(value);
                binding.BindInput(name, value);
            }

            foreach (string n in _names)
            {
                binding.BindInput(n, _param[_cur][n]);
                binding.BindInput(GraphDifferentiator.GradInPrefix + n, gradIn[n]);
                binding.BindOutput(GraphDifferentiator.GradPrefix + n, _grad[outSlot][n]);
            }

            binding.BindOutput(Io.Loss, Host(loss, []));
            binding.BindOutput(Io.LossItc, Host(itc, []));
            binding.BindOutput(Io.LossItm, Host(itm, []));
            _train.RunWithBinding(_runOptions, binding);
            binding.SynchronizeBoundOutputs();
            _gradCur = outSlot;
        }
        finally
        {
            foreach (var v in host)
            {
                v.Dispose();
            }
        }

        if (!float.IsFinite(loss[0]))
        {
            throw new InvalidOperationException($"The loss became {loss[0]} at step {Step + 1}: lower --lr (the weights of the last checkpoint are intact).");
        }

        scalars[0] = loss[0];
        scalars[1] = itc[0];
        scalars[2] = itm[0];
    }

    /// <summary>The micro-batch's inputs of the loss graph (the parameters are added by the caller).</summary>
    private List<(string Name, OrtValue Value)> BatchInputs(MicroBatch batch)
    {
        var c = _initial.Config;
        long b = _options.Batch, l = BlipTokenizer.DefaultMaxLength;
        return
        [
            (Io.Frames, OrtValue.CreateTensorValueFromMemory(batch.Frames, [b, c.NumFrames, c.Vision.ImageSize, c.Vision.ImageSize, 3])),
            (Io.InputIds, OrtValue.CreateTensorValueFromMemory(batch.Ids, [b, l])),
            (Io.AttentionMask, OrtValue.CreateTensorValueFromMemory(batch.Mask, [b, l])),
            (Io.ItmInputIds, OrtValue.CreateTensorValueFromMemory(batch.ItmIds, [b, l])),
            (Io.ItcTargets, OrtValue.CreateTensorValueFromMemory(batch.Targets, [b, b])),
            (Io.NegativeMask, OrtValue.CreateTensorValueFromMemory(batch.NegativeMask, [b, b])),
            (Io.NegativeUniforms, OrtValue.CreateTensorValueFromMemory(batch.Uniforms, [2, b])),
        ];
    }

    private double RunUpdate(double lr, double lrNew)
    {
        int t = Step + 1;
        var b = _options.AdamW;
        var scalarValues = new Dictionary<string, float>(StringComparer.Ordinal)
        {
            [TrainingGraphs.UpdateIo.LearningRate] = (float)lr,
            [TrainingGraphs.UpdateIo.LearningRateNew] = (float)lrNew,
            [TrainingGraphs.UpdateIo.GradScale] = 1f / _options.Accumulate,
            [TrainingGraphs.UpdateIo.Bias1] = (float)(1 - Math.Pow(b.Beta1, t)),
            [TrainingGraphs.UpdateIo.Bias2] = (float)(1 - Math.Pow(b.Beta2, t)),
        };
        var norm = new float[1];
        var host = new List<OrtValue>();
        int next = 1 - _cur;
        try
        {
            using var binding = _update.CreateIoBinding();
            foreach (var (name, value) in scalarValues)
            {
                var v = OrtValue.CreateTensorValueFromMemory(new[] { value }, [1]);
                host.Add(v);
                binding.BindInput(name, v);
            }

            foreach (string n in _names)
            {
                binding.BindInput(TrainingGraphs.ParamPrefix + n, _param[_cur][n]);
                binding.BindInput(TrainingGraphs.MomentPrefix + n, _m[_cur][n]);
                binding.BindInput(TrainingGraphs.VariancePrefix + n, _v[_cur][n]);
                binding.BindInput(GraphDifferentiator.GradPrefix + n, _grad[_gradCur][n]);
                binding.BindOutput(TrainingGraphs.NewPrefix + TrainingGraphs.ParamPrefix + n, _param[next][n]);
                binding.BindOutput(TrainingGraphs.NewPrefix + TrainingGraphs.MomentPrefix + n, _m[next][n]);
                binding.BindOutput(TrainingGraphs.NewPrefix + TrainingGraphs.VariancePrefix + n, _v[next][n]);
            }

            var normValue = OrtValue.CreateTensorValueFromMemory(norm, [1]);
            host.Add(normValue);
            binding.BindOutput(TrainingGraphs.GradNorm, normValue);
            _update.RunWithBinding(_runOptions, binding);
            binding.SynchronizeBoundOutputs();
            _cur = next;
        }
        finally
        {
            foreach (var v in host)
            {
                v.Dispose();
            }
        }

        return norm[0];
    }

    /// <summary>Where the temperature starts: the option, else the model's own, else BLIP's 0.07; clamped to [<see cref="TrainerOptions.MinTemperature"/>, BLIP's 0.5].</summary>
    public static float InitialTemperature(TrainerOptions options, Config.ModelConfig config) =>
        (float)Math.Clamp(options.InitialTemperature ?? config.ItcTemperature ?? Config.ModelConfig.DefaultItcTemperature, options.MinTemperature, Config.ModelConfig.MaxItcTemperature);

    /// <summary>The current temperature (one float from the device).</summary>
    private float Temperature() => _device.Download(_param[_cur][TrainingGraphs.Temperature], [1])[0];

    /// <summary>Host copies of one buffer set.</summary>
    private Dictionary<string, float[]> ToHost(Dictionary<string, OrtValue> values) =>
        _names.ToDictionary(n => n, n => _device.Download(values[n], _shapes[n]), StringComparer.Ordinal);

    private void SaveCheckpoint()
    {
        string final = CheckpointPath;
        string temp = final + ".writing";
        if (Directory.Exists(temp))
        {
            Directory.Delete(temp, recursive: true);
        }

        Directory.CreateDirectory(temp);
        var items = _names.SelectMany(n => new[]
        {
            new KeyValuePair<string, HostTensor>(TrainingGraphs.ParamPrefix + n, HostTensor.FromFloats(_device.Download(_param[_cur][n], _shapes[n]), _shapes[n])),
            new KeyValuePair<string, HostTensor>(TrainingGraphs.MomentPrefix + n, HostTensor.FromFloats(_device.Download(_m[_cur][n], _shapes[n]), _shapes[n])),
            new KeyValuePair<string, HostTensor>(TrainingGraphs.VariancePrefix + n, HostTensor.FromFloats(_device.Download(_v[_cur][n], _shapes[n]), _shapes[n])),
        });
        SafeTensorsWriter.Write(Path.Combine(temp, StateFile), items, null);
        if (_best is not null)
        {
            SafeTensorsWriter.Write(Path.Combine(temp, BestFile), _names.Select(n => new KeyValuePair<string, HostTensor>(n, HostTensor.FromFloats(_best[n], _shapes[n]))), null);
        }

        var state = new Dictionary<string, object?>
        {
            ["step"] = Step,
            ["total_steps"] = Plan.TotalSteps,
            ["fingerprint"] = _fingerprint,
            ["summary"] = Summary(),
            ["best_epoch"] = _bestEpoch,
            ["best_score"] = _bestEpoch is null ? null : _bestScore,
            ["best_validation"] = _bestValidation is null ? null : new { r1 = _bestValidation.R1, r5 = _bestValidation.R5, r10 = _bestValidation.R10, protocol = _bestValidation.Protocol },
        };
        File.WriteAllText(Path.Combine(temp, StateJson), JsonSerializer.Serialize(state, Indented));
        string old = final + ".old";
        if (Directory.Exists(old))
        {
            Directory.Delete(old, recursive: true);
        }

        if (Directory.Exists(final))
        {
            Directory.Move(final, old);
        }

        Directory.Move(temp, final);
        if (Directory.Exists(old))
        {
            Directory.Delete(old, recursive: true);
        }
    }

    private void TruncateLog(int step)
    {
        if (!File.Exists(LogPath))
        {
            return;
        }

        var kept = File.ReadLines(LogPath).Where(line =>
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                return false;
            }

            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.GetProperty("step").GetInt32() <= step;
        }).ToList();
        File.WriteAllLines(LogPath, kept);
    }

    private string Summary() =>
        $"model {_initial.Config.Version}, {Plan.Examples} examples, --params {_options.Params.ToString().ToLowerInvariant()}, --epochs {_options.Epochs}, --batch {_options.Batch}, --lr {_options.LearningRate}, --seed {_options.Seed}";

    /// <summary>A hash of everything that decides the run (not the device or thread count), to refuse a foreign checkpoint.</summary>
    private string Fingerprint()
    {
        var sb = new StringBuilder();
        sb.Append(_initial.Config.Version).Append('|');
        sb.Append(JsonSerializer.Serialize(_options with { Device = ExecutionDevice.Cpu, Threads = 0 })).Append('|');
        foreach (var ex in _data.Examples)
        {
            sb.Append(ex.Line).Append(':').Append(_data.Clips[ex.Clip].Name).Append(':').Append(ex.Caption).Append('\n');
        }

        foreach (string n in _names.Where(n => n != TrainingGraphs.Temperature))
        {
            sb.Append(n).Append(Convert.ToHexString(SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_initial[n].Data.AsSpan())))[..16]);
        }

        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private Dictionary<string, OrtValue> Allocate() =>
        _names.ToDictionary(n => n, n => _device.Allocate(_shapes[n]), StringComparer.Ordinal);

    /// <summary>A deterministic seed from several integers (System.Random(int) is stable across runs and platforms).</summary>
    private static int Mix(int a, int b, int c)
    {
        unchecked
        {
            uint h = 2166136261;
            foreach (int v in new[] { a, b, c })
            {
                h = (h ^ (uint)v) * 16777619;
                h ^= h >> 15;
                h *= 2246822519;
            }

            return (int)(h & 0x7FFFFFFF);
        }
    }

    /// <summary>The reusable host buffers of one micro-batch.</summary>
    private sealed class MicroBatch(int batch, int frameBytes)
    {
        public byte[] Frames { get; } = new byte[batch * frameBytes];

        public long[] Ids { get; } = new long[batch * BlipTokenizer.DefaultMaxLength];

        public long[] Mask { get; } = new long[batch * BlipTokenizer.DefaultMaxLength];

        public long[] ItmIds { get; } = new long[batch * BlipTokenizer.DefaultMaxLength];

        public float[] Targets { get; } = new float[batch * batch];

        public float[] NegativeMask { get; } = new float[batch * batch];

        public float[] Uniforms { get; } = new float[2 * batch];
    }
}
