using LiteVL.Model.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace LiteVL.Model.Runtime;

/// <summary>
/// What one input of a graph must look like; -1 dimensions are free but shared by name (batch, length). An
/// <paramref name="Optional"/> input may be left out (the graph has a default), and is ignored for graphs built before it existed.
/// </summary>
public sealed record InputSpec(string Name, TensorDType DType, long[] Shape, string[] DimNames, bool Optional = false);

/// <summary>
/// One ONNX Runtime session for one graph, created once and shared (Run is thread-safe). Inputs are checked against the
/// graph contract before they reach ONNX Runtime, so a wrong T, S, dtype or token id is a clear <see cref="ModelInputException"/>.
/// </summary>
public sealed class GraphSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly IReadOnlyList<InputSpec> _inputs;
    private readonly Func<IReadOnlyDictionary<string, HostTensor>, string?>? _extraCheck;

    internal GraphSession(string name, InferenceSession session, IReadOnlyList<InputSpec> inputs, Func<IReadOnlyDictionary<string, HostTensor>, string?>? extraCheck)
    {
        Name = name;
        _session = session;
        _inputs = [.. inputs.Where(i => !i.Optional || session.InputMetadata.ContainsKey(i.Name) || session.OverridableInitializerMetadata.ContainsKey(i.Name))];
        _extraCheck = extraCheck;
        OutputNames = session.OutputNames.ToArray();
    }

    public string Name { get; }

    public IReadOnlyList<InputSpec> Inputs => _inputs;

    /// <summary>Whether this graph takes the input (an optional one is absent from graphs built before it existed).</summary>
    public bool HasInput(string name) => _inputs.Any(i => i.Name == name);

    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>
    /// Runs the graph on named host tensors and returns <paramref name="outputs"/> (default: every output) as host tensors;
    /// an output not asked for is never copied out of ONNX Runtime.
    /// </summary>
    public IReadOnlyDictionary<string, HostTensor> Run(IReadOnlyDictionary<string, HostTensor> inputs, IReadOnlyList<string>? outputs = null)
    {
        Validate(inputs);
        var wanted = outputs ?? OutputNames;
        if (wanted.FirstOrDefault(o => !OutputNames.Contains(o)) is { } unknownOutput)
        {
            throw new ModelInputException($"{Name}: no output '{unknownOutput}'; it has {string.Join(", ", OutputNames)}.");
        }

        var values = new List<OrtValue>(_inputs.Count);
        var fed = _inputs.Where(i => inputs.ContainsKey(i.Name)).ToList();
        try
        {
            foreach (var spec in fed)
            {
                values.Add(ToOrtValue(inputs[spec.Name]));
            }

            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, fed.Select(i => i.Name).ToArray(), values, wanted.ToArray());
            var result = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
            for (int i = 0; i < wanted.Count; i++)
            {
                var info = results[i].GetTensorTypeAndShape();
                var bytes = results[i].GetTensorDataAsSpan<byte>().ToArray();
                result[wanted[i]] = new HostTensor(TensorDType.Float32, info.Shape, bytes);
            }

            return result;
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    /// <summary>Checks names, dtypes, ranks, fixed dimensions and shared dimensions; throws a message that says what to fix.</summary>
    public void Validate(IReadOnlyDictionary<string, HostTensor> inputs)
    {
        var unknown = inputs.Keys.Where(k => _inputs.All(i => i.Name != k)).ToList();
        if (unknown.Count > 0)
        {
            throw new ModelInputException($"{Name}: unknown input(s) {string.Join(", ", unknown)}; it takes {Describe()}.");
        }

        var dims = new Dictionary<string, (long Value, string From)>(StringComparer.Ordinal);
        foreach (var spec in _inputs)
        {
            if (!inputs.TryGetValue(spec.Name, out var t))
            {
                if (spec.Optional)
                {
                    continue;
                }

                throw new ModelInputException($"{Name}: missing input '{spec.Name}'; it takes {Describe()}.");
            }

            if (t.DType != spec.DType)
            {
                throw new ModelInputException($"{Name}: input '{spec.Name}' must be {spec.DType.ShortName()}, got {t.DType.ShortName()}.");
            }

            if (t.Rank != spec.Shape.Length)
            {
                throw new ModelInputException($"{Name}: input '{spec.Name}' must have shape {FormatSpec(spec)}, got {HostTensor.FormatShape(t.Shape)}.");
            }

            for (int d = 0; d < spec.Shape.Length; d++)
            {
                if (spec.Shape[d] >= 0 && t.Shape[d] != spec.Shape[d])
                {
                    throw new ModelInputException(
                        $"{Name}: input '{spec.Name}' must have shape {FormatSpec(spec)}, got {HostTensor.FormatShape(t.Shape)} (dimension {d}, {spec.DimNames[d]}, must be {spec.Shape[d]} for this model).");
                }

                if (spec.Shape[d] < 0)
                {
                    if (t.Shape[d] <= 0)
                    {
                        throw new ModelInputException($"{Name}: input '{spec.Name}' has an empty {spec.DimNames[d]} dimension.");
                    }

                    if (dims.TryGetValue(spec.DimNames[d], out var seen) && seen.Value != t.Shape[d])
                    {
                        throw new ModelInputException(
                            $"{Name}: '{spec.DimNames[d]}' is {seen.Value} in '{seen.From}' but {t.Shape[d]} in '{spec.Name}'; they must agree.");
                    }

                    dims[spec.DimNames[d]] = (t.Shape[d], spec.Name);
                }
            }
        }

        string? extra = _extraCheck?.Invoke(inputs);
        if (extra is not null)
        {
            throw new ModelInputException($"{Name}: {extra}");
        }
    }

    public void Dispose() => _session.Dispose();

    private string Describe() => string.Join(", ", _inputs.Select(i => $"'{i.Name}' {i.DType.ShortName()} {FormatSpec(i)}"));

    private static string FormatSpec(InputSpec spec) =>
        "[" + string.Join(", ", spec.Shape.Select((s, i) => s >= 0 ? $"{spec.DimNames[i]}={s}" : spec.DimNames[i])) + "]";

    private static OrtValue ToOrtValue(HostTensor t) => t.DType switch
    {
        TensorDType.Float32 => OrtValue.CreateTensorValueFromMemory(t.AsSpan<float>().ToArray(), t.Shape),
        TensorDType.Int64 => OrtValue.CreateTensorValueFromMemory(t.AsSpan<long>().ToArray(), t.Shape),
        TensorDType.UInt8 => OrtValue.CreateTensorValueFromMemory(t.Data, t.Shape),
        _ => throw new ModelInputException($"Unsupported input dtype {t.DType.ShortName()}."),
    };
}

/// <summary>An input that does not fit the graph contract; the message says what was expected.</summary>
public sealed class ModelInputException : Exception
{
    public ModelInputException(string message)
        : base(message)
    {
    }
}
